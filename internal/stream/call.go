package stream

import (
	"strings"

	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
	"github.com/tandem-streaming/tandem/internal/stream/agg"
)

// windowNames are the window functions, which belong in GROUP BY.
var windowNames = map[string]bool{
	"TUMBLINGWINDOW": true, "TUMBLING": true, "HOPPINGWINDOW": true, "HOPPING": true,
	"SLIDINGWINDOW": true, "SLIDING": true, "SESSIONWINDOW": true, "SESSION": true, "WINDOWS": true,
}

var analyticNames = map[string]bool{"LAG": true, "ISFIRST": true, "LAST": true}

// call compiles a function call: System.Timestamp(), an aggregate, an analytic function, a date
// function with a date part, or a scalar built-in.
func (sc *scope) call(x *saql.FuncCall) (evalFn, error) {
	if len(x.Path) > 0 {
		// f(…).a.b reads fields of the call's record.
		inner := *x
		inner.Path = nil
		f, err := sc.call(&inner)
		if err != nil {
			return nil, err
		}
		path := names(x.Path)
		return func(e *env) (sqlval.Value, error) {
			v, err := f(e)
			if err != nil {
				return sqlval.Null, err
			}
			return lookupPath(v, path), nil
		}, nil
	}
	name := x.FuncName()
	switch {
	case name == "SYSTEM.TIMESTAMP":
		if len(x.Args) > 0 {
			return nil, errAt(x.At, "write System.Timestamp()", "System.Timestamp takes no arguments")
		}
		return func(e *env) (sqlval.Value, error) { return sqlval.Datetime(e.ts), nil }, nil
	case name == "SYSTEM.WINDOW":
		if sc.group == nil {
			return nil, errAt(x.At, "use it in the SELECT items or HAVING of a grouped SELECT", "System.Window() describes the window of a grouped row")
		}
		return func(e *env) (sqlval.Value, error) {
			return sqlval.Record([]sqlval.Field{{Name: "Id", Value: e.window}}), nil
		}, nil
	case agg.IsAggregate(name):
		return sc.aggregate(x, name)
	case analyticNames[name]:
		return sc.analytic(x, name)
	case windowNames[name]:
		return nil, errAt(x.At, "use the window in GROUP BY, e.g. GROUP BY Key, TumblingWindow(second, 10)", "%s is a window, not a value", x.Name[0].Name)
	case name == "GETARRAYELEMENTS" || name == "GETRECORDPROPERTIES":
		return nil, errAt(x.At, "write CROSS APPLY "+x.Name[0].Name+"(…) AS alias after FROM", "%s returns rows and can only follow CROSS APPLY or OUTER APPLY", x.Name[0].Name)
	case name == "DATEADD" || name == "DATEDIFF" || name == "DATEPART" || name == "DATENAME":
		if len(x.Args) > 0 {
			if dp, ok := x.Args[0].(*saql.DatePart); ok {
				return sc.dateFunc(x, name, dp)
			}
		}
	}
	if x.Over != nil {
		return nil, errAt(x.Over.At, "OVER follows LAG, ISFIRST, LAST, TopOne and SessionWindow", "%s takes no OVER clause", x.Name[0].Name)
	}
	if x.Distinct || x.Star {
		return nil, errAt(x.At, "DISTINCT and * are arguments of COUNT only", "%s(%s…) is not allowed", x.Name[0].Name, map[bool]string{true: "DISTINCT ", false: "*"}[x.Distinct])
	}
	f, ok := sqlval.Lookup(name)
	if !ok || len(x.Name) > 1 {
		return nil, errAt(x.At, suggestFunc(x.Name[len(x.Name)-1].Name), "unknown function %s", fullName(x))
	}
	if err := f.CheckArity(len(x.Args)); err != nil {
		return nil, errAt(x.At, "see docs/SAQL.md for the function's arguments", "%v", err)
	}
	args, err := sc.compileAll(x.Args)
	if err != nil {
		return nil, err
	}
	buf := make([]sqlval.Value, len(args))
	return func(e *env) (sqlval.Value, error) {
		for i, a := range args {
			v, err := a(e)
			if err != nil {
				return sqlval.Null, err
			}
			buf[i] = v
		}
		return f.Call(buf)
	}, nil
}

func fullName(x *saql.FuncCall) string {
	parts := make([]string, len(x.Name))
	for i, p := range x.Name {
		parts[i] = p.Name
	}
	return strings.Join(parts, ".")
}

