package kafka

// Heartbeat: v0-4
//
// Served by the group coordinator; REBALANCE_IN_PROGRESS tells a member to rejoin. Only the principal a
// member joined under may heartbeat for it (UNKNOWN_MEMBER_ID for any other).

func init() { register(12, 0, 4) }
