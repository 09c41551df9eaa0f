package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/client/dualwrite"
	"github.com/tandem-streaming/tandem/client/output"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// drillDevices is how many devices the load spreads over (the partition key).
const drillDevices = 10

// drillLoad sends events at a steady rate through the dual-write producer.
type drillLoad struct {
	done chan struct{}
	res  loadResult
	err  error
}

type loadResult struct {
	events   int64 // accepted by the producer
	seqSum   int64 // sum of the accepted events' Seq
	lastTime time.Time
}

// startDrillLoad starts the load; byKey sends each partition key's events in a request of
// their own (a cluster region refuses a request whose keys map to partitions led by
// different nodes). With byKey every event has the same key (one device): the dual-write
// producer's spool replays runs of events of any keys in one request, which a cluster region
// refuses while their partitions have different leaders, so a region that was down could
// never replay its spool (a limit of client/dualwrite today; see the drill's report).
func startDrillLoad(ctx context.Context, w *dualwrite.Writer, rate int, byKey bool) *drillLoad {
	l := &drillLoad{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.err = l.run(ctx, w, rate, byKey)
	}()
	return l
}

// run sends every 10 ms the events due by then (rate per second), until ctx ends.
func (l *drillLoad) run(ctx context.Context, w *dualwrite.Writer, rate int, byKey bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var seq int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * float64(rate))
		devices := int64(drillDevices)
		if byKey {
			devices = 1 // see startDrillLoad
		}
		var batch []dualwrite.Event
		var sum int64
		now := time.Now().UTC()
		for seq < due {
			seq++
			body, _ := json.Marshal(map[string]any{"DeviceId": fmt.Sprintf("d%d", seq%devices), "Seq": seq, "EventTime": now.Format(time.RFC3339Nano)})
			batch = append(batch, dualwrite.Event{Body: body, PartitionKey: fmt.Sprintf("d%d", seq%devices)})
			sum += seq
		}
		if len(batch) == 0 {
			continue
		}
		for _, b := range splitByKey(batch, byKey) {
			if _, err := w.Send(context.WithoutCancel(ctx), b); err != nil {
				return fmt.Errorf("sending events %d-%d: %w", seq-int64(len(batch))+1, seq, err)
			}
		}
		l.res.events += int64(len(batch))
		l.res.seqSum += sum
		l.res.lastTime = now
	}
}

// splitByKey is batch in one request, or with byKey one request per partition key (in the
// order of the keys' first events).
func splitByKey(batch []dualwrite.Event, byKey bool) [][]dualwrite.Event {
	if !byKey {
		return [][]dualwrite.Event{batch}
	}
	var out [][]dualwrite.Event
	at := map[string]int{}
	for _, e := range batch {
		i, ok := at[e.PartitionKey]
		if !ok {
			i = len(out)
			at[e.PartitionKey] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], e)
	}
	return out
}

// wait returns what was sent once the load has stopped (its context ended).
func (l *drillLoad) wait() (loadResult, error) {
	<-l.done
	return l.res, l.err
}

// drillReader follows the job's output across the regions and keeps what it read.
type drillReader struct {
	f      *output.Follower
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		src    string
		pos    sink.Position
		rows   map[sink.Position]bool
		read   int64
		dups   int64
		events int64
		seqSum int64
		err    error
	}
}

func startDrillReader(ctx context.Context, d *drill, o output.FollowOptions) (*drillReader, error) {
	r := &drillReader{done: make(chan struct{})}
	r.mu.rows, r.mu.src, r.mu.pos = map[sink.Position]bool{}, "primary", sink.Beginning
	o.OnEvent = func(e output.Event) {
		d.rep.mark("reader: %s %s→%s at %s: %s", e.Kind, e.From, e.To, e.Position.Key, e.Reason)
		d.progress("reader: %s (%s → %s): %s", e.Kind, e.From, e.To, e.Reason)
	}
	f, err := output.Follow(ctx, o)
	if err != nil {
		return nil, err
	}
	r.f = f
	ctx, r.cancel = context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		r.run(ctx)
	}()
	return r, nil
}

func (r *drillReader) run(ctx context.Context) {
	for {
		rows, err := r.f.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.mu.Lock()
				r.mu.err = err
				r.mu.Unlock()
			}
			return
		}
		r.take(rows)
		_ = r.f.Commit()
	}
}

// take records rows (and the source they came from): a row at or before the previous position, or seen before, is a duplicate.
func (r *drillReader) take(rows []sink.Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range rows {
		pos := row.Pos()
		if r.mu.rows[pos] || !r.mu.pos.Less(pos) {
			r.mu.dups++
		}
		r.mu.rows[pos] = true
		r.mu.pos = pos
		r.mu.read++
		var v struct{ Events, SeqSum int64 }
		if json.Unmarshal(row.Data, &v) == nil {
			r.mu.events += v.Events
			r.mu.seqSum += v.SeqSum
		}
	}
	r.mu.src = r.f.Source()
}

func (r *drillReader) source() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.src
}

func (r *drillReader) position() sink.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.pos
}

func (r *drillReader) stop() {
	r.cancel()
	<-r.done
	r.f.Close()
}
