package stream

import (
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// selectNode runs one SELECT: its FROM stream, JOINs and APPLYs, analytic functions, WHERE,
// GROUP BY with a window (or a projection per row), HAVING and the SELECT items. Its rows go to
// the stream of its statement (a WITH step or an output).
type selectNode struct {
	from      int // stream id
	joins     []*joinOp
	analytics []*analyticSpec
	where     evalFn
	groups    []*grouping    // GROUP BY: one per window (several with Windows()); none: a row per row
	windowIDs []sqlval.Value // System.Window().Id of each grouping (NULL without Window('id', …))
	items     []item
	having    evalFn
	out       int // stream id
	keyBuf    []byte
	env       env // reused for each row: nothing keeps a pointer to it
}

// item is one SELECT item: a named value, or the fields of a record (*, alias.*, a.b.*).
type item struct {
	name string
	f    evalFn
	star evalFn // returns a record whose fields are copied
}

func (n *selectNode) nextTimer() (int64, bool) {
	t, ok := int64(0), false
	for _, j := range n.joins {
		if jt, has := j.nextTimer(); has && (!ok || jt < t) {
			t, ok = jt, true
		}
	}
	for _, g := range n.groups {
		if gt, has := g.nextTimer(); has && (!ok || gt < t) {
			t, ok = gt, true
		}
	}
	return t, ok
}

// step takes the node's input rows at time t and returns its output rows at t.
func (n *selectNode) step(t int64, cur [][]*tuple, c *Counters) []*tuple {
	rows := cur[n.from]
	for _, j := range n.joins {
		rows = j.step(t, rows, cur, c)
	}
	var out []*tuple
	for _, r := range rows {
		e := &n.env
		*e = env{t: r, ts: r.ts}
		if len(n.analytics) > 0 {
			e.an = make([]sqlval.Value, len(n.analytics))
			ok := true
			for i, a := range n.analytics {
				v, kb, err := a.compute(e, n.keyBuf)
				n.keyBuf = kb
				if err != nil {
					runtimeError(c, err)
					ok = false
					break
				}
				e.an[i] = v
			}
			if !ok {
				continue
			}
		}
		if n.where != nil {
			v, err := n.where(e)
			if err != nil {
				runtimeError(c, err)
				continue
			}
			if b, _ := truth(v); !b {
				continue
			}
		}
		if len(n.groups) > 0 {
			for _, g := range n.groups {
				if err := g.add(e); err != nil {
					runtimeError(c, err)
					break
				}
			}
			continue
		}
		if row, ok := n.project(e, c); ok {
			out = append(out, row)
		}
	}
	for gi, g := range n.groups {
		for _, cl := range g.fire(t) {
			e := &env{t: cl.gr.rep, an: cl.gr.repAn, ts: cl.end, aggs: make([]sqlval.Value, len(cl.gr.accs)), window: n.windowIDs[gi]}
			for i, a := range cl.gr.accs {
				e.aggs[i] = a.Result()
			}
			if row, ok := n.project(e, c); ok {
				out = append(out, row)
			}
		}
	}
	return out
}

// project evaluates the SELECT items (and HAVING) into the output row.
func (n *selectNode) project(e *env, c *Counters) (*tuple, bool) {
	fields := make([]sqlval.Field, 0, len(n.items))
	var vals []sqlval.Value
	if n.having != nil {
		vals = make([]sqlval.Value, len(n.items))
	}
	for i, it := range n.items {
		if it.star != nil {
			rec, err := it.star(e)
			if err != nil {
				runtimeError(c, err)
				return nil, false
			}
			fields = append(fields, rec.Fields()...)
			continue
		}
		v, err := it.f(e)
		if err != nil {
			runtimeError(c, err)
			return nil, false
		}
		fields = append(fields, sqlval.Field{Name: it.name, Value: v})
		if vals != nil {
			vals[i] = v
		}
	}
	if n.having != nil {
		e.items = vals
		v, err := n.having(e)
		if err != nil {
			runtimeError(c, err)
			return nil, false
		}
		if b, _ := truth(v); !b {
			return nil, false
		}
	}
	return singleTuple(e.ts, sqlval.Record(fields), e.t.meta), true
}

func runtimeError(c *Counters, err error) {
	c.Runtime++
	c.LastError = err.Error()
}
