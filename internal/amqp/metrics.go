package amqp

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics count connections, refusals, close reasons and frames, so an operator sees a flood
// of connections even when the log lines about it are rate-limited.
type metrics struct {
	open       prometheus.Gauge
	refused    *prometheus.CounterVec // reason: max_connections, max_connections_per_ip, max_unauthenticated
	closed     *prometheus.CounterVec // reason: see closeKind
	acceptErrs prometheus.Counter
	framesIn   prometheus.Counter
	framesOut  prometheus.Counter
	memUsed    prometheus.Gauge
	memLimit   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tandem_amqp_connections",
			Help: "Open AMQP connections."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_amqp_connections_refused_total",
			Help: "AMQP connections closed at accept because a connection cap was reached."}, []string{"reason"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_amqp_connections_closed_total",
			Help: "AMQP connections closed, by reason."}, []string{"reason"}),
		acceptErrs: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_amqp_accept_errors_total",
			Help: "Failed accepts on the AMQP listeners (for example EMFILE); each is retried after a back-off."}),
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_amqp_frames_received_total",
			Help: "AMQP frames received (heartbeats included)."}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_amqp_frames_sent_total",
			Help: "AMQP frames sent (heartbeats included)."}),
		memUsed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tandem_amqp_memory_in_use_bytes",
			Help: "Transfer payload bytes held by AMQP connections (reassembling, queued or being handled)."}),
		memLimit: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tandem_amqp_memory_budget_bytes",
			Help: "The AMQP memory budget."}),
	}
	if reg != nil {
		reg.MustRegister(m.open, m.refused, m.closed, m.acceptErrs, m.framesIn, m.framesOut, m.memUsed, m.memLimit)
	}
	return m
}

// logGate lets at most burst lines through per interval and counts the rest, so a client
// that fails on purpose cannot flood the log; the next line let through carries the count
// of lines dropped before it.
type logGate struct {
	interval time.Duration
	burst    int

	mu      sync.Mutex
	start   time.Time
	n       int
	dropped int
}

func newLogGate() *logGate { return &logGate{interval: 10 * time.Second, burst: 10} }

// allow reports whether a line may be written now, and how many were dropped before it.
func (g *logGate) allow(now time.Time) (ok bool, dropped int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.start) >= g.interval {
		g.start, g.n = now, 0
	}
	if g.n >= g.burst {
		g.dropped++
		return false, 0
	}
	g.n++
	dropped, g.dropped = g.dropped, 0
	return true, dropped
}

// log writes msg through gate g.
func (g *logGate) log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	if !l.Enabled(context.Background(), level) {
		return
	}
	ok, dropped := g.allow(time.Now())
	if !ok {
		return
	}
	if dropped > 0 {
		args = append(args, "suppressed_since_last", dropped)
	}
	l.Log(context.Background(), level, msg, args...)
}
