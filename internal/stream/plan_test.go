package stream

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// Queries that parse but cannot run get an error at the place that is wrong, with a hint.
func TestPlanErrors(t *testing.T) {
	ref := Options{Reference: map[string][]sqlval.Value{"refdata": nil}}
	cases := []struct {
		query, at, msg, hint string
		opts                 Options
	}{
		{query: "SELECT COUNT(*) FROM input", at: "1:8", msg: "COUNT is an aggregate", hint: "GROUP BY"},
		{query: "SELECT k FROM input GROUP BY k", at: "1:30", msg: "needs a window", hint: "TumblingWindow"},
		{query: "SELECT k FROM a JOIN b ON a.k = b.k", at: "1:17", msg: "bounded in time", hint: "DATEDIFF(second, a, b)"},
		{query: "SELECT * FROM a JOIN b ON a.k = b.k AND DATEDIFF(second, a, b) BETWEEN 0 AND 5", at: "1:8", msg: "SELECT * is not allowed in a JOIN"},
		{query: "SELECT FOO(k) FROM input", at: "1:8", msg: "unknown function FOO", hint: "did you mean"},
		{query: "SELECT UPPR(k) FROM input", at: "1:8", msg: "unknown function", hint: "did you mean UPPER?"},
		{query: "SELECT k FROM input GROUP BY k, TumblingWindow(week, 1)", at: "1:48", msg: "not a window time unit"},
		{query: "SELECT k FROM input GROUP BY TumblingWindow(second, 10), HoppingWindow(second, 10, 5)", at: "1:58", msg: "two windows"},
		{query: "SELECT k FROM input GROUP BY HoppingWindow(second, 5, 10)", at: "1:30", msg: "invalid HoppingWindow sizes"},
		{query: "SELECT k FROM input HAVING k > 1", at: "1:28", msg: "HAVING needs GROUP BY"},
		{query: "SELECT k FROM refdata", at: "1:15", msg: "cannot be the FROM", opts: ref},
		{query: "WITH s AS (SELECT k FROM s) SELECT k FROM s", at: "1:26", msg: "reads itself"},
		{query: "SELECT k FROM input WHERE TumblingWindow(second, 1) = 1", at: "1:27", msg: "is a window", hint: "GROUP BY"},
		{query: "SELECT *, COUNT(*) FROM input GROUP BY TumblingWindow(second, 1)", at: "1:8", msg: "not allowed with GROUP BY"},
		{query: "SELECT LAG(k, 0) OVER (LIMIT DURATION(second, 1)) FROM input", at: "1:15", msg: "positive integer"},
		{query: "SELECT TopOne() FROM input GROUP BY TumblingWindow(second, 1)", at: "1:8", msg: "ORDER BY"},
		{query: "SELECT SUM(a, b) FROM input GROUP BY TumblingWindow(second, 1)", at: "1:8", msg: "SUM takes 1 argument"},
		{query: "SELECT k FROM input CROSS APPLY UPPER(k) AS x", at: "1:33", msg: "APPLY takes"},
		{query: "SELECT k FROM input GROUP BY Windows(Window('a', TumblingWindow(second, 1)), TumblingWindow(second, 2))", at: "1:30", msg: "every window in Windows() has an id or none"},
		{query: "SELECT k FROM input GROUP BY Windows(Window('a', Tumbling(second, 1)), Window('A', Tumbling(second, 2)))", at: "1:79", msg: "used twice"},
		{query: "SELECT System.Window().Id FROM input", at: "1:8", msg: "System.Window() describes"},
		{query: "SELECT k\nFROM input\nWHERE DATEDIFF(fortnight, t, t) > 1", at: "3:16", msg: "date part"},
	}
	for _, c := range cases {
		_, err := Compile(c.query, c.opts)
		var se *saql.Error
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a positioned error", c.query, err)
			continue
		}
		pos := saql.Pos{Line: se.Line, Col: se.Col}.String()
		if pos != c.at || !strings.Contains(se.Msg, c.msg) || !strings.Contains(se.Hint, c.hint) {
			t.Errorf("%q:\n got  %s\n want at %s %q, hint containing %q", c.query, se.Error(), c.at, c.msg, c.hint)
		}
		if errcode.CodeOf(err) != errcode.InvalidArgument {
			t.Errorf("%q: code %v, want InvalidArgument", c.query, errcode.CodeOf(err))
		}
	}
}

func TestPushUnknownInput(t *testing.T) {
	e, err := Compile("SELECT * FROM a", Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Push(Event{Input: "b", Value: sqlval.Record(nil)})
	if err == nil || !strings.Contains(err.Error(), `no input named "b"; it reads a`) {
		t.Fatalf("got %v", err)
	}
}
