package job

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/eventfile"
	"github.com/tandem-streaming/tandem/internal/sink"
	"github.com/tandem-streaming/tandem/internal/sqlval"
	"github.com/tandem-streaming/tandem/internal/stream"
)

// State is a job's state as `tandem job show` reports it.
type State string

// The states. Created, Running and Stopped are also what a user asks for.
const (
	Created  State = "Created"
	Starting State = "Starting"
	Running  State = "Running"
	Degraded State = "Degraded" // running, but an output or input fails and is being retried
	Stopped  State = "Stopped"
	Failed   State = "Failed"
)

// Status is a job's live numbers.
type Status struct {
	State            State     `json:"state"`
	Error            string    `json:"error,omitempty"`
	InputEvents      int64     `json:"inputEvents"`
	InputBytes       int64     `json:"inputBytes"`
	OutputRows       int64     `json:"outputRows"`
	BackloggedEvents int64     `json:"backloggedInputEvents"`
	LateEvents       int64     `json:"lateInputEvents"`
	OutOfOrderEvents int64     `json:"outOfOrderEvents"`
	EarlyEvents      int64     `json:"earlyInputEvents"`
	DroppedEvents    int64     `json:"droppedEvents"`
	ConversionErrors int64     `json:"conversionErrors"`
	DuplicateEvents  int64     `json:"duplicateInputEvents"` // dual-write inputs: events dropped as repeats of an event id
	RuntimeErrors    int64     `json:"runtimeErrors"`
	Watermark        time.Time `json:"watermark,omitzero"`
	WatermarkDelay   float64   `json:"watermarkDelaySeconds"`
	StateBytes       int64     `json:"stateBytes"`       // the state's size at the last measure (checkpoint)
	StateBudget      int64     `json:"stateBudgetBytes"` // the job fails when StateBytes goes over it
	LastCheckpoint   time.Time `json:"lastCheckpoint,omitzero"`
	LastError        string    `json:"lastError,omitempty"` // the latest conversion or runtime error
	// Outputs holds each output's high-water mark: the last row the job wrote there, in the
	// output's total order (time, key); what a reader compares across regions.
	Outputs map[string]OutputMark `json:"outputs,omitempty"`
}

// OutputMark is a position in an output's total order.
type OutputMark struct {
	Time time.Time `json:"time"`
	Key  string    `json:"key"`
}

// How often a running job writes its rows and a checkpoint, and how many rows it holds at most
// before it does.
const (
	checkpointEvery = time.Second
	maxPendingRows  = 20_000
	pollIdle        = 50 * time.Millisecond
	maxBackoff      = 5 * time.Second
)

// runner runs one job: its goroutine reads the inputs, drives the engine, writes the rows and
// checkpoints. It is started by the Manager and stopped by cancelling its context.
type runner struct {
	m       *Manager
	spec    Spec
	creator Creator
	from    string // how to start when there is no checkpoint to resume from
	resume  bool
	lease   uint64 // in a cluster, the job lease this node holds for the run (cluster.go)
	// until is, in a cluster, when the run must stop unless its lease is renewed meanwhile
	// (unix nanoseconds: the lease's expiry less a margin); the tend loop moves it on.
	until  atomic.Int64
	ckNum  uint64 // in a cluster, the number of the last checkpoint written under lease
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		status Status
	}
}

// partRef is one input partition the job reads.
type partRef struct {
	input     InputSpec
	key       string // input name, lower case
	partition int32
}

// execution is the state of one run of a job.
type execution struct {
	r        *runner
	engine   *stream.Engine
	parts    []partRef
	offsets  map[string]map[int32]int64
	dedups   map[string]map[int32]*dedup // dual-write inputs: input (lower case) → partition → ids seen
	sinks    map[string]sink.Sink        // output name (lower case) → sink
	pending  []stream.Row
	lastCkpt time.Time
	base     Status // the runner's own counters (input events and bytes, output rows, …)
	budget   int64  // the state budget in bytes (budget.go)
	resumed  bool   // restored from a checkpoint
}

