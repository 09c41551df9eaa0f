package meta

import "context"

// Barrier returns at once: a single node's Store applies every command before acknowledging it,
// so its state already holds every acknowledged change. It lets a caller use Store and RaftStore
// alike (RaftStore.Barrier is the cluster's linearizable read barrier); ErrClosed after Close.
func (s *Store) Barrier(ctx context.Context) error {
	select {
	case <-s.closing:
		return ErrClosed
	default:
		return ctx.Err()
	}
}

// barrierer is what a read that must see every acknowledged change needs; both stores satisfy it.
type barrierer interface {
	Barrier(ctx context.Context) error
}

var (
	_ barrierer = (*Store)(nil)
	_ barrierer = (*RaftStore)(nil)
)

// ProposeOnLeader is Propose: a single node always leads.
func (s *Store) ProposeOnLeader(ctx context.Context, c Command) (uint64, error) {
	return s.Propose(ctx, c)
}
