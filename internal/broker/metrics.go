package broker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the broker's Prometheus series. Label values are namespace and hub names.
type metrics struct {
	inEvents, inBytes   *prometheus.CounterVec
	outEvents, outBytes *prometheus.CounterVec
	errors              *prometheus.CounterVec
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
	}
	if reg != nil {
		reg.MustRegister(m.inEvents, m.inBytes, m.outEvents, m.outBytes, m.errors, &sizeCollector{b: b})
	}
	return m
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