func (r *runner) status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.status
}

func (r *runner) update(f func(s *Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.mu.status)
}

func (r *runner) run(ctx context.Context) {
	defer close(r.done)
	err := r.execute(ctx)
	r.update(func(s *Status) {
		if ctx.Err() != nil {
			s.State, s.Error = Stopped, ""
			return
		}
		s.State, s.Error = Failed, err.Error()
	})
}

func (r *runner) execute(ctx context.Context) error {
	r.update(func(s *Status) { s.State = Starting })
	ctx, stop := r.leaseCtx(ctx)
	defer stop()
	x, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	defer x.closeSinks()
	if !x.resumed {
		// A first checkpoint at the start positions: a crash before the next one resumes from
		// here, not from wherever "now" is after the restart.
		if err := x.commit(ctx); err != nil {
			return err
		}
	}
	r.update(func(s *Status) { s.State, s.Error = Running, "" })
	for {
		progressed, err := x.readRound(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ctx.Err() != nil || len(x.pending) >= maxPendingRows || time.Since(x.lastCkpt) >= checkpointEvery {
			cctx := ctx
			if ctx.Err() != nil {
				// Stopping: write what is done and checkpoint it, so a restart resumes here.
				var cancel, unwatch context.CancelFunc
				cctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cctx, unwatch = r.leaseCtx(cctx) // and not past the lease
				defer unwatch()
			}
			if err := x.commit(cctx); err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !progressed {
			select {
			case <-ctx.Done():
			case <-time.After(pollIdle):
			}
		}
	}
}

// leaseCtx returns ctx, in a cluster also cancelled once the run's lease is due to expire
// unrenewed (until): the node stops the run (r.cancel, so it ends Stopped) and its writes
// before another node may take the job over. Its watcher goroutine ends when the returned
// context does; call stop when done.
func (r *runner) leaseCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.lease == 0 {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(leaseWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if time.Now().UnixNano() > r.until.Load() {
					r.cancel()
					cancel()
					return
				}
			}
		}
	}()
	return ctx, cancel
}

// leaseWatchEvery is how often a cluster run checks that its lease is still current.
const leaseWatchEvery = 20 * time.Millisecond

// prepare compiles the query, opens the sinks and finds where to start reading.
func (r *runner) prepare(ctx context.Context) (*execution, error) {
	x := &execution{r: r, offsets: map[string]map[int32]int64{}, dedups: map[string]map[int32]*dedup{},
		sinks: map[string]sink.Sink{}, lastCkpt: time.Now(), budget: r.m.budget(r.spec)}
	r.update(func(s *Status) { s.StateBudget = x.budget })
	partitions := map[string][]int32{}
	for _, in := range r.spec.Inputs {
		if in.Reference != "" {
			continue
		}
		h, err := r.m.b.Hub(in.Namespace, in.Hub)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		window, err := in.dedupWindow()
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(in.Name)
		for p := range h.Partitions {
			partitions[in.Name] = append(partitions[in.Name], p)
			x.parts = append(x.parts, partRef{input: in, key: key, partition: p})
			if in.DualWrite {
				if x.dedups[key] == nil {
					x.dedups[key] = map[int32]*dedup{}
				}
				x.dedups[key][p] = newDedup(window)
			}
		}
	}
	var err error
	if x.engine, err = r.spec.compile(partitions, r.m.access(r.creator)); err != nil {
		return nil, err
	}
	for _, o := range x.engine.Outputs() {
		spec, _ := r.spec.output(o)
		s, err := r.openSink(ctx, spec)
		if err != nil {
			x.closeSinks()
			return nil, err
		}
		x.sinks[strings.ToLower(o)] = s
		if pos, ok, err := s.HighWater(ctx); err == nil && ok {
			r.update(func(st *Status) {
				if st.Outputs == nil {
					st.Outputs = map[string]OutputMark{}
				}
				st.Outputs[strings.ToLower(o)] = OutputMark{Time: sink.TicksTime(pos.Time), Key: pos.Key}
			})
		}
	}
	if err := x.startPositions(); err != nil {
		x.closeSinks()
		return nil, err
	}
	return x, nil
}

