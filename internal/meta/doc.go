// Package meta owns Tandem's metadata: namespaces, their shared access policies and network
// rules, event hubs, consumer groups, committed consumer offsets (checkpoints) and event
// processors' partition ownership (ownership.go).
//
// Metadata is event-sourced. Every change is a Command appended to a durable metadata log and
// applied to State, a pure state machine (no clock, no I/O, no randomness: timestamps and
// generated keys travel inside the commands). Each applied command has a monotonically
// increasing index, so the same log can be shipped to a geo-DR secondary (lag = entries after
// the secondary's index) and replicated by raft later.
//
// Files: state.go (the model and read accessors), validate.go (name and range rules),
// command.go (the commands and their versioned JSON form), apply.go, apply_namespace.go and
// apply_hub.go (Check and Apply per command), placement.go (the cluster member list, hub
// incarnations and partition placement, computed at apply with internal/cluster's pure Place
// and GroupID; cluster must never import meta), snapshot.go, logfile.go (the framed log segments),
// store.go (Store, the runner: one writer goroutine with group commit, Wait for followers) and
// recover.go (Open's recovery, snapshots with log rolling and compaction, ReadFrom).
//
// In a cluster the metadata is replicated by one raft group (replication.md §3.2): RaftStore
// has Store's API (Backend, in backend.go) but proposes each command batch as an entry of the
// metadata group through a multiraft host, and applies committed entries on every replica
// (raftstore.go: the API; raftapply.go: the host's StateMachine, checkpoints; raftrecover.go:
// OpenRaft; raftentry.go: the entry encoding). Raft makes a command durable; RaftStore keeps
// the applied commands in Store's log format without fsync, plus checkpoints (state and raft
// index) from which a restart resumes while the host replays the raft log after them.
//
// Validation has two layers. Each command's check holds every log entry to what keeps the
// state consistent; State.Check and Store.Propose also apply the rules for new names (admit in
// validate.go: Event Hubs' start/end rule, names unique ignoring case), which entries already
// in a log, and changes replicated from a geo-DR primary, are not held to. So a log written
// under older rules always replays. Names are looked up exactly.
//
// It must not touch event data (partition logs belong to internal/log and internal/broker), the
// network or credentials checks (internal/auth verifies tokens; meta only stores keys).
package meta
