package kafka

// ListGroups: v0-4
//
// Served by the group coordinator, for groups of the connection's namespace, listing only
// the groups whose every topic the principal may read (none without Listen).

func init() { register(16, 0, 4) }
