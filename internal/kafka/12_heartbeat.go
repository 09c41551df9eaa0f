package kafka

// Heartbeat: v0-4
//
// Served by the group coordinator; REBALANCE_IN_PROGRESS tells a member to rejoin.

func init() { register(12, 0, 4) }
