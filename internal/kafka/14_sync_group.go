package kafka

// SyncGroup: v0-5
//
// Served by the group coordinator: the leader's assignment is handed to every member. Only the principal a
// member joined under may sync for it; an assignment over --max-join-metadata-bytes per
// member answers POLICY_VIOLATION.

func init() { register(14, 0, 5) }
