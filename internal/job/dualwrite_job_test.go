package job

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// sendDual writes events i = from … from+n-1 as the dual-write producer does: key k0/k1/k2 to
// partition 0/1/2, event id "k-i", produced time = event time = base + i + 1 s.
func sendDual(t *testing.T, b *broker.Broker, from, n int) {
	t.Helper()
	for k := range int32(3) {
		var evs []broker.Event
		for i := from; i < from+n; i++ {
			at := base.Add(time.Duration(i+1) * time.Second)
			body := fmt.Sprintf(`{"key":"k%d","v":%d,"t":"%s"}`, k, i, at.Format(time.RFC3339))
			evs = append(evs, broker.Event{Body: []byte(body), Properties: map[string]string{
				EventIDProperty: fmt.Sprintf("%d-%d", k, i), ProducedTimeProperty: strconv.FormatInt(ticks(at), 10)}})
		}
		if _, err := b.Send(context.Background(), "jobs-ns", "readings", evs, broker.SendOptions{PartitionID: &k}); err != nil {
			t.Fatal(err)
		}
	}
}

// heartbeat sends every partition a heartbeat at produced time base + s seconds.
func heartbeat(t *testing.T, b *broker.Broker, s int) {
	t.Helper()
	at := strconv.FormatInt(ticks(base.Add(time.Duration(s)*time.Second)), 10)
	for p := range int32(3) {
		ev := broker.Event{Body: []byte("{}"), Properties: map[string]string{HeartbeatProperty: "1", ProducedTimeProperty: at}}
		if _, err := b.Send(context.Background(), "jobs-ns", "readings", []broker.Event{ev}, broker.SendOptions{PartitionID: &p}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDualWriteInput: repeats of an event id are dropped (also after a restart from the
// checkpoint, which carries the ids), and windows close on the producer's heartbeats alone.
func TestDualWriteInput(t *testing.T) {
	dir, b, m := startJobs(t)
	out := filepath.Join(dir, "out.db")
	spec := jobSpec(out)
	spec.LateArrivalTolerance = ""
	spec.Inputs[0].DualWrite = true
	ctx := context.Background()
	if _, err := m.Create(ctx, spec, Creator{}); err != nil {
		t.Fatal(err)
	}
	sendDual(t, b, 0, 30)
	sendDual(t, b, 5, 10) // a retry: events 5-14 again
	heartbeat(t, b, 36)   // the watermark reaches base+31 (5 s late-arrival tolerance)
	if _, err := m.StartJob(ctx, "counter", "start", Admin); err != nil {
		t.Fatal(err)
	}
	checkCounts := func(rows int) {
		t.Helper()
		for _, r := range waitRows(t, "sqlite://"+out, rows) {
			var v struct{ N int }
			if err := json.Unmarshal(r.Data, &v); err != nil || v.N != 10 {
				t.Fatalf("row %s: want 10 events per window (repeats dropped)", r.Data)
			}
		}
	}
	checkCounts(9)
	if _, err := m.StopJob(ctx, "counter", Admin); err != nil {
		t.Fatal(err)
	}
	sendDual(t, b, 0, 10) // a spool replay after the restart: already seen
	sendDual(t, b, 30, 10)
	heartbeat(t, b, 46)
	if _, err := m.StartJob(ctx, "counter", "last-stopped", Admin); err != nil {
		t.Fatal(err)
	}
	checkCounts(12)
	info, err := m.Get("counter", Admin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status.DuplicateEvents != 30 {
		t.Fatalf("duplicate input events after the restart = %d, want 30 (the replayed 0-9 of 3 keys)", info.Status.DuplicateEvents)
	}
}
