package kafka

// SyncGroup: v0-5
//
// Served by the group coordinator: the leader's assignment is handed to every member.

func init() { register(14, 0, 5) }
