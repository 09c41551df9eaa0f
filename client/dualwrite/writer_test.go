package dualwrite_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/client/dualwrite"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/faultproxy"
	"github.com/tandem-streaming/tandem/internal/httpapi"
	"github.com/tandem-streaming/tandem/internal/job"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const partitions = 3

// region is a real broker behind the HTTP API, reached through a fault-injecting proxy.
type region struct {
	name  string
	c     *client.Client
	proxy *faultproxy.Proxy
}

func startRegion(t testing.TB, name string) *region {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: t.TempDir(), Region: name, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Broker: b, Gatherer: reg, Logger: quiet}))
	p, err := faultproxy.New("127.0.0.1:0", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		srv.Close()
		b.Close()
	})
	key, err := os.ReadFile(b.AdminKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+p.Addr(), client.WithAdminKey(strings.TrimSpace(string(key))))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateNamespace(ctx, "geo-jobs", client.NamespaceOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateHub(ctx, "geo-jobs", "in", client.HubOptions{Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	return &region{name: name, c: c, proxy: p}
}

func open(t testing.TB, dir string, max int64, regions ...*region) *dualwrite.Writer {
	t.Helper()
	o := dualwrite.Options{SpoolDir: dir, SpoolMaxBytes: max, Heartbeat: -1, RetryInterval: 20 * time.Millisecond, SendTimeout: 5 * time.Second}
	for _, r := range regions {
		o.Regions = append(o.Regions, dualwrite.Region{Name: r.name, Client: r.c, Namespace: "geo-jobs", Hub: "in"})
	}
	w, err := dualwrite.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func events(from, n int) []dualwrite.Event {
	out := make([]dualwrite.Event, n)
	for i := range out {
		out[i] = dualwrite.Event{Body: fmt.Appendf(nil, `{"n":%d}`, from+i), PartitionKey: fmt.Sprintf("k%d", (from+i)%7)}
	}
	return out
}

// stream is a region's partitions as sequences of "event id" and "hb:time" entries, a repeat
// of an event id (a retry or a replay) dropped as the job input does.
func stream(t *testing.T, r *region) [partitions][]string {
	t.Helper()
	var out [partitions][]string
	for p := range int32(partitions) {
		seen := map[string]bool{}
		var evs []client.ReceivedEvent
		for from := client.Start; ; {
			res, err := r.c.Receive(context.Background(), "geo-jobs", "in", p, client.ReceiveOptions{From: from, Max: 5000})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) == 0 {
				break
			}
			evs, from = append(evs, res.Events...), client.AtOffset(res.NextOffset)
		}
		for _, e := range evs {
			if _, hb := e.Properties[job.HeartbeatProperty]; hb {
				out[p] = append(out[p], "hb:"+e.Properties[job.ProducedTimeProperty])
				continue
			}
			id := e.Properties[job.EventIDProperty]
			if id == "" || e.Properties[job.ProducedTimeProperty] == "" {
				t.Fatalf("region %s partition %d: event without id or produced time: %v", r.name, p, e.Properties)
			}
			if !seen[id] {
				out[p] = append(out[p], id)
			}
			seen[id] = true
		}
	}
	return out
}

// TestReplayInOrder cuts one region off in the middle of a run: the events and heartbeats sent
// meanwhile are spooled and replayed when it is back, and both regions end with the same
// sequence in every partition.
func TestReplayInOrder(t *testing.T) {
	east, west := startRegion(t, "east"), startRegion(t, "west")
	w := open(t, t.TempDir(), 0, east, west)
	defer w.Close()
	ctx := context.Background()
	const direct, spooled, either = 0, 1, 2
	send := func(from, n int, want int) {
		t.Helper()
		res, err := w.Send(ctx, events(from, n))
		if err != nil {
			t.Fatal(err)
		}
		got := direct
		if len(res.Spooled) > 0 {
			got = spooled
		}
		if (want != either && got != want) || len(res.IDs) != n {
			t.Fatalf("send %d-%d: %+v, want %d (0 direct, 1 spooled)", from, from+n-1, res, want)
		}
	}
	for i := range 3 {
		send(i*10, 10, direct)
	}
	if err := w.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	west.proxy.Cut()
	for i := 3; i < 8; i++ {
		send(i*10, 10, spooled)
		if err := w.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := w.Status(); st[1].Up || st[1].SpooledRecords == 0 {
		t.Fatalf("west is cut off but the writer says %+v", st[1])
	}
	west.proxy.Heal()
	send(80, 10, either) // while the spool is replayed, new events queue behind it
	flushCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	send(90, 10, direct)
	es, ws := stream(t, east), stream(t, west)
	total := 0
	for p := range partitions {
		if strings.Join(es[p], ",") != strings.Join(ws[p], ",") {
			t.Fatalf("partition %d differs:\neast %v\nwest %v", p, es[p], ws[p])
		}
		for _, e := range es[p] {
			if !strings.HasPrefix(e, "hb:") {
				total++
			}
		}
	}
	if total != 100 {
		t.Fatalf("the regions hold %d distinct events, want 100", total)
	}
	if st := w.Status(); st[1].Replayed < 50 || !st[1].Up || st[1].SpooledRecords != 0 {
		t.Fatalf("west after the replay: %+v", st[1])
	}
}

// TestSpoolBound fills a down region's spool: the batch that does not fit is refused with
// QuotaExceeded and sent nowhere, and everything accepted reaches both regions in the end.
func TestSpoolBound(t *testing.T) {
	east, west := startRegion(t, "east"), startRegion(t, "west")
	w := open(t, t.TempDir(), 8<<10, east, west)
	defer w.Close()
	ctx := context.Background()
	west.proxy.Cut()
	accepted := 0
	var err error
	for accepted < 10000 {
		if _, err = w.Send(ctx, events(accepted, 5)); err != nil {
			break
		}
		accepted += 5
	}
	if !errcode.Is(err, errcode.QuotaExceeded) || !strings.Contains(err.Error(), "west") {
		t.Fatalf("after %d events: %v, want QuotaExceeded naming west", accepted, err)
	}
	if accepted == 0 {
		t.Fatal("the spool took nothing")
	}
	count := func(r *region) int {
		n := 0
		for _, p := range stream(t, r) {
			n += len(p)
		}
		return n
	}
	if n := count(east); n != accepted {
		t.Fatalf("east has %d events; the %d accepted ones and not the refused batch were expected", n, accepted)
	}
	west.proxy.Heal()
	flushCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	if n := count(west); n != accepted {
		t.Fatalf("west has %d events after the replay, want %d", n, accepted)
	}
	if _, err := w.Send(ctx, events(accepted, 5)); err != nil {
		t.Fatalf("after the replay the spool has room again: %v", err)
	}
}

// TestSpoolOutlivesTheWriter closes a writer with events spooled for a down region; the next
// writer on the same directory replays them before anything new.
func TestSpoolOutlivesTheWriter(t *testing.T) {
	east, west := startRegion(t, "east"), startRegion(t, "west")
	dir := t.TempDir()
	ctx := context.Background()
	w := open(t, dir, 0, east, west)
	west.proxy.Cut()
	if _, err := w.Send(ctx, events(0, 20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	west.proxy.Heal()
	w2 := open(t, dir, 0, east, west)
	defer w2.Close()
	if _, err := w2.Send(ctx, events(20, 5)); err != nil {
		t.Fatal(err)
	}
	flushCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w2.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	es, ws := stream(t, east), stream(t, west)
	for p := range partitions {
		if strings.Join(es[p], ",") != strings.Join(ws[p], ",") {
			t.Fatalf("partition %d differs:\neast %v\nwest %v", p, es[p], ws[p])
		}
	}
}
