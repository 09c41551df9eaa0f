package kafka

// JoinGroup: v0-9
//
// Served by the group coordinator (internal/group): a rebalance barrier that answers every member once all known members have rejoined or the rebalance timeout passed. Groups are scoped to the connection's namespace.
//
// Needs Listen on every topic of the member's subscription (decoded from the consumer
// protocol metadata; any other protocol type needs namespace-wide Listen) and of the
// subscriptions of the group's members: GROUP_AUTHORIZATION_FAILED otherwise. Metadata over
// --max-join-metadata-bytes, or a namespace over its group memory budget, answers
// POLICY_VIOLATION; a group at --max-group-members GROUP_MAX_SIZE_REACHED.

func init() { register(11, 0, 9) }