// openSink opens an output, retrying with back-off while it is unreachable.
func (r *runner) openSink(ctx context.Context, o OutputSpec) (sink.Sink, error) {
	var s sink.Sink
	err := r.retry(ctx, "output "+o.Name, func() error {
		if isHubURL(o.URL) {
			hs, err := openHubSink(ctx, r.m.b, o.URL)
			if err == nil {
				s = hs
			}
			return err
		}
		var err error
		s, err = sink.Open(ctx, o.URL, o.Name)
		return err
	})
	return s, err
}

// retry runs f until it succeeds or ctx ends, backing off and reporting Degraded meanwhile.
func (r *runner) retry(ctx context.Context, what string, f func() error) error {
	return r.retryUnless(ctx, what, nil, f)
}

// retryUnless is retry that also gives up at once on an error permanent says is final.
func (r *runner) retryUnless(ctx context.Context, what string, permanent func(error) bool, f func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil {
			r.update(func(s *Status) {
				if s.State == Degraded {
					s.State, s.Error = Running, ""
				}
			})
			return nil
		}
		if errcode.CodeOf(err) == errcode.InvalidArgument || (permanent != nil && permanent(err)) {
			return fmt.Errorf("%s: %w", what, err)
		}
		r.update(func(s *Status) { s.State, s.Error = Degraded, fmt.Sprintf("%s: %v (retrying)", what, err) })
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (gave up: %v)", what, err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (x *execution) closeSinks() {
	for _, s := range x.sinks {
		s.Close()
	}
}

// startPositions resumes from the checkpoint, or starts where the user asked.
func (x *execution) startPositions() error {
	r := x.r
	ck, err := r.m.store.loadCheckpoint(r.spec.Name)
	if err != nil {
		return err
	}
	if r.resume && ck != nil {
		if err := x.engine.Restore(ck.Snapshot); err != nil {
			return fmt.Errorf("job %s: resuming from its checkpoint: %w", r.spec.Name, err)
		}
		x.offsets, x.resumed = ck.Offsets, true
		for _, p := range x.parts {
			if _, ok := x.offsets[p.key][p.partition]; !ok {
				return fmt.Errorf("job %s: the checkpoint has no offset for input %s partition %d (the hub changed?); start the job with --from now", r.spec.Name, p.input.Name, p.partition)
			}
			if d := x.dedups[p.key][p.partition]; d != nil {
				if st, ok := ck.Dedup[p.key][p.partition]; ok {
					if err := d.restore(st); err != nil {
						return fmt.Errorf("job %s: resuming input %s partition %d from its checkpoint: %w", r.spec.Name, p.input.Name, p.partition, err)
					}
				}
			}
		}
		return nil
	}
	if err := r.m.store.dropCheckpoint(context.Background(), r.spec.Name, r.lease); err != nil {
		return err
	}
	for _, p := range x.parts {
		part, err := r.m.b.LocalPartition(p.input.Namespace, p.input.Hub, p.partition)
		if err != nil {
			return err
		}
		var off int64
		switch {
		case r.from == "start":
			off = part.StartOffset()
		case strings.HasPrefix(r.from, "time:"):
			t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(r.from, "time:"))
			if err != nil {
				return errcode.New(errcode.InvalidArgument, "--from %s: write time:2026-01-02T15:04:05Z", r.from)
			}
			if off, err = part.OffsetForTime(t.UnixMilli()); err != nil {
				return err
			}
		default:
			off = part.EndOffset()
		}
		if x.offsets[p.key] == nil {
			x.offsets[p.key] = map[int32]int64{}
		}
		x.offsets[p.key][p.partition] = off
	}
	return nil
}

