// Package multiraft hosts many etcd raft groups in one process: each group is
// a raft.RawNode (never raft.Node), and a small fixed set of goroutines drives
// all of them, as CockroachDB's raft scheduler does (replication.md §3.2).
//
// The goroutines of a Host are:
//
//   - one ticker that marks every group as having a tick to take;
//   - Workers raft workers that take groups with work off a ready queue (a
//     group is processed by at most one worker at a time), step their
//     incoming messages and ticks, and hand the Ready's messages on;
//   - one storage writer that gathers the MsgStorageAppend messages of ALL
//     groups into one LogStore.Save (group commit) and delivers their
//     responses only after Save returned;
//   - Workers apply workers that feed committed entries to each group's
//     StateMachine in order and deliver MsgStorageApply responses after Apply.
//
// Groups run with AsyncStorageWrites, PreVote, CheckQuorum and ReadOnlySafe.
// Propose returns once the entry is committed and applied locally; on a
// follower it fails fast with a *NotLeaderError naming the leader (partition
// groups use it: Kafka clients redirect on NOT_LEADER). ProposeForward also
// works on a follower: raft forwards the entry to the leader and the
// follower's waiter ends when it applies the entry itself (or, outcome
// unknown, when it sees a new term or leader, or on ctx). ReadIndex is a
// linearizable read barrier on any node (raft's ReadIndex, then the local
// apply). Every waiter is matched to its entry by a proposal id that is
// unique across hosts and restarts (a random base per Host) and by the
// entry's bytes.
//
// The package owns the raft scheduling, the proposal waiters and the
// "confirmed term" flag (a leader has applied an entry of its own term). It
// does not own durable storage (LogStore, satisfied by internal/raftwal), the
// network (Transport, satisfied by internal/raftnet) or the replicated state
// (StateMachine, owned by the application); it must not import them.
//
// The deterministic simulation in sim_test.go drives hosts without their
// goroutines (the same step functions the goroutines call) over a simulated
// network with a virtual clock, crashes and seeds.
package multiraft
