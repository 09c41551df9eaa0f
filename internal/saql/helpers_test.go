package saql

import (
	"reflect"
	"strings"
	"testing"
)

// sexpr prints an expression as a fully parenthesised S-expression, so tests can assert the
// tree's shape (precedence, what is an argument of what) without spelling out structs.
// Parentheses written in the query leave no trace: (a) prints as a.
func sexpr(e Expr) string {
	switch e := e.(type) {
	case nil:
		return "nil"
	case *ColumnRef:
		return e.String()
	case *NumberLit, *StringLit, *NullLit, *BoolLit:
		return e.String()
	case *DatePart:
		return "#" + e.Unit
	case *ParenExpr:
		return sexpr(e.X)
	case *UnaryExpr:
		return "(" + e.Op + " " + sexpr(e.X) + ")"
	case *BinaryExpr:
		return "(" + e.Op + " " + sexpr(e.L) + " " + sexpr(e.R) + ")"
	case *IsNullExpr:
		return "(" + pick(e.Not, "is-not-null", "is-null") + " " + sexpr(e.X) + ")"
	case *LikeExpr:
		return "(" + pick(e.Not, "not-like", "like") + " " + sexpr(e.X) + " " + sexpr(e.Pattern) + ")"
	case *InExpr:
		return "(" + pick(e.Not, "not-in", "in") + " " + sexpr(e.X) + " " + sexprs(e.List) + ")"
	case *BetweenExpr:
		return "(" + pick(e.Not, "not-between", "between") + " " + sexpr(e.X) + " " + sexpr(e.Lo) + " " + sexpr(e.Hi) + ")"
	case *CastExpr:
		return "(" + pick(e.Try, "try_cast", "cast") + " " + sexpr(e.X) + " " + e.Type + ")"
	case *CaseExpr:
		s := "(case"
		if e.Operand != nil {
			s += " " + sexpr(e.Operand)
		}
		for _, w := range e.Whens {
			s += " (when " + sexpr(w.Cond) + " " + sexpr(w.Result) + ")"
		}
		if e.Else != nil {
			s += " (else " + sexpr(e.Else) + ")"
		}
		return s + ")"
	case *FuncCall:
		s := "(" + e.FuncName()
		if e.Distinct {
			s += " distinct"
		}
		if e.Star {
			s += " *"
		}
		if len(e.Args) > 0 {
			s += " " + sexprs(e.Args)
		}
		if e.Over != nil {
			s += " " + sexprOver(e.Over)
		}
		return s + ")"
	}
	return "?"
}

func sexprOver(o *Over) string {
	s := "(over"
	if len(o.PartitionBy) > 0 {
		s += " (partition " + sexprs(o.PartitionBy) + ")"
	}
	for _, it := range o.OrderBy {
		s += " (order " + sexpr(it.Expr) + pick(it.Desc, " desc", "") + ")"
	}
	if o.Limit != nil {
		s += " (limit #" + o.Limit.Unit.Unit + " " + sexpr(o.Limit.Size) + ")"
	}
	if o.When != nil {
		s += " (when " + sexpr(o.When) + ")"
	}
	return s + ")"
}

func sexprs(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = sexpr(e)
	}
	return strings.Join(parts, " ")
}

func pick(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// zeroPos clears every Pos in a tree, so trees parsed from differently laid-out text compare
// equal.
func zeroPos(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			zeroPos(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			zeroPos(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[Pos]() {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			zeroPos(v.Field(i))
		}
	}
}

// checkRoundTrip asserts that q.String() parses back to a tree equal to q, positions aside, and
// that printing is a fixed point.
func checkRoundTrip(t *testing.T, src string, q *Query) {
	t.Helper()
	printed := q.String()
	again, err := Parse(printed)
	if err != nil {
		t.Fatalf("Parse(%q) ok, but its String() does not parse: %v\n%s", src, err, printed)
	}
	if again.String() != printed {
		t.Fatalf("printing is not a fixed point:\n%s\n---\n%s", printed, again.String())
	}
	zeroPos(reflect.ValueOf(q))
	zeroPos(reflect.ValueOf(again))
	if !reflect.DeepEqual(q, again) {
		t.Fatalf("round trip changed the tree of %q:\n%s", src, printed)
	}
}

// mustParse parses src, checks its round trip, and returns the tree with its positions.
func mustParse(t *testing.T, src string) *Query {
	t.Helper()
	q, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	checkRoundTrip(t, src, q)
	q, _ = Parse(src) // checkRoundTrip cleared the positions
	return q
}
