package agg

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// Shorthands for test tables.
var (
	N = sqlval.Null
	I = sqlval.Bigint
	F = sqlval.Float
	S = sqlval.String
	B = sqlval.Bit
)

func DT(t testing.TB, s string) sqlval.Value {
	t.Helper()
	ticks, err := sqlval.ParseDatetime(s)
	if err != nil {
		t.Fatalf("ParseDatetime(%q): %v", s, err)
	}
	return sqlval.Datetime(ticks)
}

func rec(kv ...any) sqlval.Value {
	var fs []sqlval.Field
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, sqlval.Field{Name: kv[i].(string), Value: kv[i+1].(sqlval.Value)})
	}
	return sqlval.Record(fs)
}

func arr(vs ...sqlval.Value) sqlval.Value { return sqlval.Array(vs) }

func TestIsAggregate(t *testing.T) {
	for _, name := range []string{"COUNT", "SUM", "AVG", "MIN", "MAX", "STDEV", "STDEVP", "VAR", "VARP", "TOPONE", "COLLECT", "count", "TopOne", "Collect"} {
		if !IsAggregate(name) {
			t.Errorf("IsAggregate(%q) = false", name)
		}
	}
	for _, name := range []string{"", "LAG", "ISFIRST", "LAST", "ABS", "COUNTX", "CollectTop", "PERCENTILE_CONT"} {
		if IsAggregate(name) {
			t.Errorf("IsAggregate(%q) = true", name)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		spec  Spec
		nargs int
		want  string // "" for valid
	}{
		{Spec{Name: "COUNT", Star: true}, 0, ""},
		{Spec{Name: "COUNT"}, 0, ""}, // COUNT() is COUNT(*)
		{Spec{Name: "COUNT"}, 1, ""},
		{Spec{Name: "count"}, 1, ""},
		{Spec{Name: "COUNT", Distinct: true}, 1, ""},
		{Spec{Name: "SUM"}, 1, ""},
		{Spec{Name: "AVG"}, 1, ""},
		{Spec{Name: "MIN"}, 1, ""},
		{Spec{Name: "MAX"}, 1, ""},
		{Spec{Name: "STDEV"}, 1, ""},
		{Spec{Name: "STDEVP"}, 1, ""},
		{Spec{Name: "VAR"}, 1, ""},
		{Spec{Name: "VARP"}, 1, ""},
		{Spec{Name: "TOPONE", Desc: []bool{true}}, 0, ""},
		{Spec{Name: "TOPONE", Desc: []bool{true, false}}, 1, ""},
		{Spec{Name: "COLLECT"}, 0, ""},
		{Spec{Name: "COLLECT"}, 1, ""},

		{Spec{Name: "SUM"}, 2, "SUM takes 1 argument, got 2"},
		{Spec{Name: "AVG"}, 0, "AVG takes 1 argument, got 0"},
		{Spec{Name: "STDEVP"}, 3, "STDEVP takes 1 argument, got 3"},
		{Spec{Name: "COUNT"}, 2, "COUNT takes 1 argument or *, got 2"},
		{Spec{Name: "COUNT", Star: true}, 1, "COUNT(*) takes no other argument, got 1"},
		{Spec{Name: "COUNT", Distinct: true}, 0, "COUNT(DISTINCT …) takes 1 argument, got 0"},
		{Spec{Name: "COUNT", Distinct: true, Star: true}, 0, "COUNT(DISTINCT *) is not allowed"},
		{Spec{Name: "SUM", Distinct: true}, 1, "DISTINCT is allowed only in COUNT, not in SUM"},
		{Spec{Name: "TOPONE", Distinct: true, Desc: []bool{true}}, 0, "DISTINCT is allowed only in COUNT, not in TopOne"},
		{Spec{Name: "AVG", Star: true}, 0, "AVG(*) is not allowed; only COUNT takes *"},
		{Spec{Name: "TOPONE"}, 0, "TopOne needs OVER (ORDER BY column [ASC|DESC], …)"},
		{Spec{Name: "TOPONE", Desc: []bool{false}}, 2, "TopOne takes at most 1 argument (the projection), got 2"},
		{Spec{Name: "COLLECT"}, 2, "Collect takes at most 1 argument (the projection), got 2"},
		{Spec{Name: "MAX", Desc: []bool{true}}, 1, "MAX takes no OVER (ORDER BY …); only TopOne does"},
		{Spec{Name: "MEDIAN"}, 1, "MEDIAN is not an aggregate function"},
	}
	for _, tt := range tests {
		err := Check(tt.spec, tt.nargs)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%+v, %d) = %v, want nil", tt.spec, tt.nargs, err)
		case tt.want != "" && err == nil:
			t.Errorf("Check(%+v, %d) = nil, want %q", tt.spec, tt.nargs, tt.want)
		case tt.want != "":
			if !strings.Contains(err.Error(), tt.want) || !errors.Is(err, sqlval.ErrArgument) {
				t.Errorf("Check(%+v, %d) = %v, want ErrArgument with %q", tt.spec, tt.nargs, err, tt.want)
			}
		}
	}
}

func TestNewPanicsOnInvalidSpec(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "DISTINCT is allowed only in COUNT") {
			t.Fatalf("recover() = %v", r)
		}
	}()
	New(Spec{Name: "SUM", Distinct: true})
}

func TestRestoreInvalidSpec(t *testing.T) {
	_, err := Restore(Spec{Name: "NOPE"}, []byte{1})
	if !errors.Is(err, sqlval.ErrArgument) {
		t.Fatalf("Restore with unknown spec: %v", err)
	}
}
