package kafka

// LeaveGroup: v0-5
//
// Served by the group coordinator; a leave starts a rebalance of the remaining members. Only the
// principal a member joined under may make it leave (UNKNOWN_MEMBER_ID for any other).

func init() { register(13, 0, 5) }
