package stream

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// tuple is one row inside a SELECT: the record of each binding (the FROM source, then each
// JOIN or APPLY in order) and the timestamp of each binding's row. Tuples in a stream are shared
// by every node reading it and are never modified.
type tuple struct {
	ts   int64
	b    []sqlval.Value
	bts  []int64
	meta *eventMeta // system columns of the input event, nil for the rows of a step

	one   [1]sqlval.Value // storage of b and bts for a single binding: one allocation per row
	oneTs [1]int64
}

// singleTuple makes a row of one binding.
func singleTuple(ts int64, v sqlval.Value, meta *eventMeta) *tuple {
	t := &tuple{}
	t.init(ts, v, meta)
	return t
}

func (t *tuple) init(ts int64, v sqlval.Value, meta *eventMeta) {
	t.ts, t.meta = ts, meta
	t.one[0], t.oneTs[0] = v, ts
	t.b, t.bts = t.one[:], t.oneTs[:]
}

// env is what an expression is evaluated against.
type env struct {
	t      *tuple
	an     []sqlval.Value // the row's analytic function values (LAG, ISFIRST, LAST)
	ts     int64          // System.Timestamp()
	aggs   []sqlval.Value // aggregate results, in a grouped SELECT
	items  []sqlval.Value // the SELECT items' values, for HAVING's references to aliases
	window sqlval.Value   // System.Window().Id of a grouped row
}

// evalFn is a compiled expression.
type evalFn func(e *env) (sqlval.Value, error)

var (
	valTrue  = sqlval.Bit(true)
	valFalse = sqlval.Bit(false)
)

// truth is a predicate's value in three-valued logic: true, false or unknown (NULL).
func truth(v sqlval.Value) (val, known bool) {
	switch v.Kind() {
	case sqlval.KindNull:
		return false, false
	case sqlval.KindBit:
		return v.Bool(), true
	case sqlval.KindBigint:
		return v.Int() != 0, true
	}
	return false, false
}

func bitOrNull(b, known bool) sqlval.Value {
	if !known {
		return sqlval.Null
	}
	if b {
		return valTrue
	}
	return valFalse
}

// compile turns an expression into an evalFn in a scope.
func (sc *scope) compile(x saql.Expr) (evalFn, error) {
	switch x := x.(type) {
	case *saql.ParenExpr:
		return sc.compile(x.X)
	case *saql.NumberLit:
		v, err := numberValue(x)
		return constant(v), err
	case *saql.StringLit:
		return constant(sqlval.String(x.Value)), nil
	case *saql.NullLit:
		return constant(sqlval.Null), nil
	case *saql.BoolLit:
		return constant(sqlval.Bit(x.Value)), nil
	case *saql.DatePart:
		return nil, errAt(x.At, "date parts are only arguments of DATEADD, DATEDIFF, DATEPART, DATENAME and windows", "unexpected date part %s", x.Unit)
	case *saql.ColumnRef:
		return sc.column(x)
	case *saql.FuncCall:
		return sc.call(x)
	case *saql.CaseExpr:
		return sc.caseExpr(x)
	case *saql.CastExpr:
		return sc.cast(x)
	case *saql.UnaryExpr:
		return sc.unary(x)
	case *saql.BinaryExpr:
		return sc.binary(x)
	case *saql.IsNullExpr:
		return sc.isNull(x)
	case *saql.LikeExpr:
		return sc.like(x)
	case *saql.InExpr:
		return sc.in(x)
	case *saql.BetweenExpr:
		return sc.between(x)
	}
	return nil, errAt(x.Pos(), "", "unsupported expression %s", x.String())
}

func constant(v sqlval.Value) evalFn { return func(*env) (sqlval.Value, error) { return v, nil } }

func numberValue(x *saql.NumberLit) (sqlval.Value, error) {
	if !x.Float {
		if i, err := strconv.ParseInt(x.Raw, 10, 64); err == nil {
			return sqlval.Bigint(i), nil
		}
	}
	f, err := strconv.ParseFloat(x.Raw, 64)
	if err != nil {
		return sqlval.Null, errAt(x.At, "write a number such as 42 or 1.5", "invalid number %s", x.Raw)
	}
	return sqlval.Float(f), nil
}

func (sc *scope) compileAll(xs []saql.Expr) ([]evalFn, error) {
	fns := make([]evalFn, len(xs))
	for i, x := range xs {
		f, err := sc.compile(x)
		if err != nil {
			return nil, err
		}
		fns[i] = f
	}
	return fns, nil
}

