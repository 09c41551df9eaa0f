package stream

import (
	"bytes"
	"container/heap"
	"fmt"
	"math"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// source is one timed input of the plan: an input read with one TIMESTAMP BY (or by arrival
// time). It gives each event its time and applies the ordering policies per partition, or per
// substream key with TIMESTAMP BY … OVER.
type source struct {
	spec             *sourceSpec
	ooo, late, early int64
	policy           Policy
	parts            map[int32]*partState
	index            int // in the plan's sources
}

// partState is what a source remembers about one partition.
type partState struct {
	maxTs       int64            // largest event time admitted
	lastArrival int64            // arrival of the latest event (for unknown arrivals)
	idle        int64            // the latest arrival time Idle reported
	subs        map[string]int64 // substream key → largest event time (TIMESTAMP BY … OVER)
}

type verdict int

const (
	verdictNone       verdict = iota
	verdictLate               // adjusted: late
	verdictOrder              // adjusted: out of order
	verdictLateDrop           // dropped: late
	verdictOrderDrop          // dropped: out of order
	verdictEarly              // dropped: too early
	verdictConversion         // dropped: its timestamp is not a datetime
)

// timedEvent is an event admitted by a source, waiting in the heap.
type timedEvent struct {
	ts     int64
	key    []byte // canonical bytes of the event, the tie-break that makes order deterministic; computed on the first tie
	source int
	ev     Event
	meta   eventMeta
	tup    tuple // the event as a row, once its step comes
}

// eventMeta holds the system columns of an input event.
type eventMeta struct {
	partition int32
	arrival   int64
}

func newSource(spec *sourceSpec, ooo, late, early int64, policy Policy, partitions []int32) *source {
	s := &source{spec: spec, ooo: ooo, late: late, early: early, policy: policy, parts: map[int32]*partState{}}
	for _, p := range partitions {
		s.parts[p] = newPartState()
	}
	return s
}

func newPartState() *partState {
	return &partState{maxTs: math.MinInt64, lastArrival: math.MinInt64, idle: math.MinInt64}
}

func (s *source) part(p int32) *partState {
	ps, ok := s.parts[p]
	if !ok {
		ps = newPartState()
		s.parts[p] = ps
	}
	return ps
}

// admit gives an event its time and applies the policies.
func (s *source) admit(ev Event) (*timedEvent, verdict, error) {
	ps := s.part(ev.Partition)
	if s.spec.tsExpr == nil {
		return s.admitByArrival(ev, ps), verdictNone, nil
	}
	env := &env{t: &tuple{b: []sqlval.Value{ev.Value}, bts: []int64{0}, meta: &eventMeta{partition: ev.Partition, arrival: ev.Arrival}}}
	v, err := s.spec.tsExpr(env)
	if err == nil && !v.IsNull() {
		v, err = sqlval.Cast(v, sqlval.KindDatetime)
	}
	if err != nil || v.IsNull() {
		if err == nil {
			err = fmt.Errorf("TIMESTAMP BY %s is NULL", s.spec.tsText)
		}
		return nil, verdictConversion, fmt.Errorf("input %s partition %d: event dropped: %w", s.spec.input, ev.Partition, err)
	}
	e := v.Ticks()
	a := ev.Arrival
	if a == 0 {
		a = max(ps.lastArrival, e)
	}
	ps.lastArrival = max(ps.lastArrival, a)
	if e-a > s.early {
		return nil, verdictEarly, nil
	}
	vd := verdictNone
	if a-e > s.late {
		if s.policy == Drop {
			return nil, verdictLateDrop, nil
		}
		e, vd = a-s.late, verdictLate
	}
	sub := ""
	if s.spec.over != nil {
		k, err := s.spec.over(env)
		if err != nil {
			return nil, verdictConversion, fmt.Errorf("input %s: TIMESTAMP BY … OVER key: %w", s.spec.input, err)
		}
		sub = string(k.AppendKey(nil))
	}
	if bound := s.orderBound(ps, sub); e < bound {
		if s.policy == Drop {
			return nil, verdictOrderDrop, nil
		}
		if vd == verdictNone {
			vd = verdictOrder
		}
		e = bound
	}
	s.raise(ps, sub, e)
	return s.timed(ev, e, a), vd, nil
}

// orderBound is the time below which an event is out of order: the partition's (or
// substream's) largest event time minus the out-of-order tolerance. With substreams, an event
// may also be up to the late-arrival tolerance behind the partition's other substreams.
func (s *source) orderBound(ps *partState, sub string) int64 {
	if s.spec.over == nil {
		return sat(ps.maxTs, -s.ooo)
	}
	b := sat(ps.maxTs, -s.late)
	if m, ok := ps.subs[sub]; ok {
		b = max(b, sat(m, -s.ooo))
	}
	return b
}

func (s *source) raise(ps *partState, sub string, e int64) {
	ps.maxTs = max(ps.maxTs, e)
	if s.spec.over != nil {
		if ps.subs == nil {
			ps.subs = map[string]int64{}
		}
		if m, ok := ps.subs[sub]; !ok || e > m {
			ps.subs[sub] = e
		}
	}
}

// admitByArrival times an event by its arrival: the tolerances do not apply.
func (s *source) admitByArrival(ev Event, ps *partState) *timedEvent {
	a := ev.Arrival
	if a == 0 {
		a = 0
		if ps.lastArrival != math.MinInt64 {
			a = ps.lastArrival + TicksPerSecond/1000
		}
	}
	a = max(a, ps.maxTs)
	ps.lastArrival = max(ps.lastArrival, a)
	ps.maxTs = a
	return s.timed(ev, a, a)
}

func (s *source) timed(ev Event, ts, arrival int64) *timedEvent {
	return &timedEvent{ts: ts, source: s.index, ev: ev, meta: eventMeta{partition: ev.Partition, arrival: arrival}}
}

// idle records that a partition has nothing before arrival.
func (s *source) idle(p int32, arrival int64) {
	ps := s.part(p)
	ps.idle = max(ps.idle, arrival)
}

// watermark is the time before which this source will admit no more events.
func (s *source) watermark() int64 {
	if len(s.parts) == 0 {
		return math.MinInt64
	}
	w := int64(math.MaxInt64)
	for _, ps := range s.parts {
		w = min(w, s.partWatermark(ps))
	}
	return w
}

func (s *source) partWatermark(ps *partState) int64 {
	switch {
	case s.spec.tsExpr == nil:
		return max(ps.maxTs, ps.idle)
	case s.spec.over != nil:
		return max(sat(ps.maxTs, -s.late), sat(ps.idle, -s.late))
	default:
		return max(sat(ps.maxTs, -s.ooo), sat(ps.idle, -s.late))
	}
}

// sat adds d to t, staying at the ends of the int64 range.
func sat(t, d int64) int64 {
	if t == math.MinInt64 || t == math.MaxInt64 {
		return t
	}
	r := t + d
	if (d > 0 && r < t) || (d < 0 && r > t) {
		if d > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return r
}

// eventHeap orders waiting events by (time, canonical bytes, source).
type eventHeap []*timedEvent

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	if a.key == nil {
		a.key = a.ev.Value.AppendKey(nil)
	}
	if b.key == nil {
		b.key = b.ev.Value.AppendKey(nil)
	}
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.source < b.source
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*timedEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

func (h *eventHeap) push(te *timedEvent) { heap.Push(h, te) }
func (h *eventHeap) pop() *timedEvent    { return heap.Pop(h).(*timedEvent) }
