package job

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// jobSeries returns the value of every tandem_job_* series of a job, by metric name.
func jobSeries(t *testing.T, reg *prometheus.Registry, job string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "job" && l.GetValue() == job {
					out[mf.GetName()] = value(m)
				}
			}
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// sendDistinct sends n events with distinct keys and values, one millisecond apart in event
// time, round robin over the test hub's three partitions (so the watermark moves with them).
func sendDistinct(t *testing.T, b *broker.Broker, n int) {
	t.Helper()
	start := base.Add(-time.Minute)
	for p := range int32(3) {
		var evs []broker.Event
		for i := int(p); i < n; i += 3 {
			evs = append(evs, broker.Event{Body: fmt.Appendf(nil, `{"key":"key-%06d","v":"value-%06d-%s","t":"%s"}`,
				i, i, strings.Repeat("x", 200), start.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano))})
		}
		if _, err := b.Send(context.Background(), "jobs-ns", "readings", evs, broker.SendOptions{PartitionID: &p}); err != nil {
			t.Fatal(err)
		}
	}
}

// The audit (not verified live): a job checkpoints its whole state every second, and nothing
// bounds that state, so a query such as COUNT(DISTINCT …) over a long window with many keys
// grows until the node runs out of memory. With a state budget the job fails with an error
// naming the size, the budget and what to do, and the state shows in the status and metrics.
func TestAuditJobState_BudgetFailsTheJob(t *testing.T) {
	cases := []struct{ name, query string }{
		{"count distinct over a day", `SELECT key, COUNT(DISTINCT v) AS n INTO counts FROM readings TIMESTAMP BY t
			GROUP BY key, TumblingWindow(day, 1)`},
		// Each event joins 10,000 windows as soon as the watermark passes it: the state passes
		// the budget within a few events, between two checkpoints, and is caught by the measure
		// the engine's growth estimate triggers.
		{"fine hopping window", `SELECT key, COUNT(*) AS n INTO counts FROM readings TIMESTAMP BY t
			GROUP BY key, HoppingWindow(second, 10000, 1)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			b := openBroker(t, dir)
			t.Cleanup(func() { b.Close() })
			setupHub(t, b)
			reg := prometheus.NewRegistry()
			const budget = 8 << 20
			m, err := NewManager(Options{Broker: b, DataDir: dir, Registerer: reg, StateBudget: budget})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(m.Close)
			ctx := context.Background()
			spec := jobSpec(filepath.Join(dir, "out.db"))
			spec.Query = c.query
			if _, err := m.Create(ctx, spec, Creator{}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
				t.Fatal(err)
			}
			info := waitJob(t, m, "counter", Running, "")
			if info.Status.StateBudget != budget {
				t.Fatalf("state budget in the status: %d", info.Status.StateBudget)
			}
			sendDistinct(t, b, 60_000)
			info = waitJob(t, m, "counter", Failed, "over the budget of 8.00 MiB (8388608 bytes), set by --job-state-budget")
			if !strings.Contains(info.Status.Error, "job state is ") || !strings.Contains(info.Status.Error, "--from last-stopped") {
				t.Fatalf("error: %s", info.Status.Error)
			}
			// The job stopped at about the budget (one event of the hopping window holds about
			// 1.4 MB), not at the state all the events make.
			if info.Status.StateBytes <= budget || info.Status.StateBytes > 2*budget {
				t.Fatalf("state %d bytes at the failure, budget %d", info.Status.StateBytes, budget)
			}
			s := jobSeries(t, reg, "counter")
			if s["tandem_job_state_bytes"] != float64(info.Status.StateBytes) || s["tandem_job_state_budget_bytes"] != budget || s["tandem_job_running"] != 0 {
				t.Fatalf("metrics %v", s)
			}
		})
	}
}

// A job's own budget may lower the node's, never raise it.
func TestJobStateBudgetInSpec(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	t.Cleanup(func() { b.Close() })
	setupHub(t, b)
	m, err := NewManager(Options{Broker: b, DataDir: dir, StateBudget: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ctx := context.Background()
	spec := jobSpec(filepath.Join(dir, "out.db"))
	spec.StateBudgetBytes = 2 << 20
	if _, err := m.Create(ctx, spec, Creator{}); !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "--job-state-budget (1048576 bytes)") {
		t.Fatalf("a budget over the node's: %v", err)
	}
	spec.StateBudgetBytes = 4096
	if _, err := m.Create(ctx, spec, Creator{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
		t.Fatal(err)
	}
	if info := waitJob(t, m, "counter", Running, ""); info.Status.StateBudget != 4096 {
		t.Fatalf("budget %d", info.Status.StateBudget)
	}
}

// Audit L1 (jobs): the per-job series are read from the jobs at scrape time, so a deleted job's
// series are gone from the next scrape.
func TestAuditL1_JobSeriesRemovedOnDelete(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	t.Cleanup(func() { b.Close() })
	setupHub(t, b)
	reg := prometheus.NewRegistry()
	m, err := NewManager(Options{Broker: b, DataDir: dir, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ctx := context.Background()
	if _, err := m.Create(ctx, jobSpec(filepath.Join(dir, "out.db")), Creator{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
		t.Fatal(err)
	}
	waitJob(t, m, "counter", Running, "")
	if s := jobSeries(t, reg, "counter"); len(s) != len(jobDescriptions) || s["tandem_job_running"] != 1 {
		t.Fatalf("series of the running job: %v", s)
	}
	if err := m.Delete(ctx, "counter", Admin); err != nil {
		t.Fatal(err)
	}
	if s := jobSeries(t, reg, "counter"); len(s) != 0 {
		t.Fatalf("series left after the job was deleted: %v", s)
	}
}
