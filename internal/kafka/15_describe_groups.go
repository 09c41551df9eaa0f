package kafka

// DescribeGroups: v0-5
//
// Served by the group coordinator, for groups of the connection's namespace. A group whose
// topics the principal may not all read is described as unknown (Dead); a principal without
// Listen gets GROUP_AUTHORIZATION_FAILED.

func init() { register(15, 0, 5) }
