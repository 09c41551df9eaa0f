package geodr

import (
	"context"
	"time"
)

// In a cluster, geo-DR's own work (the peer checks that fence a former primary, and the
// replication runner of every local secondary) runs on one node of the region: the confirmed
// metadata leader (broker.IsMetadataLeader). Every node serves the region-to-region API, from
// its own applied metadata after a read barrier (handler.go, synced). A watcher notices a change of leadership within leaderCheckEvery:
// losing it cancels the leadership's context, which stops the runners and any check in
// flight; gaining it wakes the supervisor, which checks the peers and starts the runners. On a
// single node this node leads for the manager's whole life.

// leaderCheckEvery is how often a cluster node checks whether it still leads the metadata.
const leaderCheckEvery = 200 * time.Millisecond

// term is one stretch of metadata leadership on this node.
type term struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// watchLeadership follows this node's metadata leadership until the manager closes.
func (m *Manager) watchLeadership() {
	defer m.wg.Done()
	t := time.NewTicker(leaderCheckEvery)
	defer t.Stop()
	for {
		m.setLeader(m.b.IsMetadataLeader())
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setLeader records whether this node leads. A new term starts every secondary from a snapshot
// sync: what this node knew of their progress may predate another node's term.
func (m *Manager) setLeader(leads bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case leads && m.lead == nil:
		ctx, cancel := context.WithCancel(m.ctx)
		m.lead = &term{ctx: ctx, cancel: cancel}
		for _, l := range m.links {
			l.needSync = true
		}
		if _, clustered := m.b.ClusterNodeID(); clustered {
			m.log.Info("this node leads the region's metadata: it runs geo-DR replication and peer checks")
		}
		m.poke()
	case !leads && m.lead != nil:
		m.lead.cancel()
		m.lead = nil
		m.log.Info("this node no longer leads the region's metadata: its geo-DR runners stop")
	}
}

// leaderCtx returns the context of the current term, nil when this node does not lead.
func (m *Manager) leaderCtx() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lead == nil {
		return nil
	}
	return m.lead.ctx
}

// Leads reports whether this node runs the region's geo-DR work (it leads the metadata).
func (m *Manager) Leads() bool { return m.leaderCtx() != nil }
