package stream

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// A snapshot is the engine's whole state as bytes: the waiting events, every source's
// partitions, every join buffer, analytic history and open window with its accumulators. The
// job runner stores it together with the input offsets it corresponds to, so that a restarted
// job continues exactly where the snapshot was taken and emits the same rows.
//
// Layout: magic "TSS1", the SHA-256 of the query and options (a snapshot only loads into an
// engine compiled from the same query and options), then the sections in plan order. Numbers
// are varints; values use sqlval's binary codec.

var snapshotMagic = []byte("TSS1")

// ErrSnapshot is wrapped by every error loading a snapshot.
var ErrSnapshot = errors.New("stream: invalid snapshot")

// Fingerprint identifies the query text and options a snapshot belongs to.
func fingerprint(query string, o Options) [32]byte {
	ooo, late, early := o.ticks()
	return sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%d\x00%d", query, ooo, late, early, o.Policy))
}

type enc struct{ b []byte }

func (w *enc) i64(v int64)        { w.b = binary.AppendVarint(w.b, v) }
func (w *enc) n(v int)            { w.b = binary.AppendUvarint(w.b, uint64(v)) }
func (w *enc) str(s string)       { w.n(len(s)); w.b = append(w.b, s...) }
func (w *enc) val(v sqlval.Value) { w.b = v.AppendBinary(w.b) }
func (w *enc) flag(b bool) {
	if b {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *enc) vals(vs []sqlval.Value) {
	w.n(len(vs))
	for _, v := range vs {
		w.val(v)
	}
}

func (w *enc) tuple(t *tuple) {
	w.i64(t.ts)
	w.vals(t.b)
	for _, ts := range t.bts {
		w.i64(ts)
	}
	w.flag(t.meta != nil)
	if t.meta != nil {
		w.i64(int64(t.meta.partition))
		w.i64(t.meta.arrival)
	}
}

// Snapshot returns the engine's state. It also starts StateAdded again from zero.
func (e *Engine) Snapshot() []byte {
	e.added = 0
	w := &enc{b: append([]byte(nil), snapshotMagic...)}
	fp := e.fp
	w.b = append(w.b, fp[:]...)
	w.i64(e.done)
	w.n(len(e.queue))
	for _, te := range e.queue {
		w.i64(te.ts)
		w.n(te.source)
		w.str(te.ev.Input)
		w.i64(int64(te.ev.Partition))
		w.i64(te.ev.Arrival)
		w.val(te.ev.Value)
		w.i64(te.meta.arrival)
	}
	for _, s := range e.sources {
		s.snapshot(w)
	}
	for _, n := range e.plan.nodes {
		n.snapshot(w)
	}
	return w.b
}

func (s *source) snapshot(w *enc) {
	parts := sortedKeys(s.parts)
	w.n(len(parts))
	for _, p := range parts {
		ps := s.parts[p]
		w.i64(int64(p))
		w.i64(ps.maxTs)
		w.i64(ps.lastArrival)
		w.i64(ps.idle)
		subs := sortedKeys(ps.subs)
		w.n(len(subs))
		for _, k := range subs {
			w.str(k)
			w.i64(ps.subs[k])
		}
	}
}

func sortedKeys[K int32 | int64 | string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (n *selectNode) snapshot(w *enc) {
	for _, j := range n.joins {
		w.n(len(j.lefts))
		for _, pl := range j.lefts {
			w.tuple(pl.t)
			w.flag(pl.matched)
			w.i64(pl.due)
		}
		w.n(len(j.rights))
		for _, r := range j.rights {
			w.tuple(r)
		}
	}
	for _, a := range n.analytics {
		keys := sortedKeys(a.hist)
		w.n(len(keys))
		for _, k := range keys {
			h := a.hist[k]
			w.str(k)
			w.i64(h.first)
			w.n(len(h.ts))
			for i := range h.ts {
				w.i64(h.ts[i])
				w.val(h.vals[i])
			}
		}
	}
	for _, g := range n.groups {
		g.snapshot(w)
	}
}

func (g *grouping) snapshot(w *enc) {
	ends := sortedKeys(g.fixed)
	w.n(len(ends))
	for _, end := range ends {
		w.i64(end)
		g.windowSnapshot(w, g.fixed[end])
	}
	keys := sortedKeys(g.sliding)
	w.n(len(keys))
	for _, k := range keys {
		s := g.sliding[k]
		w.str(k)
		w.i64(s.changed)
		w.n(len(s.rows))
		for _, r := range s.rows {
			w.tuple(r.t)
			w.vals(r.an)
		}
	}
	keys = sortedKeys(g.sessions)
	w.n(len(keys))
	for _, k := range keys {
		s := g.sessions[k]
		w.str(k)
		w.i64(s.start)
		w.i64(s.last)
		g.windowSnapshot(w, s.groups)
	}
}

func (g *grouping) windowSnapshot(w *enc, ws *windowState) {
	w.n(len(ws.order))
	for _, gr := range ws.order {
		w.str(gr.key)
		w.tuple(gr.rep)
		w.vals(gr.repAn)
		for _, a := range gr.accs {
			st := a.AppendState(nil)
			w.n(len(st))
			w.b = append(w.b, st...)
		}
	}
}

// dec reads a snapshot; the first error sticks and every later read returns zero values.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
}

func (d *dec) i64() int64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail("truncated number")
		return 0
	}
	d.b = d.b[k:]
	return v
}

// n reads a count, which can be no larger than the bytes left (every element takes one).
func (d *dec) n() int {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 || v > uint64(len(d.b)) {
		d.fail("bad count")
		return 0
	}
	d.b = d.b[k:]
	return int(v)
}

func (d *dec) str() string {
	n := d.n()
	if d.err != nil || n > len(d.b) {
		d.fail("truncated string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) raw(n int) []byte {
	if d.err != nil || n > len(d.b) {
		d.fail("truncated bytes")
		return nil
	}
	r := d.b[:n]
	d.b = d.b[n:]
	return r
}

func (d *dec) flag() bool {
	r := d.raw(1)
	if len(r) != 1 {
		return false
	}
	if r[0] > 1 {
		d.fail("bad flag %d", r[0])
	}
	return r[0] == 1
}

func (d *dec) val() sqlval.Value {
	if d.err != nil {
		return sqlval.Null
	}
	v, rest, err := sqlval.DecodeBinary(d.b)
	if err != nil {
		d.fail("%v", err)
		return sqlval.Null
	}
	d.b = rest
	return v
}

func (d *dec) vals() []sqlval.Value {
	n := d.n()
	if n == 0 {
		return nil
	}
	vs := make([]sqlval.Value, n)
	for i := range vs {
		vs[i] = d.val()
	}
	return vs
}