func evalAll(fns []evalFn, e *env, dst []sqlval.Value) ([]sqlval.Value, error) {
	dst = dst[:0]
	for _, f := range fns {
		v, err := f(e)
		if err != nil {
			return nil, err
		}
		dst = append(dst, v)
	}
	return dst, nil
}

func (sc *scope) caseExpr(x *saql.CaseExpr) (evalFn, error) {
	var operand evalFn
	var err error
	if x.Operand != nil {
		if operand, err = sc.compile(x.Operand); err != nil {
			return nil, err
		}
	}
	conds := make([]evalFn, len(x.Whens))
	results := make([]evalFn, len(x.Whens))
	for i, w := range x.Whens {
		if conds[i], err = sc.compile(w.Cond); err != nil {
			return nil, err
		}
		if results[i], err = sc.compile(w.Result); err != nil {
			return nil, err
		}
	}
	elseFn := constant(sqlval.Null)
	if x.Else != nil {
		if elseFn, err = sc.compile(x.Else); err != nil {
			return nil, err
		}
	}
	return func(e *env) (sqlval.Value, error) {
		var op sqlval.Value
		if operand != nil {
			var err error
			if op, err = operand(e); err != nil {
				return sqlval.Null, err
			}
		}
		for i, c := range conds {
			v, err := c(e)
			if err != nil {
				return sqlval.Null, err
			}
			var hit bool
			if operand != nil {
				cmp, known, err := sqlval.CompareSQL(op, v)
				if err != nil {
					return sqlval.Null, err
				}
				hit = known && cmp == 0
			} else {
				hit, _ = truth(v)
			}
			if hit {
				return results[i](e)
			}
		}
		return elseFn(e)
	}, nil
}

func (sc *scope) cast(x *saql.CastExpr) (evalFn, error) {
	k, err := sqlval.ParseType(x.Type)
	if err != nil {
		return nil, errAt(x.At, "CAST takes bigint, float, nvarchar(max), datetime, bit, record or array", "%v", err)
	}
	inner, err := sc.compile(x.X)
	if err != nil {
		return nil, err
	}
	if x.Try {
		return func(e *env) (sqlval.Value, error) {
			v, err := inner(e)
			if err != nil {
				return sqlval.Null, err
			}
			return sqlval.TryCast(v, k), nil
		}, nil
	}
	return func(e *env) (sqlval.Value, error) {
		v, err := inner(e)
		if err != nil {
			return sqlval.Null, err
		}
		return sqlval.Cast(v, k)
	}, nil
}

func (sc *scope) unary(x *saql.UnaryExpr) (evalFn, error) {
	inner, err := sc.compile(x.X)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case "-":
		return func(e *env) (sqlval.Value, error) {
			v, err := inner(e)
			if err != nil {
				return sqlval.Null, err
			}
			return sqlval.Neg(v)
		}, nil
	case "NOT":
		return func(e *env) (sqlval.Value, error) {
			v, err := inner(e)
			if err != nil {
				return sqlval.Null, err
			}
			b, known := truth(v)
			return bitOrNull(!b, known), nil
		}, nil
	}
	return inner, nil
}

var arith = map[string]func(a, b sqlval.Value) (sqlval.Value, error){
	"+": sqlval.Add, "-": sqlval.Sub, "*": sqlval.Mul, "/": sqlval.Div, "%": sqlval.Mod, "||": sqlval.Concat,
}

func (sc *scope) binary(x *saql.BinaryExpr) (evalFn, error) {
	l, err := sc.compile(x.L)
	if err != nil {
		return nil, err
	}
	r, err := sc.compile(x.R)
	if err != nil {
		return nil, err
	}
	var op func(a, b sqlval.Value) (sqlval.Value, error)
	switch x.Op {
	case "AND", "OR":
		return logical(x.Op == "AND", l, r), nil
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		test := comparison(x.Op)
		op = func(a, b sqlval.Value) (sqlval.Value, error) {
			c, known, err := sqlval.CompareSQL(a, b)
			if err != nil {
				return sqlval.Null, err
			}
			return bitOrNull(test(c), known), nil
		}
	default:
		var ok bool
		if op, ok = arith[x.Op]; !ok {
			return nil, errAt(x.OpAt, "", "unsupported operator %s", x.Op)
		}
	}
	return func(e *env) (sqlval.Value, error) {
		a, err := l(e)
		if err != nil {
			return sqlval.Null, err
		}
		b, err := r(e)
		if err != nil {
			return sqlval.Null, err
		}
		return op(a, b)
	}, nil
}

