package stream

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/saql"
)

// Audit M4: HoppingWindow(millisecond, 6000000, 1) put each event into six million windows
// (82 s and 8.7 GB for one event). Such windows, and any longer than Stream Analytics' 7 days,
// are refused when the query is compiled, at the window's position.
func TestAuditM4_WindowLimitsRefusedAtPlanTime(t *testing.T) {
	cases := []struct{ query, at, msg, hint string }{
		{"SELECT COUNT(*) FROM input GROUP BY HoppingWindow(millisecond, 6000000, 1)", "1:37", "6000000 windows; at most 10000", "hop at least"},
		{"SELECT COUNT(*) FROM input GROUP BY HoppingWindow(millisecond, 604800001, 1000)", "1:64", "604800001 milliseconds is longer than 7 days", "at most 7 days"},
		{"SELECT COUNT(*) FROM input GROUP BY HoppingWindow(millisecond, 2000000, 1)", "1:37", "2000000 windows; at most 10000", "hop at least"},
		{"SELECT COUNT(*) FROM input GROUP BY HoppingWindow(second, 10001, 1)", "1:37", "10001 windows", "hop"},
		{"SELECT COUNT(*) FROM input GROUP BY TumblingWindow(day, 8)", "1:57", "longer than 7 days", ""},
		{"SELECT COUNT(*) FROM input GROUP BY TumblingWindow(hour, 169)", "1:58", "longer than 7 days", "(hour, 168)"},
		{"SELECT COUNT(*) FROM input GROUP BY SlidingWindow(second, 604801)", "1:59", "longer than 7 days", ""},
		{"SELECT COUNT(*) FROM input GROUP BY SessionWindow(minute, 5, 10081)", "1:62", "longer than 7 days", ""},
		{"SELECT COUNT(*) FROM input GROUP BY HoppingWindow(Duration(day, 9223372036854), Hop(day, 1))", "1:65", "longer than 7 days", ""},
		{"SELECT COUNT(*) FROM input GROUP BY Windows(HoppingWindow(second, 6000, 1), HoppingWindow(second, 6000, 1))", "1:77", "more than 10000 windows", ""},
	}
	for _, c := range cases {
		_, err := Compile(c.query, Options{})
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
	// The limits themselves are allowed.
	for _, q := range []string{
		"SELECT COUNT(*) FROM input GROUP BY TumblingWindow(day, 7)",
		"SELECT COUNT(*) FROM input GROUP BY HoppingWindow(second, 10000, 1)",
		"SELECT COUNT(*) FROM input GROUP BY SlidingWindow(hour, 168)",
		"SELECT COUNT(*) FROM input GROUP BY SessionWindow(minute, 5, 10080)",
	} {
		if _, err := Compile(q, Options{}); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}
