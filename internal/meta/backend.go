package meta

import "context"

// Backend is the metadata store as the broker and geo-DR use it. Store keeps the metadata on one
// node; RaftStore replicates it through the cluster's metadata raft group (replication.md §3.2).
// Both assign dense indexes to applied commands, so a geo-DR follower's cursor means the same
// thing on either.
type Backend interface {
	// Propose applies a new command and returns its index.
	Propose(ctx context.Context, c Command) (uint64, error)
	// ProposeView is Propose that also calls view with the state right after c applied,
	// before any later command: how a caller answers with what its own write left.
	ProposeView(ctx context.Context, c Command, view func(*State)) (uint64, error)
	// ProposeOnLeader is Propose that, in a cluster, proposes only on the leader and is never
	// forwarded (RaftStore.ProposeOnLeader); on a single node it is Propose.
	ProposeOnLeader(ctx context.Context, c Command) (uint64, error)
	// ProposeBatch applies new commands in order, stopping at the first that does not apply.
	ProposeBatch(ctx context.Context, cmds []Command) error
	// Apply appends entries produced elsewhere with their given indexes.
	Apply(ctx context.Context, entries []Entry) error
	// View calls fn with the state under a read lock.
	View(fn func(s *State))
	// Index returns the index of the last applied command.
	Index() uint64
	// ReadFrom returns up to max applied entries after index after.
	ReadFrom(after uint64, max int) ([]Entry, error)
	// Wait blocks until Index reaches index, ctx ends or the store closes.
	Wait(ctx context.Context, index uint64) error
	// Barrier returns once this node's state holds every command acknowledged anywhere before
	// the call (a linearizable read follows); immediate on a single node.
	Barrier(ctx context.Context) error
	// Snapshot returns the encoded state (MarshalSnapshot).
	Snapshot() ([]byte, error)
	Close() error
}

var (
	_ Backend = (*Store)(nil)
	_ Backend = (*RaftStore)(nil)
)
