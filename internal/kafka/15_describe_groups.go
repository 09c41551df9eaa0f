package kafka

// DescribeGroups: v0-5
//
// Served by the group coordinator, for groups of the connection's namespace.

func init() { register(15, 0, 5) }
