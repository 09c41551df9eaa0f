package geodr

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// AliasStatus is an alias as one region sees it: its durable configuration and what this
// region knows right now of its peer and of replication.
type AliasStatus struct {
	Namespace string
	Region    string
	Config    meta.AliasConfig
	// ActiveRegion and ActiveNamespace say where alias clients go, as this side knows.
	ActiveRegion    string
	ActiveNamespace string
	// Pending is the number of the primary's changes the secondary has not applied; Lag how
	// long ago the secondary was last known to have them all (0 when it has).
	Pending          int
	Lag              time.Duration
	PartnerReachable bool
	LastContact      time.Time
	LastError        string
}

// Describe returns the status of local namespace ns's alias.
func (m *Manager) Describe(ns, alias string) (AliasStatus, error) {
	cfg, err := m.aliasOf(ns, alias)
	if err != nil {
		return AliasStatus{}, err
	}
	return m.describe(ns, cfg), nil
}

// List returns the aliases of local namespace ns (zero or one: a namespace is in at most one).
func (m *Manager) List(ns string) ([]AliasStatus, error) {
	if _, err := m.b.Namespace(ns); err != nil {
		return nil, err
	}
	cfg, ok := m.b.Alias(ns)
	if !ok {
		return []AliasStatus{}, nil
	}
	return []AliasStatus{m.describe(ns, cfg)}, nil
}

func (m *Manager) describe(ns string, cfg meta.AliasConfig) AliasStatus {
	st := AliasStatus{Namespace: ns, Region: m.b.Region(), Config: cfg}
	if cfg.Active() {
		st.ActiveRegion, st.ActiveNamespace = m.b.Region(), ns
	} else if p := cfg.ActivePeer(); p != nil {
		st.ActiveRegion, st.ActiveNamespace = p.Region, p.Namespace
	}
	l := m.link(ns)
	m.mu.Lock()
	lk := *l
	m.mu.Unlock()
	st.PartnerReachable, st.LastContact, st.LastError = lk.reachable, lk.contact, lk.lastErr
	now := m.now()
	switch {
	case !cfg.Paired():
	case cfg.Role == meta.RoleSecondary:
		st.Pending = lk.pending
		if !lk.caughtUpAt.IsZero() && (lk.pending > 0 || !lk.reachable) {
			st.Lag = now.Sub(lk.caughtUpAt)
		} else if lk.caughtUpAt.IsZero() {
			st.Lag = now.Sub(cfg.UpdatedAt)
		}
	case cfg.Role == meta.RolePrimary:
		if lk.acked && lk.parked == 0 {
			st.Pending = m.countReplicable(ns, lk.ack)
		}
		if st.Pending > 0 && !lk.caughtUpAt.IsZero() {
			st.Lag = now.Sub(lk.caughtUpAt)
		}
	}
	st.Lag = max(st.Lag, 0)
	return st
}

// PublicStatus is what the region-to-region API tells anyone about alias: whether it is
// active here, where it is active as far as this region knows, and its epoch.
func (m *Manager) PublicStatus(alias string) (PublicStatus, error) {
	_, cfg, ok := m.b.AliasHolder(alias)
	if !ok {
		return PublicStatus{}, errcode.New(errcode.NotFound, "no namespace holds alias %q in region %s", alias, m.b.Region())
	}
	st := PublicStatus{Alias: cfg.Name, Region: m.b.Region(), Active: cfg.Active(), Epoch: cfg.Epoch}
	if st.Active {
		st.ActiveRegion = m.b.Region()
	} else if p := cfg.ActivePeer(); p != nil {
		st.ActiveRegion = p.Region
	}
	return st, nil
}

// status is local namespace ns's side of its alias as its partner sees it.
func (m *Manager) status(ns string, cfg meta.AliasConfig) Status {
	st := Status{Alias: cfg.Name, Namespace: ns, Region: m.b.Region(), Role: cfg.Role, Epoch: cfg.Epoch,
		Active: cfg.Active(), Lost: cfg.Lost, Self: m.self(ns)}
	if cfg.Paired() {
		st.Partner = &PeerRef{Region: cfg.Partner.Region, Namespace: cfg.Partner.Namespace}
	}
	return st
}

type metrics struct {
	applied *prometheus.CounterVec
}

var (
	pendingDesc = prometheus.NewDesc("tandem_geodr_pending_replication_operations",
		"Metadata changes of the primary not yet applied on the secondary, by local namespace.", []string{"namespace", "alias", "role"}, nil)
	lagDesc = prometheus.NewDesc("tandem_geodr_replication_lag_seconds",
		"How long ago the secondary was last known to have every change of the primary (0 when it has).", []string{"namespace", "alias", "role"}, nil)
	reachableDesc = prometheus.NewDesc("tandem_geodr_partner_reachable",
		"1 when the alias's partner region answered the last exchange.", []string{"namespace", "alias"}, nil)
)

func newMetrics(reg prometheus.Registerer, m *Manager) *metrics {
	met := &metrics{applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_geodr_replicated_changes_total",
		Help: "Metadata changes of the primary applied on this secondary namespace."}, []string{"namespace"})}
	if reg != nil {
		reg.MustRegister(met.applied, collector{m})
	}
	return met
}

type collector struct{ m *Manager }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- lagDesc
	ch <- reachableDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for ns, cfg := range c.m.b.Aliases() {
		st := c.m.describe(ns, cfg)
		role := string(cfg.Role)
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(st.Pending), ns, cfg.Name, role)
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, st.Lag.Seconds(), ns, cfg.Name, role)
		r := 0.0
		if st.PartnerReachable {
			r = 1
		}
		ch <- prometheus.MustNewConstMetric(reachableDesc, prometheus.GaugeValue, r, ns, cfg.Name)
	}
}
