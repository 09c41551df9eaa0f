package kafka

// LeaveGroup: v0-5
//
// Served by the group coordinator; a leave starts a rebalance of the remaining members.

func init() { register(13, 0, 5) }
