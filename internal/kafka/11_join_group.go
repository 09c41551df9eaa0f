package kafka

// JoinGroup: v0-9
//
// Served by the group coordinator (internal/group): a rebalance barrier that answers every member once all known members have rejoined or the rebalance timeout passed. Groups are scoped to the connection's namespace.

func init() { register(11, 0, 9) }
