package stream

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// TicksPerSecond is the resolution of every time in this package: 100 ns ticks since the Unix
// epoch, as sqlval datetimes.
const TicksPerSecond = 10_000_000

// Policy is what happens to an out-of-order or late event: Stream Analytics' "Handle other
// events" setting.
type Policy int

// The policies.
const (
	Adjust Policy = iota // move the event's timestamp (System.Timestamp()) to the bound
	Drop                 // drop the event
)

// Options are a job's event-ordering settings and its reference data.
type Options struct {
	OutOfOrder   time.Duration // out-of-order tolerance; default 0
	LateArrival  time.Duration // late-arrival tolerance; default 5 s (use a negative value for 0)
	EarlyArrival time.Duration // events this far ahead of their arrival are dropped; default 5 min
	Policy       Policy

	// Reference holds the rows of reference-data inputs by input name (case-insensitive).
	Reference map[string][]sqlval.Value

	// Partitions lists the partitions of a streaming input by input name. The watermark of an
	// input waits for every listed partition; an input without a list learns its partitions from
	// the events it sees, so an event of a partition not seen before may be late.
	Partitions map[string][]int32
}

func (o Options) ticks() (ooo, late, early int64) {
	ooo = int64(o.OutOfOrder / 100)
	late = 5 * TicksPerSecond
	if o.LateArrival > 0 {
		late = int64(o.LateArrival / 100)
	} else if o.LateArrival < 0 {
		late = 0
	}
	early = 300 * TicksPerSecond
	if o.EarlyArrival > 0 {
		early = int64(o.EarlyArrival / 100)
	}
	return ooo, late, early
}

// Event is one input event.
type Event struct {
	Input     string       // the input's name in the query (case-insensitive)
	Partition int32        // the input partition it was read from
	Arrival   int64        // EventEnqueuedUtcTime in ticks; 0 when unknown (see Push)
	Value     sqlval.Value // the event: a record
}

// Row is one output row.
type Row struct {
	Output string       // the INTO name as the query writes it ("output" when there is none)
	Time   int64        // System.Timestamp() of the row, in ticks
	Key    string       // deterministic row key: (Time, Key) is unique and orders one output
	Value  sqlval.Value // the row: a record with the SELECT's columns in order
	JSON   []byte       // Value as JSON, the bytes the key is derived from
}

// Counters are what the engine has counted since it started.
type Counters struct {
	InputEvents   int64 // events pushed
	Early         int64 // dropped because their time was too far ahead of their arrival
	Late          int64 // late events (adjusted or dropped)
	OutOfOrder    int64 // out-of-order events (adjusted or dropped)
	Dropped       int64 // late or out-of-order events dropped by the Drop policy
	Conversion    int64 // events dropped because a value could not be converted (TIMESTAMP BY)
	Runtime       int64 // rows dropped by an error while evaluating the query
	OutputRows    int64
	LastError     string // the most recent conversion or runtime error
	PendingEvents int64  // events waiting for the watermark
}

// Engine runs one compiled query. It is not safe for concurrent use.
type Engine struct {
	plan    *plan
	opts    Options
	sources []*source        // timed input sources
	byInput map[string][]int // input name (lower case) → indexes into sources
	queue   eventHeap        // events waiting for the watermark, all sources
	done    int64            // every step before this time has run
	cur     [][]*tuple       // rows of each stream at the current step
	out     []Row
	count   Counters
	fp      [32]byte // of the query and options, for snapshots
	added   int64    // estimated bytes of state added since the last Snapshot (StateAdded)
}

// Compile parses and plans a query.
func Compile(query string, opts Options) (*Engine, error) {
	q, err := saql.Parse(query)
	if err != nil {
		return nil, err
	}
	p, err := planQuery(query, q, opts)
	if err != nil {
		return nil, err
	}
	e := &Engine{plan: p, opts: opts, byInput: map[string][]int{}, done: math.MinInt64, fp: fingerprint(query, opts)}
	ooo, late, early := opts.ticks()
	for i, s := range p.sources {
		src := newSource(s, ooo, late, early, opts.Policy, partitionsOf(opts.Partitions, s.input))
		src.index = i
		e.sources = append(e.sources, src)
		e.byInput[strings.ToLower(s.input)] = append(e.byInput[strings.ToLower(s.input)], i)
	}
	e.cur = make([][]*tuple, len(p.streams))
	for _, n := range p.nodes {
		for _, g := range n.groups {
			g.added = &e.added
		}
	}
	return e, nil
}

// Input describes one input the query reads.
type Input struct {
	Name      string
	Reference bool // reference data (JOIN … with no time), not a stream
}

// Inputs lists the inputs the query names, streams first, in order of first use.
func (e *Engine) Inputs() []Input { return e.plan.inputs }

// Outputs lists the outputs the query writes, in order of first use.
func (e *Engine) Outputs() []string { return e.plan.outputs }

// Counters returns the engine's counters.
func (e *Engine) Counters() Counters {
	c := e.count
	c.PendingEvents = int64(len(e.queue))
	return c
}

// Push adds one event and returns the output rows that became final. An event of an input the
// query does not read is an error. Arrival 0 means the arrival time is unknown: a TIMESTAMP BY
// input then takes the largest event time seen on the partition so far (arrival = event time
// for events in order), and an arrival-time input takes the previous event's arrival plus 1 ms.
func (e *Engine) Push(ev Event) ([]Row, error) {
	idx, ok := e.byInput[strings.ToLower(ev.Input)]
	if !ok {
		return nil, fmt.Errorf("stream: the query reads no input named %q; it reads %s", ev.Input, e.inputNames())
	}
	e.count.InputEvents++
	e.added += approxSize(ev.Value)
	for _, i := range idx {
		e.admit(i, ev)
	}
	return e.advance(e.watermark())
}