// readRound reads once from every partition, pushes the events and tells the engine which
// partitions are idle. It reports whether any event was read.
func (x *execution) readRound(ctx context.Context) (bool, error) {
	progressed := false
	var backlog int64
	for _, p := range x.parts {
		off := x.offsets[p.key][p.partition]
		evs, next, err := x.r.m.b.ReceiveLocal(ctx, p.input.Namespace, p.input.Hub, p.partition, off, 1000)
		if err != nil {
			if ctx.Err() != nil {
				return progressed, nil
			}
			return progressed, fmt.Errorf("input %s partition %d: %w", p.input.Name, p.partition, err)
		}
		for _, ev := range evs {
			if err := x.push(p, ev); err != nil {
				return progressed, err
			}
		}
		x.offsets[p.key][p.partition] = next
		if part, err := x.r.m.b.LocalPartition(p.input.Namespace, p.input.Hub, p.partition); err == nil {
			backlog += part.EndOffset() - next
		}
		if len(evs) > 0 {
			progressed = true
			continue
		}
		if p.input.DualWrite {
			continue // idle partitions advance with the producer's heartbeats
		}
		rows, err := x.engine.Idle(p.input.Name, p.partition, ticks(time.Now()))
		if err != nil {
			return progressed, err
		}
		x.pending = append(x.pending, rows...)
	}
	x.publish(backlog)
	return progressed, nil
}

// push decodes one event and gives it to the engine. An event that cannot be decoded (not a
// JSON object, or bad CSV) is counted as a conversion error and skipped, as Stream Analytics
// drops events it cannot deserialize.
func (x *execution) push(p partRef, ev broker.ReceivedEvent) error {
	arrival := ticks(ev.EnqueuedTime)
	if _, hb := ev.Properties[HeartbeatProperty]; hb {
		t, ok := producedTicks(ev.Properties)
		if !p.input.DualWrite || !ok {
			return nil // a heartbeat carries no data
		}
		rows, err := x.engine.Idle(p.input.Name, p.partition, t)
		x.pending = append(x.pending, rows...)
		return err
	}
	if p.input.DualWrite {
		if t, ok := producedTicks(ev.Properties); ok {
			arrival = t
		}
		if id, ok := ev.Properties[EventIDProperty]; ok && !x.dedups[p.key][p.partition].fresh(id, arrival) {
			x.base.DuplicateEvents++
			return nil
		}
	}
	x.base.InputEvents++
	x.base.InputBytes += int64(len(ev.Body))
	vals, err := decodeBody(p.input, ev.Body)
	if err != nil {
		x.base.ConversionErrors++
		x.base.LastError = fmt.Sprintf("input %s partition %d offset %d: %v", p.input.Name, p.partition, ev.Offset, err)
		return nil
	}
	for _, v := range vals {
		fields := v.Fields()
		if _, ok := v.Get("EventEnqueuedUtcTime"); !ok {
			fields = append(fields[:len(fields):len(fields)], sqlval.Field{Name: "EventEnqueuedUtcTime", Value: sqlval.Datetime(arrival)})
		}
		if _, ok := v.Get("PartitionId"); !ok {
			fields = append(fields[:len(fields):len(fields)], sqlval.Field{Name: "PartitionId", Value: sqlval.Bigint(int64(p.partition))})
		}
		rows, err := x.engine.Push(stream.Event{Input: p.input.Name, Partition: p.partition, Arrival: arrival, Value: sqlval.Record(fields)})
		if err != nil {
			return err
		}
		x.pending = append(x.pending, rows...)
		if err := x.checkState(); err != nil {
			return err
		}
	}
	return nil
}

// decodeBody turns an event body into records: one JSON object, or the rows of a CSV body.
func decodeBody(in InputSpec, body []byte) ([]sqlval.Value, error) {
	if strings.EqualFold(in.Serialization, "csv") {
		evs, err := eventfile.ParseCSV("event body", body)
		if err != nil {
			return nil, err
		}
		vals := make([]sqlval.Value, len(evs))
		for i, e := range evs {
			vals[i] = e.Value
		}
		return vals, nil
	}
	v, err := sqlval.ParseJSON(body)
	if err == nil && v.Kind() != sqlval.KindRecord {
		err = fmt.Errorf("the event is JSON %s, not an object", v.Kind())
	}
	return []sqlval.Value{v}, err
}

