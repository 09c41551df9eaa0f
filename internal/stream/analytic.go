package stream

import (
	"math"

	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// Analytic functions (LAG, ISFIRST, LAST) look at earlier rows of the same SELECT. They are
// computed for every row, in order, before WHERE ("ISFIRST is not affected by predicates in the
// WHERE clause"), and their values are read by the row's expressions from env.an.

type analyticKind int

const (
	anLag analyticKind = iota
	anIsFirst
	anLast
)

// analyticSpec is one analytic call and its state.
type analyticSpec struct {
	kind      analyticKind
	arg       evalFn // LAG/LAST: the value
	offset    int    // LAG: how many matching rows back
	def       evalFn // LAG: the default, or nil
	partition []evalFn
	when      evalFn
	limit     int64 // LIMIT DURATION in ticks; 0 = none
	interval  int64 // ISFIRST: the interval in ticks
	hist      map[string]*analyticHist
}

// analyticHist is what one partition of an analytic call remembers.
type analyticHist struct {
	ts    []int64
	vals  []sqlval.Value
	first int64 // ISFIRST: end of the interval whose first row has been seen
}

// analytic compiles LAG(expr [, offset [, default]]), ISFIRST(unit, size) or LAST(expr), each
// with OVER ([PARTITION BY …] [LIMIT DURATION(unit, n)] [WHEN cond]).
func (sc *scope) analytic(x *saql.FuncCall, name string) (evalFn, error) {
	if sc.analytics == nil {
		return nil, errAt(x.At, "use it in the SELECT items or WHERE of a SELECT over a stream", "%s is not allowed here", x.Name[0].Name)
	}
	inner := &scope{p: sc.p, bindings: sc.bindings}
	a := &analyticSpec{hist: map[string]*analyticHist{}, offset: 1}
	var err error
	switch name {
	case "LAG":
		if len(x.Args) < 1 || len(x.Args) > 3 {
			return nil, errAt(x.At, "write LAG(expr [, offset [, default]]) OVER (LIMIT DURATION(unit, n))", "LAG takes 1 to 3 arguments, got %d", len(x.Args))
		}
		if a.arg, err = inner.compile(x.Args[0]); err != nil {
			return nil, err
		}
		if len(x.Args) > 1 {
			n, ok := intLiteral(x.Args[1])
			if !ok || n < 1 {
				return nil, errAt(x.Args[1].Pos(), "write a whole number such as 1", "the LAG offset must be a positive integer constant")
			}
			a.offset = int(n)
		}
		if len(x.Args) > 2 {
			if a.def, err = inner.compile(x.Args[2]); err != nil {
				return nil, err
			}
		}
	case "LAST":
		if len(x.Args) != 1 {
			return nil, errAt(x.At, "write LAST(expr) OVER (LIMIT DURATION(unit, n))", "LAST takes 1 argument, got %d", len(x.Args))
		}
		a.kind = anLast
		if a.arg, err = inner.compile(x.Args[0]); err != nil {
			return nil, err
		}
	case "ISFIRST":
		a.kind = anIsFirst
		if a.interval, err = durationArgs(x, x.Args); err != nil {
			return nil, err
		}
	}
	if o := x.Over; o != nil {
		if len(o.OrderBy) > 0 {
			return nil, errAt(o.At, "remove ORDER BY", "%s takes no ORDER BY", x.Name[0].Name)
		}
		if a.partition, err = inner.compileAll(o.PartitionBy); err != nil {
			return nil, err
		}
		if o.Limit != nil {
			if a.limit, err = durationArgs(x, []saql.Expr{&o.Limit.Unit, o.Limit.Size}); err != nil {
				return nil, err
			}
		}
		if o.When != nil {
			if a.when, err = inner.compile(o.When); err != nil {
				return nil, err
			}
		}
	}
	slot := len(*sc.analytics)
	*sc.analytics = append(*sc.analytics, a)
	return func(e *env) (sqlval.Value, error) { return e.an[slot], nil }, nil
}

func intLiteral(x saql.Expr) (int64, bool) {
	neg := false
	if u, ok := x.(*saql.UnaryExpr); ok && u.Op == "-" {
		neg, x = true, u.X
	}
	n, ok := x.(*saql.NumberLit)
	if !ok || n.Float {
		return 0, false
	}
	v, err := numberValue(n)
	if err != nil || v.Kind() != sqlval.KindBigint {
		return 0, false
	}
	if neg {
		return -v.Int(), true
	}
	return v.Int(), true
}

// compute returns the call's value for the row in e and records the row.
func (a *analyticSpec) compute(e *env, keyBuf []byte) (sqlval.Value, []byte, error) {
	keyBuf = keyBuf[:0]
	for _, p := range a.partition {
		v, err := p(e)
		if err != nil {
			return sqlval.Null, keyBuf, err
		}
		keyBuf = v.AppendKey(keyBuf)
	}
	h := a.hist[string(keyBuf)]
	if h == nil {
		h = &analyticHist{first: math.MinInt64}
		a.hist[string(keyBuf)] = h
	}
	t := e.t.ts
	match := true
	if a.when != nil {
		w, err := a.when(e)
		if err != nil {
			return sqlval.Null, keyBuf, err
		}
		match, _ = truth(w)
	}
	if a.limit > 0 {
		h.expire(t - a.limit)
	}
	switch a.kind {
	case anIsFirst:
		end := ceilGrid(t, a.interval, 0)
		if !match || h.first == end {
			return sqlval.Bigint(0), keyBuf, nil
		}
		h.first = end
		return sqlval.Bigint(1), keyBuf, nil
	case anLast:
		if match {
			if err := h.record(a, e, t); err != nil {
				return sqlval.Null, keyBuf, err
			}
		}
		if n := len(h.vals); n > 0 {
			return h.vals[n-1], keyBuf, nil
		}
		return sqlval.Null, keyBuf, nil
	}
	out := sqlval.Null
	if n := len(h.vals); n >= a.offset {
		out = h.vals[n-a.offset]
	} else if a.def != nil {
		v, err := a.def(e)
		if err != nil {
			return sqlval.Null, keyBuf, err
		}
		out = v
	}
	if match {
		if err := h.record(a, e, t); err != nil {
			return sqlval.Null, keyBuf, err
		}
	}
	return out, keyBuf, nil
}

// record remembers the row's value; without LIMIT DURATION only as many rows as LAG looks back.
func (h *analyticHist) record(a *analyticSpec, e *env, t int64) error {
	v, err := a.arg(e)
	if err != nil {
		return err
	}
	h.ts = append(h.ts, t)
	h.vals = append(h.vals, v)
	if a.limit == 0 && len(h.vals) > a.offset {
		drop := len(h.vals) - a.offset
		h.ts = append(h.ts[:0], h.ts[drop:]...)
		h.vals = append(h.vals[:0], h.vals[drop:]...)
	}
	return nil
}

// expire forgets the rows before from.
func (h *analyticHist) expire(from int64) {
	i := 0
	for i < len(h.ts) && h.ts[i] < from {
		i++
	}
	if i > 0 {
		h.ts = append(h.ts[:0], h.ts[i:]...)
		n := copy(h.vals, h.vals[i:])
		clear(h.vals[n:])
		h.vals = h.vals[:n]
	}
}
