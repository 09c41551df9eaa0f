package job

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/faultproxy"
	"github.com/tandem-streaming/tandem/internal/sink"
	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

func openBroker(t *testing.T, dir string) *broker.Broker {
	t.Helper()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: "test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startJobs opens a broker with the test hub and a job manager in a new directory, closed
// when the test ends.
func startJobs(t *testing.T) (string, *broker.Broker, *Manager) {
	t.Helper()
	dir := t.TempDir()
	b := openBroker(t, dir)
	t.Cleanup(func() { b.Close() })
	setupHub(t, b)
	m, err := NewManager(Options{Broker: b, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return dir, b, m
}

func setupHub(t *testing.T, b *broker.Broker) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "jobs-ns"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "jobs-ns", broker.HubSpec{Name: "readings", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
}

// base is the event time the test's events start from: near the wall clock, so that no
// event is late or early, and on a 10-second boundary.
var base = time.Now().UTC().Truncate(10 * time.Second)

// send writes events i = from … from+n-1 for key k0, k1, k2 to partition 0, 1, 2, at event time
// base + i + 1 seconds: events 0-29 fill the windows ending at base+10, +20 and +30.
func send(t *testing.T, b *broker.Broker, from, n int) {
	t.Helper()
	for k := range int32(3) {
		var evs []broker.Event
		for i := from; i < from+n; i++ {
			body := fmt.Sprintf(`{"key":"k%d","v":%d,"t":"%s"}`, k, i, base.Add(time.Duration(i+1)*time.Second).Format(time.RFC3339))
			evs = append(evs, broker.Event{Body: []byte(body)})
		}
		if _, err := b.Send(context.Background(), "jobs-ns", "readings", evs, broker.SendOptions{PartitionID: &k}); err != nil {
			t.Fatal(err)
		}
	}
}

const countQuery = `SELECT key, COUNT(*) AS n, SUM(v) AS total, System.Timestamp() AS windowEnd
INTO counts FROM readings TIMESTAMP BY t GROUP BY key, TumblingWindow(second, 10)`

func jobSpec(out string) Spec {
	return Spec{Name: "counter", Query: countQuery, LateArrivalTolerance: "1h",
		Inputs:  []InputSpec{{Name: "readings", Namespace: "jobs-ns", Hub: "readings"}},
		Outputs: []OutputSpec{{Name: "counts", URL: "sqlite://" + out}}}
}

// waitRows polls the sink a URL names until it holds want rows (the job writes once a second).
func waitRows(t *testing.T, url string, want int) []sink.Row {
	t.Helper()
	return waitSinkURLRows(t, url, "counts", want)
}

// waitSinkRows polls a sink until it holds at least want rows, and fails unless it holds
// exactly want.
func waitSinkRows(t *testing.T, s sink.Sink, want int) []sink.Row {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows, err := s.ReadAfter(context.Background(), sink.Beginning, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) >= want || time.Now().After(deadline) {
			if len(rows) != want {
				t.Fatalf("%d rows in the output, want %d", len(rows), want)
			}
			return rows
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJobRunsStopsAndResumes(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	setupHub(t, b)
	m, err := NewManager(Options{Broker: b, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.db")
	ctx := context.Background()
	if _, err := m.Create(ctx, jobSpec(out), Creator{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, jobSpec(out), Creator{}); errcode.CodeOf(err) != errcode.AlreadyExists {
		t.Fatalf("second create: %v", err)
	}
	send(t, b, 0, 30) // 3 windows × 3 keys; the last closes when a later event comes
	if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
		t.Fatal(err)
	}
	send(t, b, 30, 1) // moves the watermark past base+30
	rows := waitRows(t, "sqlite://"+out, 9)
	for _, r := range rows {
		if string(r.Data) == "" {
			t.Fatal("empty row")
		}
	}
	if _, err := m.StopJob(ctx, "counter", Admin); err != nil {
		t.Fatal(err)
	}
	// Events while stopped; the job resumes from its checkpoint and misses nothing.
	send(t, b, 31, 20)
	m.Close()
	b.Close()

	b = openBroker(t, dir)
	defer b.Close()
	m, err = NewManager(Options{Broker: b, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.StartJob(ctx, "counter", "last-stopped", Admin); err != nil {
		t.Fatal(err)
	}
	waitRows(t, "sqlite://"+out, 15) // windows +10 … +50 × 3 keys
	info, err := m.Get("counter", Admin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status.State != Running || info.Status.InputEvents != 60 {
		t.Fatalf("status %+v", info.Status)
	}
}

// An output that cannot be reached makes the job retry and report Degraded; no row is lost,
// and once the link is back every row is there once.
func TestUnreachableSinkRetriesAndLosesNothing(t *testing.T) {
	dsn := sinktest.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.New("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	u.Host = proxy.Addr()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	pgURL := u.String()

	_, b, m := startJobs(t)
	ctx := context.Background()
	spec := jobSpec("")
	spec.Outputs[0].URL = pgURL
	if _, err := m.Create(ctx, spec, Creator{}); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, Degraded, "output counts")
	send(t, b, 0, 31)
	proxy.Heal()
	waitRows(t, pgURL, 9)

	proxy.Cut() // now while the job writes
	send(t, b, 31, 20)
	waitState(t, m, Degraded, "output counts")
	proxy.Heal()
	waitRows(t, pgURL, 15)
	waitState(t, m, Running, "")
}

func waitState(t *testing.T, m *Manager, want State, errPart string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := m.Get("counter", Admin)
		if err != nil {
			t.Fatal(err)
		}
		st := info.Status
		if st.State == want && strings.Contains(st.Error, errPart) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job state %s (%s), want %s with an error containing %q", st.State, st.Error, want, errPart)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An event hub output gets each row once, in the output's order, across a stop and a restart
// that replays rows (the checkpoint is rolled back to the start to force a full replay).
func TestEventHubOutputExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	defer b.Close()
	setupHub(t, b)
	ctx := context.Background()
	if err := b.CreateHub(ctx, "jobs-ns", broker.HubSpec{Name: "counts", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{Broker: b, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	spec := jobSpec("")
	spec.Outputs[0].URL = "eventhub://jobs-ns/counts?partition=1"
	if _, err := m.Create(ctx, spec, Creator{}); err != nil {
		t.Fatal(err)
	}
	send(t, b, 0, 31)
	if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
		t.Fatal(err)
	}
	waitHubRows(t, b, 9)
	if _, err := m.StopJob(ctx, "counter", Admin); err != nil {
		t.Fatal(err)
	}
	// Start from the beginning again: the job emits the same 9 rows, which the sink skips.
	if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
		t.Fatal(err)
	}
	send(t, b, 31, 20)
	rows := waitHubRows(t, b, 15)
	for i := 1; i < len(rows); i++ {
		if !rows[i-1].Pos().Less(rows[i].Pos()) {
			t.Fatalf("rows %d and %d out of order or repeated: %v %v", i-1, i, rows[i-1].Pos(), rows[i].Pos())
		}
	}
}

func waitHubRows(t *testing.T, b *broker.Broker, want int) []sink.Row {
	t.Helper()
	s, err := openHubSink(context.Background(), b, "eventhub://jobs-ns/counts?partition=1")
	if err != nil {
		t.Fatal(err)
	}
	rows := waitSinkRows(t, s, want)
	if p, _ := b.Partition("jobs-ns", "counts", 1); p.EndOffset() != int64(want) {
		t.Fatalf("%d events in the partition, want %d (one per row)", p.EndOffset(), want)
	}
	return rows
}

// An input with CSV serialization: each event body is a header line and rows, each row an event;
// a body that is not valid CSV is a conversion error, and the job goes on.
func TestCSVInput(t *testing.T) {
	dir, b, m := startJobs(t)
	ctx := context.Background()
	out := filepath.Join(dir, "out.db")
	spec := jobSpec(out)
	spec.Inputs[0].Serialization = "csv"
	if _, err := m.Create(ctx, spec, Creator{}); err != nil {
		t.Fatal(err)
	}
	for k := range int32(3) {
		body := "key,v,t\n"
		for i := range 31 {
			body += fmt.Sprintf("k%d,%d,%s\n", k, i, base.Add(time.Duration(i+1)*time.Second).Format(time.RFC3339))
		}
		evs := []broker.Event{{Body: []byte(body)}, {Body: []byte("key,v\n\"unterminated\n")}}
		if _, err := b.Send(ctx, "jobs-ns", "readings", evs, broker.SendOptions{PartitionID: &k}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
		t.Fatal(err)
	}
	waitRows(t, "sqlite://"+out, 9)
	info, _ := m.Get("counter", Admin)
	if info.Status.ConversionErrors != 3 || !strings.Contains(info.Status.LastError, "event body") {
		t.Fatalf("status %+v", info.Status)
	}
}