func (e *Engine) admit(i int, ev Event) {
	te, verdict, err := e.sources[i].admit(ev)
	switch verdict {
	case verdictEarly:
		e.count.Early++
		return
	case verdictConversion:
		e.count.Conversion++
		e.count.LastError = err.Error()
		return
	case verdictLateDrop:
		e.count.Late++
		e.count.Dropped++
		return
	case verdictOrderDrop:
		e.count.OutOfOrder++
		e.count.Dropped++
		return
	case verdictLate:
		e.count.Late++
	case verdictOrder:
		e.count.OutOfOrder++
	}
	// An event behind time already processed (a partition that was idle, or not known) cannot
	// go back in time: it is adjusted to the next step, or dropped.
	if te.ts < e.done {
		if e.opts.Policy == Drop {
			e.count.Late++
			e.count.Dropped++
			return
		}
		if verdict == verdictNone {
			e.count.Late++
		}
		te.ts = e.done
	}
	e.queue.push(te)
}

// Idle tells the engine that a partition of an input has no event with an arrival time before
// arrival (the reader is at the end of the partition and the clock says arrival). It lets the
// watermark move while a partition is quiet, as Stream Analytics does with "the current
// estimated arrival time minus the late arrival tolerance".
func (e *Engine) Idle(input string, partition int32, arrival int64) ([]Row, error) {
	for _, i := range e.byInput[strings.ToLower(input)] {
		e.sources[i].idle(partition, arrival)
	}
	return e.advance(e.watermark())
}

// Flush ends the input: every pending event is processed and every open window is closed.
func (e *Engine) Flush() ([]Row, error) {
	return e.advance(math.MaxInt64)
}

func partitionsOf(m map[string][]int32, input string) []int32 {
	for k, v := range m {
		if strings.EqualFold(k, input) {
			return v
		}
	}
	return nil
}

func (e *Engine) inputNames() string {
	var names []string
	for _, in := range e.plan.inputs {
		names = append(names, in.Name)
	}
	return strings.Join(names, ", ")
}

// watermark is the time before which no new event can appear: the smallest watermark of all
// sources.
func (e *Engine) watermark() int64 {
	w := int64(math.MaxInt64)
	for _, s := range e.sources {
		w = min(w, s.watermark())
	}
	return w
}

// Watermark returns the engine's watermark: every event and window before it has been
// processed. It is math.MinInt64 until every partition has been seen.
func (e *Engine) Watermark() int64 { return e.done }

// advance runs every step before w.
func (e *Engine) advance(w int64) ([]Row, error) {
	e.out = e.out[:0]
	for {
		t, ok := e.nextStep()
		if !ok || t >= w {
			break
		}
		e.step(t)
		e.done = t + 1
	}
	if w > e.done && w != math.MaxInt64 {
		e.done = w
	}
	rows := make([]Row, len(e.out))
	copy(rows, e.out)
	e.count.OutputRows += int64(len(rows))
	return rows, nil
}

// nextStep is the earliest time at which an event waits or an operator has something due.
func (e *Engine) nextStep() (int64, bool) {
	t, ok := int64(math.MaxInt64), false
	if len(e.queue) > 0 {
		t, ok = e.queue[0].ts, true
	}
	for _, n := range e.plan.nodes {
		if nt, has := n.nextTimer(); has && nt < t {
			t, ok = nt, true
		}
	}
	return t, ok
}

// step runs time t: the events at t enter their source streams, each node in dependency order
// takes its rows at t and fires what is due at t, and the output streams' rows become output.
func (e *Engine) step(t int64) {
	for len(e.queue) > 0 && e.queue[0].ts == t {
		te := e.queue.pop()
		id := e.plan.sources[te.source].stream
		te.tup.init(t, te.ev.Value, &te.meta)
		e.cur[id] = append(e.cur[id], &te.tup)
	}
	for _, n := range e.plan.nodes {
		rows := n.step(t, e.cur, &e.count)
		e.cur[n.out] = append(e.cur[n.out], rows...)
	}
	e.collect(t)
	for i := range e.cur {
		clear(e.cur[i])
		e.cur[i] = e.cur[i][:0]
	}
}

// StateAdded is an estimate, in bytes, of the state the engine has taken on since the last
// Snapshot: the events pushed (waiting for the watermark, buffered by joins and analytic
// functions) and what rows add to windows (a group per window a row joins, and the aggregate
// arguments). It counts additions only, never what windows and buffers release, so it
// overestimates; a runner that must keep the state within a budget takes a Snapshot, whose size
// is the real measure, whenever StateAdded reaches a fraction of the budget. Snapshot starts the
// count again from zero.
func (e *Engine) StateAdded() int64 { return e.added }

// approxSize estimates the memory a value holds.
func approxSize(v sqlval.Value) int64 {
	const word = 16
	switch v.Kind() {
	case sqlval.KindRecord:
		n := int64(word)
		for _, f := range v.Fields() {
			n += int64(len(f.Name)) + approxSize(f.Value)
		}
		return n
	case sqlval.KindArray:
		n := int64(word)
		for _, x := range v.Elems() {
			n += approxSize(x)
		}
		return n
	case sqlval.KindString:
		return word + int64(len(v.Str()))
	}
	return word
}