func suggestFunc(name string) string {
	best, bestD := "", 3
	all := append(sqlval.Names(), "COUNT", "SUM", "AVG", "MIN", "MAX", "STDEV", "STDEVP", "VAR", "VARP", "TopOne", "Collect",
		"LAG", "ISFIRST", "LAST", "TumblingWindow", "HoppingWindow", "SlidingWindow", "SessionWindow")
	for _, c := range all {
		if d := levenshtein(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return "see docs/SAQL.md for the built-in functions"
	}
	return "did you mean " + best + "?"
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// dateFunc compiles DATEADD, DATEDIFF, DATEPART and DATENAME with their date part resolved
// once. In DATEDIFF a bare source alias (DATEDIFF(minute, I1, I2) in a JOIN) stands for the
// timestamp of that source's row.
func (sc *scope) dateFunc(x *saql.FuncCall, name string, dp *saql.DatePart) (evalFn, error) {
	part, err := sqlval.ParseDatePart(dp.Unit)
	if err != nil {
		return nil, errAt(dp.At, "", "%v", err)
	}
	want := map[string]int{"DATEADD": 3, "DATEDIFF": 3, "DATEPART": 2, "DATENAME": 2}[name]
	if len(x.Args) != want {
		return nil, errAt(x.At, "", "%s takes %d arguments, got %d", name, want, len(x.Args))
	}
	args := make([]evalFn, len(x.Args)-1)
	for i, a := range x.Args[1:] {
		if name == "DATEDIFF" {
			if c, ok := a.(*saql.ColumnRef); ok && len(c.Parts) == 1 {
				if bi := sc.bindingIndex(c.Parts[0].Name); bi >= 0 {
					args[i] = func(e *env) (sqlval.Value, error) { return sqlval.Datetime(e.t.bts[bi]), nil }
					continue
				}
			}
		}
		if args[i], err = sc.compile(a); err != nil {
			return nil, err
		}
	}
	return func(e *env) (sqlval.Value, error) {
		a, err := args[0](e)
		if err != nil {
			return sqlval.Null, err
		}
		var b sqlval.Value
		if len(args) > 1 {
			if b, err = args[1](e); err != nil {
				return sqlval.Null, err
			}
		}
		switch name {
		case "DATEADD":
			return sqlval.DateAdd(part, a, b)
		case "DATEDIFF":
			return sqlval.DateDiff(part, a, b)
		case "DATEPART":
			return sqlval.DatePartOf(part, a)
		}
		return sqlval.DateName(part, a)
	}, nil
}

// aggregate registers an aggregate call in the grouped SELECT and reads its result.
func (sc *scope) aggregate(x *saql.FuncCall, name string) (evalFn, error) {
	if sc.group == nil {
		return nil, errAt(x.At, "add GROUP BY with a window, e.g. GROUP BY TumblingWindow(second, 10), or use it in a grouped SELECT's items or HAVING",
			"%s is an aggregate and is only allowed in a grouped SELECT", x.Name[0].Name)
	}
	text := x.String()
	if slot, ok := sc.group.text[text]; ok {
		return func(e *env) (sqlval.Value, error) { return e.aggs[slot], nil }, nil
	}
	spec := agg.Spec{Name: name, Distinct: x.Distinct, Star: x.Star}
	row := sc.rowScope()
	var argx []saql.Expr
	switch name {
	case "TOPONE":
		if x.Over == nil || len(x.Over.OrderBy) == 0 {
			return nil, errAt(x.At, "write TopOne() OVER (ORDER BY Time DESC)", "TopOne needs OVER (ORDER BY …)")
		}
		for _, o := range x.Over.OrderBy {
			argx = append(argx, o.Expr)
			spec.Desc = append(spec.Desc, o.Desc)
		}
	default:
		if x.Over != nil {
			return nil, errAt(x.Over.At, "", "%s takes no OVER clause", x.Name[0].Name)
		}
		argx = x.Args
	}
	if err := agg.Check(spec, len(x.Args)); err != nil {
		return nil, errAt(x.At, "see docs/SAQL.md for the aggregate functions", "%v", err)
	}
	args, err := row.compileAll(argx)
	if err != nil {
		return nil, err
	}
	if name == "TOPONE" || (name == "COLLECT" && len(x.Args) == 0) {
		args = append([]evalFn{func(e *env) (sqlval.Value, error) { return e.t.b[0], nil }}, args...)
	}
	slot := len(sc.group.specs)
	sc.group.specs = append(sc.group.specs, spec)
	sc.group.args = append(sc.group.args, args)
	sc.group.text[text] = slot
	return func(e *env) (sqlval.Value, error) { return e.aggs[slot], nil }, nil
}
