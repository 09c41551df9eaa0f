package stream

import (
	"math"

	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

type joinMode int

const (
	joinStream joinMode = iota // stream to stream, bounded by DATEDIFF
	joinRef                    // stream to reference data
	joinApply                  // CROSS/OUTER APPLY GetArrayElements / GetRecordProperties
)

// joinOp is one JOIN or APPLY of a SELECT. It takes the rows built so far (the left side) and
// adds one binding.
type joinOp struct {
	mode  joinMode
	outer bool // LEFT JOIN, OUTER APPLY
	on    evalFn

	// stream joins
	right    int   // stream id of the right side
	span     int64 // how long rows wait for a partner, in ticks
	boundArg int   // the left binding DATEDIFF measures from
	forward  int64 // right rows can match up to (forward+1) units after the left row's unit
	unit     int64
	lefts    []*pendingLeft
	rights   []*tuple
	unmatch  timeHeap

	// reference joins
	refRows []sqlval.Value

	// APPLY
	apply      evalFn
	properties bool // GetRecordProperties (else GetArrayElements)
}

type pendingLeft struct {
	t       *tuple
	matched bool
	due     int64 // LEFT JOIN: when it can no longer match
}

func (j *joinOp) nextTimer() (int64, bool) {
	if j.mode != joinStream || !j.outer {
		return 0, false
	}
	return j.unmatch.next()
}

func combine(l *tuple, r sqlval.Value, rts, ts int64) *tuple {
	b := make([]sqlval.Value, len(l.b)+1)
	copy(b, l.b)
	b[len(l.b)] = r
	bts := make([]int64, len(l.bts)+1)
	copy(bts, l.bts)
	bts[len(l.bts)] = rts
	return &tuple{ts: ts, b: b, bts: bts, meta: l.meta}
}

func (j *joinOp) match(l *tuple, r sqlval.Value, rts, ts int64, c *Counters) *tuple {
	cand := combine(l, r, rts, ts)
	v, err := j.on(&env{t: cand, ts: ts})
	if err != nil {
		runtimeError(c, err)
		return nil
	}
	if ok, _ := truth(v); !ok {
		return nil
	}
	return cand
}

// step joins the left rows at t with the right side.
func (j *joinOp) step(t int64, lefts []*tuple, cur [][]*tuple, c *Counters) []*tuple {
	switch j.mode {
	case joinRef:
		return j.stepRef(lefts, c)
	case joinApply:
		return j.stepApply(lefts, c)
	}
	var out []*tuple
	newRights := cur[j.right]
	var fresh []*pendingLeft
	for _, l := range lefts {
		pl := &pendingLeft{t: l}
		for _, r := range j.rights {
			if m := j.match(l, r.b[0], r.ts, t, c); m != nil {
				out, pl.matched = append(out, m), true
			}
		}
		for _, r := range newRights {
			if m := j.match(l, r.b[0], r.ts, t, c); m != nil {
				out, pl.matched = append(out, m), true
			}
		}
		fresh = append(fresh, pl)
	}
	for _, r := range newRights {
		for _, pl := range j.lefts {
			if m := j.match(pl.t, r.b[0], r.ts, t, c); m != nil {
				out, pl.matched = append(out, m), true
			}
		}
	}
	for _, pl := range fresh {
		if j.outer {
			pl.due = max(t, floorGrid(pl.t.bts[j.boundArg], j.unit)+(j.forward+1)*j.unit)
			j.unmatch.add(pl.due, "")
		}
		j.lefts = append(j.lefts, pl)
	}
	j.rights = append(j.rights, newRights...)
	out = append(out, j.fireUnmatched(t)...)
	j.evict(t)
	return out
}

// fireUnmatched emits the LEFT JOIN rows whose left side found no partner in time.
func (j *joinOp) fireUnmatched(t int64) []*tuple {
	if !j.outer {
		return nil
	}
	j.unmatch.due(t)
	var out []*tuple
	for _, pl := range j.lefts {
		if pl.due == t && !pl.matched {
			pl.matched = true
			out = append(out, combine(pl.t, sqlval.Null, t, t))
		}
	}
	return out
}

// evict forgets rows that can no longer match.
func (j *joinOp) evict(t int64) {
	from := sat(t, -j.span)
	k := 0
	for _, pl := range j.lefts {
		if pl.t.ts >= from || (j.outer && pl.due > t) {
			j.lefts[k] = pl
			k++
		}
	}
	clear(j.lefts[k:])
	j.lefts = j.lefts[:k]
	k = 0
	for _, r := range j.rights {
		if r.ts >= from {
			j.rights[k] = r
			k++
		}
	}
	clear(j.rights[k:])
	j.rights = j.rights[:k]
}

func floorGrid(t, step int64) int64 {
	q := t / step
	if t%step != 0 && t < 0 {
		q--
	}
	return q * step
}

func (j *joinOp) stepRef(lefts []*tuple, c *Counters) []*tuple {
	var out []*tuple
	for _, l := range lefts {
		matched := false
		for _, r := range j.refRows {
			if m := j.match(l, r, l.ts, l.ts, c); m != nil {
				out, matched = append(out, m), true
			}
		}
		if !matched && j.outer {
			out = append(out, combine(l, sqlval.Null, l.ts, l.ts))
		}
	}
	return out
}

// stepApply expands each row by the elements of an array (ArrayIndex, ArrayValue) or the
// properties of a record (PropertyName, PropertyValue).
func (j *joinOp) stepApply(lefts []*tuple, c *Counters) []*tuple {
	var out []*tuple
	for _, l := range lefts {
		v, err := j.apply(&env{t: l, ts: l.ts})
		if err != nil {
			runtimeError(c, err)
			continue
		}
		n := 0
		if j.properties {
			for _, f := range v.Fields() {
				out = append(out, combine(l, sqlval.Record([]sqlval.Field{
					{Name: "PropertyName", Value: sqlval.String(f.Name)}, {Name: "PropertyValue", Value: f.Value}}), l.ts, l.ts))
				n++
			}
		} else {
			for i, e := range v.Elems() {
				out = append(out, combine(l, sqlval.Record([]sqlval.Field{
					{Name: "ArrayIndex", Value: sqlval.Bigint(int64(i))}, {Name: "ArrayValue", Value: e}}), l.ts, l.ts))
				n++
			}
		}
		if n == 0 && j.outer {
			out = append(out, combine(l, sqlval.Null, l.ts, l.ts))
		}
	}
	return out
}

// joinBound finds DATEDIFF(unit, a, b) BETWEEN lo AND hi in a JOIN's ON condition where one of
// a, b is the joined source and the other an earlier one, and sets how long rows wait.
func (j *joinOp) joinBound(on saql.Expr, sc *scope, right int) bool {
	found := false
	var walk func(x saql.Expr)
	walk = func(x saql.Expr) {
		switch x := x.(type) {
		case *saql.ParenExpr:
			walk(x.X)
		case *saql.BinaryExpr:
			if x.Op == "AND" {
				walk(x.L)
				walk(x.R)
			}
		case *saql.BetweenExpr:
			if found || x.Not {
				return
			}
			found = j.boundFrom(x, sc, right)
		}
	}
	walk(on)
	return found
}

func (j *joinOp) boundFrom(x *saql.BetweenExpr, sc *scope, right int) bool {
	call, ok := x.X.(*saql.FuncCall)
	if !ok || call.FuncName() != "DATEDIFF" || len(call.Args) != 3 {
		return false
	}
	unit, ok := unitOf(call.Args[0])
	lo, ok1 := intLiteral(x.Lo)
	hi, ok2 := intLiteral(x.Hi)
	if !ok || !ok1 || !ok2 || lo > hi {
		return false
	}
	idx := func(e saql.Expr) int {
		c, ok := e.(*saql.ColumnRef)
		if !ok || len(c.Parts) != 1 {
			return -1
		}
		return sc.bindingIndex(c.Parts[0].Name)
	}
	a, b := idx(call.Args[1]), idx(call.Args[2])
	switch {
	case a >= 0 && a < right && b == right:
		j.boundArg, j.forward = a, hi
	case b >= 0 && b < right && a == right:
		j.boundArg, j.forward = b, -lo
	default:
		return false
	}
	j.unit = unit
	j.span = (max(abs(lo), abs(hi)) + 1) * unit
	return true
}

func abs(x int64) int64 {
	if x < 0 {
		if x == math.MinInt64 {
			return math.MaxInt64
		}
		return -x
	}
	return x
}
