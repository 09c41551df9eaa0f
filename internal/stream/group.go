package stream

import (
	"container/heap"

	"github.com/tandem-streaming/tandem/internal/sqlval"
	"github.com/tandem-streaming/tandem/internal/stream/agg"
)

// grouping is the GROUP BY of a SELECT: its window, its keys, its aggregates and their state.
type grouping struct {
	win  windowSpec
	keys []evalFn
	aggs *aggSlots

	fixed    map[int64]*windowState // hopping, tumbling, snapshot: by window end
	ends     timeHeap
	sliding  map[string]*slideState
	sessions map[string]*sessionState
	timers   timeHeap // sliding and session due times by key
	argBuf   []sqlval.Value
	keyBuf   []byte
	added    *int64 // the engine's estimate of state added (Engine.StateAdded)
}

// group is one group of a window: the first row (for the SELECT's non-aggregate columns) and
// the accumulators.
type group struct {
	key   string // canonical bytes of the GROUP BY values
	rep   *tuple
	repAn []sqlval.Value
	accs  []agg.Acc
}

// windowState holds the groups of one window in the order they were first seen.
type windowState struct {
	groups map[string]*group
	order  []*group
}

func newWindowState() *windowState { return &windowState{groups: map[string]*group{}} }

type slideEntry struct {
	ts int64
	t  *tuple
	an []sqlval.Value
}

// slideState is one key's rows inside the sliding window, and whether its content changed.
type slideState struct {
	rows    []slideEntry
	changed int64 // the latest time a row entered
}

// sessionState is one session: when it started, its last row, and its groups.
type sessionState struct {
	start, last int64
	groups      *windowState
}

// Estimated bytes of a group and of one accumulator, for Engine.StateAdded.
const (
	groupOverhead = 160
	accOverhead   = 48
)

func (g *grouping) grew(n int64) {
	if g.added != nil {
		*g.added += n
	}
}

func newGrouping(win windowSpec, keys []evalFn, aggs *aggSlots) *grouping {
	return &grouping{win: win, keys: keys, aggs: aggs, fixed: map[int64]*windowState{},
		sliding: map[string]*slideState{}, sessions: map[string]*sessionState{}}
}

// groupKey is the canonical bytes of the row's GROUP BY values, in a buffer reused by the next
// call.
func (g *grouping) groupKey(e *env, fns []evalFn) ([]byte, error) {
	g.keyBuf = g.keyBuf[:0]
	for _, k := range fns {
		v, err := k(e)
		if err != nil {
			return nil, err
		}
		g.keyBuf = v.AppendKey(g.keyBuf)
	}
	return g.keyBuf, nil
}

// add puts one row into its windows.
func (g *grouping) add(e *env) error {
	key, err := g.groupKey(e, g.keys)
	if err != nil {
		return err
	}
	t := e.t.ts
	switch g.win.kind {
	case winSnapshot:
		return g.addFixed(t, key, e)
	case winHopping:
		for end := ceilGrid(t, g.win.hop, g.win.offset); end-g.win.size < t; end += g.win.hop {
			if err := g.addFixed(end, key, e); err != nil {
				return err
			}
		}
		return nil
	case winSliding:
		s := g.sliding[string(key)]
		if s == nil {
			s = &slideState{}
			g.sliding[string(key)] = s
		}
		s.rows = append(s.rows, slideEntry{ts: t, t: e.t, an: e.an})
		s.changed = t
		g.timers.add(t, string(key))
		g.timers.add(t+g.win.size, string(key))
		return nil
	}
	return g.addSession(e, key)
}

func (g *grouping) addFixed(end int64, key []byte, e *env) error {
	w := g.fixed[end]
	if w == nil {
		w = newWindowState()
		g.fixed[end] = w
		g.ends.add(end, "")
	}
	return g.addTo(w, key, e)
}

// addTo adds the row to its group of a window, creating the group with the row as its first.
func (g *grouping) addTo(w *windowState, key []byte, e *env) error {
	gr := w.groups[string(key)]
	if gr == nil {
		gr = &group{key: string(key), rep: e.t, repAn: e.an, accs: make([]agg.Acc, len(g.aggs.specs))}
		for i, s := range g.aggs.specs {
			gr.accs[i] = agg.New(s)
		}
		w.groups[gr.key] = gr
		w.order = append(w.order, gr)
		g.grew(groupOverhead + int64(len(gr.key)) + accOverhead*int64(len(gr.accs)))
	}
	return g.accumulate(gr, e)
}