func ticks(t time.Time) int64 { return t.UnixNano() / 100 }

// commit writes the pending rows to their sinks, then the checkpoint that covers them: a
// crash between the two replays those rows, and the sinks' upserts keep each once.
func (x *execution) commit(ctx context.Context) error {
	byOutput := map[string][]sink.Row{}
	for _, row := range x.pending {
		k := strings.ToLower(row.Output)
		byOutput[k] = append(byOutput[k], sink.Row{Time: row.Time, Key: row.Key, Data: row.JSON})
	}
	for name, rows := range byOutput {
		s := x.sinks[name]
		if err := x.r.retry(ctx, "output "+name, func() error { return s.Write(ctx, rows) }); err != nil {
			return err
		}
	}
	ck := &checkpoint{Offsets: x.offsets, Taken: time.Now().UTC(), Watermark: x.engine.Watermark(), Snapshot: x.engine.Snapshot()}
	if err := x.stateSize(int64(len(ck.Snapshot))); err != nil {
		return err // the last checkpoint within the budget stays the one to resume from
	}
	for in, parts := range x.dedups {
		if ck.Dedup == nil {
			ck.Dedup = map[string]map[int32][]byte{}
		}
		ck.Dedup[in] = map[int32][]byte{}
		for p, d := range parts {
			ck.Dedup[in][p] = d.appendState(nil)
		}
	}
	// In a cluster the checkpoint is a metadata write: retried while the metadata has no
	// leader; refused for good once another node holds the job's lease, or the node closes.
	final := func(err error) bool { return errcode.Is(err, errcode.Conflict) || x.r.m.b.Closed() }
	x.r.ckNum++
	err := x.r.retryUnless(ctx, "checkpoint", final, func() error {
		_, err := x.r.m.store.saveCheckpoint(ctx, x.r.spec.Name, x.r.lease, x.r.ckNum, ck)
		return err
	})
	if err != nil {
		return fmt.Errorf("job %s: writing its checkpoint: %w", x.r.spec.Name, err)
	}
	x.base.OutputRows += int64(len(x.pending))
	x.r.update(func(s *Status) {
		for name, rows := range byOutput {
			last := rows[len(rows)-1]
			if s.Outputs == nil {
				s.Outputs = map[string]OutputMark{}
			}
			s.Outputs[name] = OutputMark{Time: sink.TicksTime(last.Time), Key: last.Key}
		}
	})
	clear(x.pending)
	x.pending = x.pending[:0]
	x.lastCkpt = time.Now()
	x.r.update(func(s *Status) { s.LastCheckpoint = ck.Taken })
	return nil
}

// publish copies the counters into the runner's status.
func (x *execution) publish(backlog int64) {
	c := x.engine.Counters()
	wm := x.engine.Watermark()
	x.r.update(func(s *Status) {
		s.InputEvents, s.InputBytes, s.OutputRows = x.base.InputEvents, x.base.InputBytes, x.base.OutputRows
		s.DuplicateEvents = x.base.DuplicateEvents
		s.BackloggedEvents = backlog
		s.LateEvents, s.OutOfOrderEvents, s.EarlyEvents, s.DroppedEvents = c.Late, c.OutOfOrder, c.Early, c.Dropped
		s.ConversionErrors = x.base.ConversionErrors + c.Conversion
		s.RuntimeErrors = c.Runtime
		s.LastError = c.LastError
		if x.base.LastError != "" {
			s.LastError = x.base.LastError
		}
		if wm > 0 && wm < 1<<62 {
			s.Watermark = time.Unix(0, wm*100).UTC()
			s.WatermarkDelay = time.Since(s.Watermark).Seconds()
		}
	})
}
