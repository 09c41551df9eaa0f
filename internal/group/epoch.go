package group

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Coordinator epochs. In a region cluster one node coordinates every group: the confirmed
// metadata leader. Its groups live in memory only, so when the coordinator moves they are
// dropped, as Kafka drops a partition's groups when another broker becomes its coordinator:
// waiting JoinGroup and SyncGroup answers get NOT_COORDINATOR, the clients find the new
// coordinator and join there again. Committed offsets are in the replicated metadata and are
// not touched.
//
// An epoch identifies one spell of coordination (the metadata leader's raft term); 0 means
// this node does not coordinate. A call made with WithEpoch(ctx, e) first drops every group
// held under another epoch; the fence (SetFence) is polled on every tick, so groups are also
// dropped when leadership is lost while no request arrives. Calls without an epoch (a single
// node) are never fenced.

type epochKey struct{}

// WithEpoch returns a context whose Manager calls act under coordinator epoch e (e > 0).
func WithEpoch(ctx context.Context, e uint64) context.Context {
	return context.WithValue(ctx, epochKey{}, e)
}

func epochFrom(ctx context.Context) (uint64, bool) {
	e, ok := ctx.Value(epochKey{}).(uint64)
	return e, ok
}

// SetFence gives the Manager the function that reports the current coordinator epoch (0:
// this node does not coordinate now); the first call wins. It is called on the Manager's
// goroutine at every tick and must not block.
func (m *Manager) SetFence(f func() uint64) {
	if m.fence.Load() == nil {
		m.fence.CompareAndSwap(nil, &f)
	}
}

// adoptEpoch makes e the epoch of the groups held, dropping every group of another epoch
// (their waiting members get NOT_COORDINATOR). It runs on the Manager's goroutine.
func (m *Manager) adoptEpoch(c *Coordinator, e uint64) {
	if e == m.epoch {
		return
	}
	c.Shutdown(kerr.NotCoordinator.Code)
	m.epoch = e
}

// checkFence drops the groups when the fence reports another epoch than theirs.
func (m *Manager) checkFence(c *Coordinator) {
	if f := m.fence.Load(); f != nil {
		m.adoptEpoch(c, (*f)())
	}
}