func comparison(op string) func(int) bool {
	switch op {
	case "=":
		return func(c int) bool { return c == 0 }
	case "<>", "!=":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	}
	return func(c int) bool { return c >= 0 }
}

// logical is AND / OR in three-valued logic, short-circuiting where the answer is known.
func logical(and bool, l, r evalFn) evalFn {
	return func(e *env) (sqlval.Value, error) {
		a, err := l(e)
		if err != nil {
			return sqlval.Null, err
		}
		av, ak := truth(a)
		if ak && av != and { // false AND …, true OR …
			return bitOrNull(av, true), nil
		}
		b, err := r(e)
		if err != nil {
			return sqlval.Null, err
		}
		bv, bk := truth(b)
		if bk && bv != and {
			return bitOrNull(bv, true), nil
		}
		if ak && bk {
			return bitOrNull(and, true), nil
		}
		return sqlval.Null, nil
	}
}

func (sc *scope) isNull(x *saql.IsNullExpr) (evalFn, error) {
	inner, err := sc.compile(x.X)
	if err != nil {
		return nil, err
	}
	return func(e *env) (sqlval.Value, error) {
		v, err := inner(e)
		if err != nil {
			return sqlval.Null, err
		}
		return sqlval.Bit(v.IsNull() != x.Not), nil
	}, nil
}

func (sc *scope) like(x *saql.LikeExpr) (evalFn, error) {
	inner, err := sc.compile(x.X)
	if err != nil {
		return nil, err
	}
	var fixed *sqlval.LikePattern
	if s, ok := x.Pattern.(*saql.StringLit); ok {
		fixed = sqlval.CompileLike(s.Value)
	}
	pat, err := sc.compile(x.Pattern)
	if err != nil {
		return nil, err
	}
	return func(e *env) (sqlval.Value, error) {
		v, err := inner(e)
		if err != nil || v.IsNull() {
			return sqlval.Null, err
		}
		p := fixed
		if p == nil {
			pv, err := pat(e)
			if err != nil || pv.IsNull() {
				return sqlval.Null, err
			}
			p = sqlval.CompileLike(pv.String())
		}
		return sqlval.Bit(p.Match(v.String()) != x.Not), nil
	}, nil
}

func (sc *scope) in(x *saql.InExpr) (evalFn, error) {
	inner, err := sc.compile(x.X)
	if err != nil {
		return nil, err
	}
	list, err := sc.compileAll(x.List)
	if err != nil {
		return nil, err
	}
	return func(e *env) (sqlval.Value, error) {
		v, err := inner(e)
		if err != nil {
			return sqlval.Null, err
		}
		unknown := v.IsNull()
		for _, f := range list {
			w, err := f(e)
			if err != nil {
				return sqlval.Null, err
			}
			c, known, err := sqlval.CompareSQL(v, w)
			if err != nil {
				return sqlval.Null, err
			}
			if known && c == 0 {
				return sqlval.Bit(!x.Not), nil
			}
			unknown = unknown || !known
		}
		return bitOrNull(x.Not, !unknown), nil
	}, nil
}

func (sc *scope) between(x *saql.BetweenExpr) (evalFn, error) {
	fns, err := sc.compileAll([]saql.Expr{x.X, x.Lo, x.Hi})
	if err != nil {
		return nil, err
	}
	return func(e *env) (sqlval.Value, error) {
		var vs [3]sqlval.Value
		for i, f := range fns {
			v, err := f(e)
			if err != nil {
				return sqlval.Null, err
			}
			vs[i] = v
		}
		lo, lk, err := sqlval.CompareSQL(vs[0], vs[1])
		if err != nil {
			return sqlval.Null, err
		}
		hi, hk, err := sqlval.CompareSQL(vs[0], vs[2])
		if err != nil {
			return sqlval.Null, err
		}
		in := (!lk || lo >= 0) && (!hk || hi <= 0)
		known := lk && hk
		if (lk && lo < 0) || (hk && hi > 0) {
			in, known = false, true
		}
		return bitOrNull(in != x.Not, known), nil
	}, nil
}

// errAt is a planning error at a place in the query.
func errAt(at saql.Pos, hint, format string, args ...any) *saql.Error {
	return &saql.Error{Line: at.Line, Col: at.Col, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// upper is strings.ToUpper, for matching names.
func upper(s string) string { return strings.ToUpper(s) }
