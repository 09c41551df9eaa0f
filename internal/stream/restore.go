package stream

import (
	"bytes"
	"container/heap"

	"github.com/tandem-streaming/tandem/internal/stream/agg"
)

// Restore loads a snapshot into an engine freshly compiled from the same query and options.
// On error the engine must not be used.
func (e *Engine) Restore(snapshot []byte) error {
	d := &dec{b: snapshot}
	if !bytes.HasPrefix(snapshot, snapshotMagic) || len(snapshot) < len(snapshotMagic)+32 {
		d.fail("not a snapshot of this engine version")
		return d.err
	}
	d.b = d.b[len(snapshotMagic):]
	if !bytes.Equal(d.raw(32), e.fp[:]) {
		d.fail("the snapshot was taken by a job with another query or other event-ordering options; start the job from its inputs instead")
		return d.err
	}
	e.done = d.i64()
	n := d.n()
	e.queue = e.queue[:0]
	for range n {
		te := &timedEvent{ts: d.i64(), source: d.n()}
		te.ev = Event{Input: d.str(), Partition: int32(d.i64()), Arrival: d.i64(), Value: d.val()}
		te.meta = eventMeta{partition: te.ev.Partition, arrival: d.i64()}
		if te.source >= len(e.sources) {
			d.fail("event of source %d; the query has %d", te.source, len(e.sources))
		}
		e.queue = append(e.queue, te)
	}
	heap.Init(&e.queue)
	for _, s := range e.sources {
		s.restore(d)
	}
	for _, nd := range e.plan.nodes {
		nd.restore(d)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes left over", len(d.b))
	}
	return d.err
}

func (d *dec) tuple() *tuple {
	t := &tuple{ts: d.i64()}
	t.b = d.vals()
	t.bts = make([]int64, len(t.b))
	for i := range t.bts {
		t.bts[i] = d.i64()
	}
	if d.flag() {
		t.meta = &eventMeta{partition: int32(d.i64()), arrival: d.i64()}
	}
	return t
}

func (s *source) restore(d *dec) {
	n := d.n()
	s.parts = map[int32]*partState{}
	for range n {
		p := int32(d.i64())
		ps := &partState{maxTs: d.i64(), lastArrival: d.i64(), idle: d.i64()}
		if k := d.n(); k > 0 {
			ps.subs = map[string]int64{}
			for range k {
				ps.subs[d.str()] = d.i64()
			}
		}
		s.parts[p] = ps
	}
}

func (n *selectNode) restore(d *dec) {
	for _, j := range n.joins {
		j.lefts, j.rights, j.unmatch = nil, nil, nil
		for range d.n() {
			pl := &pendingLeft{t: d.tuple(), matched: d.flag(), due: d.i64()}
			j.lefts = append(j.lefts, pl)
			if j.outer && !pl.matched {
				j.unmatch.add(pl.due, "")
			}
		}
		for range d.n() {
			j.rights = append(j.rights, d.tuple())
		}
	}
	for _, a := range n.analytics {
		a.hist = map[string]*analyticHist{}
		for range d.n() {
			k := d.str()
			h := &analyticHist{first: d.i64()}
			for range d.n() {
				h.ts = append(h.ts, d.i64())
				h.vals = append(h.vals, d.val())
			}
			a.hist[k] = h
		}
	}
	for _, g := range n.groups {
		g.restore(d)
	}
}

func (g *grouping) restore(d *dec) {
	g.fixed, g.ends = map[int64]*windowState{}, nil
	for range d.n() {
		end := d.i64()
		g.fixed[end] = g.windowRestore(d)
		g.ends.add(end, "")
	}
	g.sliding, g.timers = map[string]*slideState{}, nil
	for range d.n() {
		k := d.str()
		s := &slideState{changed: d.i64()}
		for range d.n() {
			r := slideEntry{t: d.tuple()}
			r.ts, r.an = r.t.ts, d.vals()
			s.rows = append(s.rows, r)
			g.timers.add(r.ts+g.win.size, k)
		}
		g.sliding[k] = s
	}
	g.sessions = map[string]*sessionState{}
	for range d.n() {
		k := d.str()
		s := &sessionState{start: d.i64(), last: d.i64()}
		s.groups = g.windowRestore(d)
		g.sessions[k] = s
		heap.Push(&g.timers, timerEntry{g.sessionDue(s), k})
	}
}

func (g *grouping) windowRestore(d *dec) *windowState {
	ws := newWindowState()
	for range d.n() {
		gr := &group{key: d.str(), rep: d.tuple(), repAn: d.vals(), accs: make([]agg.Acc, len(g.aggs.specs))}
		for i, spec := range g.aggs.specs {
			st := d.raw(d.n())
			if d.err != nil {
				return ws
			}
			a, err := agg.Restore(spec, st)
			if err != nil {
				d.fail("%v", err)
				return ws
			}
			gr.accs[i] = a
		}
		ws.groups[gr.key] = gr
		ws.order = append(ws.order, gr)
	}
	return ws
}
