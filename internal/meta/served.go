package meta

import (
	"context"
	"sync"
	"sync/atomic"
)

// served is the read side that Store and RaftStore share: the applied state under a lock, its
// metadata index, and the channel that wakes Wait after every commit. Each store's writer is
// the only one that changes state and index, and it calls broadcast after each batch.
type served struct {
	closing chan struct{} // closed when the store closes

	mu    sync.RWMutex // guards state; written only by the store's writer
	state *State
	index atomic.Uint64 // metadata index of the last applied command

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after every committed batch
}

func newServed() served {
	return served{closing: make(chan struct{}), notify: make(chan struct{})}
}

// View calls fn with the state under a read lock. fn must not keep the pointer or modify it.
// On a RaftStore follower the state may lag the leader's.
func (s *served) View(fn func(s *State)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.state)
}

// Index returns the metadata index of the last applied command.
func (s *served) Index() uint64 { return s.index.Load() }

// Snapshot returns a snapshot of the current state, for bootstrapping a geo-DR follower.
func (s *served) Snapshot() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state.MarshalSnapshot()
}

// Wait blocks until Index reaches index, ctx ends or the store closes. A follower long-polls
// with Wait(ctx, last+1) and then ReadFrom(last, …).
func (s *served) Wait(ctx context.Context, index uint64) error {
	for {
		s.notifyMu.Lock()
		ch := s.notify
		s.notifyMu.Unlock()
		if s.index.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return ErrClosed
		}
	}
}

// broadcast wakes every Wait.
func (s *served) broadcast() {
	s.notifyMu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyMu.Unlock()
}
