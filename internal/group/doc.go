// Package group is Tandem's classic Kafka consumer-group coordinator: JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, DescribeGroups and ListGroups, with rebalances, session timeouts and
// rebalance timeouts, following Kafka's GroupCoordinator (states Empty, PreparingRebalance,
// CompletingRebalance, Stable, Dead).
//
// It has two layers:
//
//   - Coordinator, a pure state machine: no goroutines, no clock, no I/O. Time is an argument of
//     every call, and Tick(now) expires sessions and rebalance timeouts. JoinGroup and SyncGroup
//     answers wait for a barrier (every member rejoined, the leader's assignment arrived), so the
//     Coordinator takes a reply callback and either calls it at once or keeps it until the
//     barrier completes (or a timeout, or Shutdown). Callbacks run synchronously inside the call
//     that completes them and must not call back into the Coordinator.
//   - Manager, the runner: one goroutine that owns a Coordinator, serialises the Kafka
//     handlers' calls into it and ticks it with a real (injectable) clock.
//
// Groups are keyed by (namespace, group id): Tandem is multi-tenant and groups of different
// namespaces never see each other.
//
// The package owns group membership only. It does not store committed offsets (the broker keeps
// them in the metadata log); it only validates an OffsetCommit's member and generation
// (ValidateCommit). It does not authenticate, and does not decide which node coordinates which
// group (FindCoordinator is the broker's job). It does apply the caller's authorization, given
// per request as a Client (WithClient): a member is acted on only by the principal it joined
// under, and a group is joined and seen only by clients that may read every topic its members
// subscribe to (access.go). It bounds what members hold: members per group, metadata and
// assignment per member, and bytes per namespace (Config).
//
// Not implemented, on purpose for now:
//   - Static membership (KIP-345, group.instance.id): an instance id is recorded and reported by
//     DescribeGroups, and LeaveGroup v3+ can name a member by instance id, but members with an
//     instance id are treated as dynamic members: no fencing (FENCED_INSTANCE_ID), no
//     rebalance-free rejoin after a restart.
//   - The initial rebalance delay (group.initial.rebalance.delay.ms): the first rebalance of an
//     empty group completes as soon as every known member has joined.
//   - KIP-848 (the "consumer" group protocol, ConsumerGroupHeartbeat).
package group
