package geodr

import "context"

// LinkCount is the number of namespaces the manager keeps runtime link state for.
func (m *Manager) LinkCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.links)
}

// CheckPeersNow runs one round of peer checks, as the periodic loop does.
func (m *Manager) CheckPeersNow(ctx context.Context) { m.checkPeers(ctx) }

// LostTo exposes the fencing decision for table tests.
var LostTo = lostTo
