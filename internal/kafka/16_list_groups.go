package kafka

// ListGroups: v0-4
//
// Served by the group coordinator, for groups of the connection's namespace.

func init() { register(16, 0, 4) }