func (g *grouping) accumulate(gr *group, e *env) error {
	for i, fns := range g.aggs.args {
		args, err := evalAll(fns, e, g.argBuf)
		if err != nil {
			return err
		}
		g.argBuf = args
		for _, a := range args {
			g.grew(approxSize(a)) // what an accumulator may keep (COUNT(DISTINCT …), Collect)
		}
		if err := gr.accs[i].Add(args); err != nil {
			return err
		}
	}
	return nil
}

func (g *grouping) addSession(e *env, key []byte) error {
	key = append([]byte(nil), key...) // the partition key below reuses the buffer
	pk, err := g.groupKey(e, g.win.partition)
	if err != nil {
		return err
	}
	pkey := string(pk)
	t := e.t.ts
	s := g.sessions[pkey]
	if s == nil {
		s = &sessionState{start: t, last: t, groups: newWindowState()}
		g.sessions[pkey] = s
	}
	s.last = t
	heap.Push(&g.timers, timerEntry{g.sessionDue(s), pkey})
	return g.addTo(s.groups, key, e)
}

// sessionDue is when a session closes unless a row extends it: timeout after its last row, or
// the first max-duration check point (multiples of the max duration) where it is too long.
func (g *grouping) sessionDue(s *sessionState) int64 {
	check := ceilGrid(s.start+g.win.maxDur+1, g.win.maxDur, 0)
	return min(s.last+g.win.timeout, check)
}

func (g *grouping) nextTimer() (int64, bool) {
	t, ok := g.ends.next()
	if nt, has := g.timers.next(); has && (!ok || nt < t) {
		t, ok = nt, true
	}
	return t, ok
}

// closed is a finished group with the end of its window.
type closed struct {
	end int64
	gr  *group
}

// fire closes what is due at t, in a deterministic order.
func (g *grouping) fire(t int64) []closed {
	var out []closed
	g.ends.due(t)
	if w := g.fixed[t]; w != nil {
		delete(g.fixed, t)
		for _, gr := range w.order {
			out = append(out, closed{t, gr})
		}
	}
	for _, key := range g.timers.due(t) {
		switch g.win.kind {
		case winSliding:
			out = g.fireSliding(t, key, out)
		case winSession:
			out = g.fireSession(t, key, out)
		}
	}
	return out
}

// fireSliding emits the sliding window ending at t for one key when a row entered at t or
// left at t (the window is (t-size, t]) and the window is not empty.
func (g *grouping) fireSliding(t int64, key string, out []closed) []closed {
	s := g.sliding[key]
	if s == nil {
		return out
	}
	i := 0
	left := false
	for i < len(s.rows) && s.rows[i].ts <= t-g.win.size {
		left = left || s.rows[i].ts == t-g.win.size
		i++
	}
	s.rows = s.rows[i:]
	if len(s.rows) == 0 {
		delete(g.sliding, key)
		return out
	}
	if s.changed != t && !left {
		return out
	}
	gr := &group{rep: s.rows[0].t, repAn: s.rows[0].an, accs: make([]agg.Acc, len(g.aggs.specs))}
	for i, sp := range g.aggs.specs {
		gr.accs[i] = agg.New(sp)
	}
	for _, r := range s.rows {
		// A row whose aggregate arguments fail is left out of every window it is in (it was
		// counted as a runtime error when it entered).
		_ = g.accumulate(gr, &env{t: r.t, an: r.an, ts: r.ts})
	}
	return append(out, closed{t, gr})
}

// fireSession closes a session at its timeout, or at a max-duration check point (a new, empty
// session then starts there and takes the rows that keep arriving within the timeout).
func (g *grouping) fireSession(t int64, key string, out []closed) []closed {
	s := g.sessions[key]
	if s == nil || g.sessionDue(s) != t {
		return out // stale timer: the session was extended
	}
	for _, gr := range s.groups.order {
		out = append(out, closed{t, gr})
	}
	if s.last+g.win.timeout <= t {
		delete(g.sessions, key)
		return out
	}
	s.start, s.groups = t, newWindowState()
	heap.Push(&g.timers, timerEntry{g.sessionDue(s), key})
	return out
}
