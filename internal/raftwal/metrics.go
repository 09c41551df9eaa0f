package raftwal

import "github.com/prometheus/client_golang/prometheus"

// metrics are the WAL's Prometheus series (tandem_raft_wal_*).
type metrics struct {
	fsyncSeconds prometheus.Histogram
	flushBytes   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		fsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_raft_wal_fsync_seconds",
			Help:    "Duration of the fsync of one group-commit flush of the raft WAL (every group's writes since the previous flush).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		flushBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_raft_wal_flush_bytes",
			Help:    "Bytes written by one group-commit flush of the raft WAL.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 10)}),
	}
	if reg != nil {
		reg.MustRegister(m.fsyncSeconds, m.flushBytes)
	}
	return m
}
