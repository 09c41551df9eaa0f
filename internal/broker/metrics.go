package broker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the broker's Prometheus series. Label values are namespace and hub names.
type metrics struct {
	inEvents, inBytes   *prometheus.CounterVec
	outEvents, outBytes *prometheus.CounterVec
	errors              *prometheus.CounterVec
	refusedWrites       *prometheus.CounterVec
	leaderTransfers     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, b *Broker) *metrics {
	hubLabels := []string{"namespace", "eventhub"}
	m := &metrics{
		inEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_incoming_events_total",
			Help: "Events appended to an event hub."}, hubLabels),
		inBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_incoming_bytes_total",
			Help: "Record-batch bytes appended to an event hub."}, hubLabels),
		outEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_outgoing_events_total",
			Help: "Events served to consumers of an event hub (whole batches)."}, hubLabels),
		outBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_outgoing_bytes_total",
			Help: "Record-batch bytes served to consumers of an event hub."}, hubLabels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_request_errors_total",
			Help: "Requests refused or failed, by protocol and error code."}, []string{"protocol", "code"}),
		refusedWrites: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_geodr_secondary_refused_writes_total",
			Help: "Writes (events or metadata changes) refused because the namespace is a paired geo-DR secondary."}, []string{"namespace"}),
		leaderTransfers: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_cluster_leader_transfers_total",
			Help: "Partition leaderships this node handed back to their preferred leader (leader balancing)."}),
	}
	if reg != nil {
		reg.MustRegister(m.inEvents, m.inBytes, m.outEvents, m.outBytes, m.errors, m.refusedWrites, m.leaderTransfers,
			&sizeCollector{b: b}, &aliasCollector{b: b}, &clusterCollector{b: b})
	}
	return m
}

// forgetHub removes the series of a deleted event hub, so the scrape does not grow with hub
// churn. A hub re-created under the same name starts its counters from zero.
func (m *metrics) forgetHub(ns, hub string) {
	l := prometheus.Labels{"namespace": ns, "eventhub": hub}
	for _, v := range []*prometheus.CounterVec{m.inEvents, m.inBytes, m.outEvents, m.outBytes} {
		v.DeletePartialMatch(l)
	}
}

// forgetNamespace removes every series of a deleted namespace.
func (m *metrics) forgetNamespace(ns string) {
	l := prometheus.Labels{"namespace": ns}
	for _, v := range []*prometheus.CounterVec{m.inEvents, m.inBytes, m.outEvents, m.outBytes, m.refusedWrites} {
		v.DeletePartialMatch(l)
	}
}

// RequestError counts a failed request by protocol ("kafka", "http") and error code.
func (b *Broker) RequestError(protocol, code string) {
	b.metrics.errors.WithLabelValues(protocol, code).Inc()
}

var logSizeDesc = prometheus.NewDesc("tandem_log_size_bytes", "Bytes on disk of an event hub's partition logs.",
	[]string{"namespace", "eventhub"}, nil)

// sizeCollector reports log sizes at scrape time from the open partitions.
type sizeCollector struct{ b *Broker }

func (c *sizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- logSizeDesc }

func (c *sizeCollector) Collect(ch chan<- prometheus.Metric) {
	sizes := map[[2]string]int64{}
	for _, p := range c.b.openPartitions() {
		sizes[[2]string{p.Namespace, p.Hub}] += p.Size()
	}
	for k, v := range sizes {
		ch <- prometheus.MustNewConstMetric(logSizeDesc, prometheus.GaugeValue, float64(v), k[0], k[1])
	}
}

var (
	aliasEpochDesc = prometheus.NewDesc("tandem_geodr_alias_epoch", "Epoch of a namespace's geo-DR alias (failover increments it).",
		[]string{"namespace", "alias"}, nil)
	aliasRoleDesc = prometheus.NewDesc("tandem_geodr_alias_role",
		"1 for the role a namespace holds in its geo-DR alias (Primary, PrimaryNotReplicating, Secondary; Lost for a former primary fenced by a failover).",
		[]string{"namespace", "alias", "role"}, nil)
)

// aliasCollector reports each alias's role and epoch at scrape time from the hub index.
type aliasCollector struct{ b *Broker }

func (c *aliasCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- aliasEpochDesc
	ch <- aliasRoleDesc
}

func (c *aliasCollector) Collect(ch chan<- prometheus.Metric) {
	idx := c.b.hubs.Load()
	if idx == nil {
		return
	}
	for _, a := range idx.aliases {
		role := string(a.cfg.Role)
		if a.cfg.Lost {
			role = "Lost"
		}
		ch <- prometheus.MustNewConstMetric(aliasEpochDesc, prometheus.GaugeValue, float64(a.cfg.Epoch), a.ns, a.cfg.Name)
		ch <- prometheus.MustNewConstMetric(aliasRoleDesc, prometheus.GaugeValue, 1, a.ns, a.cfg.Name, role)
	}
}
