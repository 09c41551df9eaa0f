package agg

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// one wraps single-argument Adds.
func one(vs ...sqlval.Value) [][]sqlval.Value {
	out := make([][]sqlval.Value, len(vs))
	for i, v := range vs {
		out[i] = []sqlval.Value{v}
	}
	return out
}

// same reports whether got is want: same kind and Equal, and for floats the same number (or both
// NaN) – so that bigint 70 does not pass for float 70.
func same(got, want sqlval.Value) bool {
	if got.Kind() != want.Kind() || !sqlval.Equal(got, want) {
		return false
	}
	if got.Kind() == sqlval.KindFloat {
		return got.Float() == want.Float() || (math.IsNaN(got.Float()) && math.IsNaN(want.Float()))
	}
	return true
}

type aggCase struct {
	name    string
	spec    Spec
	adds    [][]sqlval.Value
	want    sqlval.Value
	errAt   int    // index of the Add that fails, when wantErr is set
	wantErr string // substring of its error
	errIs   error
}

func runCases(t *testing.T, tests []aggCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.spec)
			for i, args := range tt.adds {
				err := a.Add(args)
				if tt.wantErr != "" && i == tt.errAt {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("Add #%d (%v) error = %v, want %q", i, args, err, tt.wantErr)
					}
					if tt.errIs != nil && !errors.Is(err, tt.errIs) {
						t.Fatalf("Add #%d error %v does not wrap %v", i, err, tt.errIs)
					}
					continue // the failed Add must leave the state unchanged
				}
				if err != nil {
					t.Fatalf("Add #%d (%v): %v", i, args, err)
				}
			}
			if got := a.Result(); !same(got, tt.want) {
				t.Errorf("Result() = %s [%s], want %s [%s]", got, got.Kind(), tt.want, tt.want.Kind())
			}
		})
	}
}

func TestCount(t *testing.T) {
	star := Spec{Name: "COUNT", Star: true}
	cnt := Spec{Name: "COUNT"}
	distinct := Spec{Name: "COUNT", Distinct: true}
	runCases(t, []aggCase{
		{name: "star none", spec: star, want: I(0)},
		{name: "star counts every event", spec: star, adds: [][]sqlval.Value{{}, {}, {}}, want: I(3)},
		{name: "x none", spec: cnt, want: I(0)},
		{name: "x skips nulls", spec: cnt, adds: one(I(1), N, S("a"), N, rec()), want: I(3)},
		{name: "x all null", spec: cnt, adds: one(N, N), want: I(0)},
		{name: "x counts duplicates", spec: cnt, adds: one(I(1), I(1)), want: I(2)},
		{name: "COUNT() is COUNT(*)", spec: cnt, adds: [][]sqlval.Value{{}, {}}, want: I(2)},
		{name: "distinct none", spec: distinct, want: I(0)},
		{name: "distinct doc example", spec: distinct, adds: one(S("Make1"), S("Make2"), S("Make1"), S("Make2")), want: I(2)},
		{name: "distinct skips null", spec: distinct, adds: one(N, I(1), N), want: I(1)},
		{name: "distinct bigint 2 equals float 2.0", spec: distinct, adds: one(I(2), F(2), F(2.5)), want: I(2)},
		{name: "distinct strings are case-sensitive", spec: distinct, adds: one(S("a"), S("A")), want: I(2)},
		{name: "distinct records (unique events)", spec: distinct,
			adds: one(rec("a", I(1)), rec("a", I(1)), rec("a", I(2)), rec("b", I(1))), want: I(3)},
		{name: "distinct NaN once", spec: distinct, adds: one(F(math.NaN()), F(-math.NaN())), want: I(1)},
		{name: "arity", spec: cnt, adds: [][]sqlval.Value{{I(1), I(2)}}, want: I(0), errAt: 0,
			wantErr: "COUNT.Add got 2 arguments", errIs: sqlval.ErrArgument},
	})
}

func TestSum(t *testing.T) {
	s := Spec{Name: "SUM"}
	runCases(t, []aggCase{
		{name: "none", spec: s, want: N},
		{name: "all null", spec: s, adds: one(N, N), want: N},
		{name: "bigints stay bigint", spec: s, adds: one(I(1000), N, I(2000)), want: I(3000)},
		{name: "negative", spec: s, adds: one(I(-5), I(3)), want: I(-2)},
		{name: "one float makes float", spec: s, adds: one(I(1), F(0.5), I(2)), want: F(3.5)},
		{name: "float first", spec: s, adds: one(F(1.5), I(2)), want: F(3.5)},
		{name: "floats", spec: s, adds: one(F(0.1), F(0.2), F(0.3)), want: F(0.6)},
		{name: "compensated", spec: s, adds: one(F(1e100), F(1), F(-1e100)), want: F(1)},
		{name: "large bigints carried into float exactly", spec: s,
			adds: one(I(1<<62), I(1<<62-1), F(0), I(-(1 << 62))), want: F(1<<62 - 1)},
		{name: "bigint extremes", spec: s, adds: one(I(math.MaxInt64), I(math.MinInt64)), want: I(-1)},
		{name: "overflow", spec: s, adds: one(I(math.MaxInt64), I(1), I(-7)), want: I(math.MaxInt64 - 7), errAt: 1,
			wantErr: "SUM 9223372036854775807 + 1 does not fit in bigint", errIs: sqlval.ErrOverflow},
		{name: "underflow", spec: s, adds: one(I(math.MinInt64), I(-1)), want: I(math.MinInt64), errAt: 1,
			wantErr: "does not fit in bigint", errIs: sqlval.ErrOverflow},
		{name: "no overflow in float", spec: s, adds: one(F(0), I(math.MaxInt64), I(math.MaxInt64)), want: F(2 * 9223372036854775807.0)},
		{name: "string", spec: s, adds: one(I(1), S("abc"), I(2)), want: I(3), errAt: 1,
			wantErr: "type error: SUM of nvarchar(max) value 'abc': SUM takes bigint or float", errIs: sqlval.ErrType},
		{name: "bit", spec: s, adds: one(B(true)), want: N, errAt: 0, wantErr: "SUM of bit value", errIs: sqlval.ErrType},
		{name: "record", spec: s, adds: one(rec("a", I(1))), want: N, errAt: 0, wantErr: `SUM of record value {"a":1}`},
		{name: "inf", spec: s, adds: one(F(math.Inf(1)), F(1)), want: F(math.Inf(1))},
		{name: "overflow to inf", spec: s, adds: one(F(math.MaxFloat64), F(math.MaxFloat64), F(-1)), want: F(math.Inf(1))},
		{name: "inf minus inf", spec: s, adds: one(F(math.Inf(1)), F(math.Inf(-1))), want: F(math.NaN())},
	})
}

func TestAvg(t *testing.T) {
	s := Spec{Name: "AVG"}
	runCases(t, []aggCase{
		{name: "none", spec: s, want: N},
		{name: "all null", spec: s, adds: one(N), want: N},
		{name: "doc remove-duplicates 70", spec: s, adds: one(I(50), I(60), I(100)), want: F(70)},
		{name: "doc remove-duplicates 45", spec: s, adds: one(I(40), I(50)), want: F(45)},
		{name: "fraction kept", spec: s, adds: one(I(1), I(2)), want: F(1.5)},
		{name: "nulls ignored", spec: s, adds: one(I(1), N, I(3)), want: F(2)},
		{name: "mixed", spec: s, adds: one(I(1), F(2.5)), want: F(1.75)},
		{name: "no bigint overflow", spec: s, adds: one(I(math.MaxInt64), I(math.MaxInt64)), want: F(9223372036854775807.0)},
		{name: "string", spec: s, adds: one(S("x")), want: N, errAt: 0, wantErr: "AVG of nvarchar(max) value 'x'", errIs: sqlval.ErrType},
		{name: "error leaves state", spec: s, adds: one(I(2), DT(t, "2026-01-02T00:00:00Z"), I(4)), want: F(3), errAt: 1,
			wantErr: "AVG of datetime value '2026-01-02T00:00:00.0000000Z'"},
	})
}

func TestMinMax(t *testing.T) {
	mn, mx := Spec{Name: "MIN"}, Spec{Name: "MAX"}
	runCases(t, []aggCase{
		{name: "min none", spec: mn, want: N},
		{name: "max all null", spec: mx, adds: one(N, N), want: N},
		{name: "min bigints", spec: mn, adds: one(I(3), N, I(-2), I(5)), want: I(-2)},
		{name: "max bigints", spec: mx, adds: one(I(3), N, I(-2), I(5)), want: I(5)},
		{name: "max keeps kind of winner", spec: mx, adds: one(I(3), F(3.5), I(2)), want: F(3.5)},
		{name: "min mixed exact", spec: mn, adds: one(F(9007199254740993), I(9007199254740993)), want: F(9007199254740993)},
		{name: "tie keeps first", spec: mx, adds: one(I(2), F(2)), want: I(2)},
		{name: "tie keeps first float", spec: mn, adds: one(F(2), I(2)), want: F(2)},
		{name: "strings ordinal", spec: mx, adds: one(S("b"), S("B"), S("a")), want: S("b")},
		{name: "string datetimes (last-event-join doc example)", spec: mx,
			adds: one(S("2015-07-27T00:00:05.0000000Z"), S("2015-07-27T00:09:31.0000000Z"), S("2015-07-27T00:06:00.0000000Z")),
			want: S("2015-07-27T00:09:31.0000000Z")},
		{name: "datetimes", spec: mn, adds: one(DT(t, "2026-01-02T00:00:01Z"), DT(t, "2026-01-01T00:00:00Z")), want: DT(t, "2026-01-01T00:00:00Z")},
		{name: "bits", spec: mx, adds: one(B(false), B(true), B(false)), want: B(true)},
		{name: "mixed classes", spec: mx, adds: one(I(1), S("a"), I(2)), want: I(2), errAt: 1,
			wantErr: "MAX cannot compare nvarchar(max) value 'a' with bigint value 1", errIs: sqlval.ErrType},
		{name: "bit with number", spec: mn, adds: one(B(true), I(0)), want: B(true), errAt: 1, wantErr: "MIN cannot compare bigint value 0 with bit value"},
		{name: "record", spec: mn, adds: one(arr(I(1))), want: N, errAt: 0,
			wantErr: "MIN of array value [1]: MIN takes bigint, float, bit, datetime or nvarchar(max)", errIs: sqlval.ErrType},
	})
}

func TestVariance(t *testing.T) {
	runCases(t, []aggCase{
		{name: "stdev none", spec: Spec{Name: "STDEV"}, want: N},
		{name: "stdev one value", spec: Spec{Name: "STDEV"}, adds: one(I(5)), want: N},
		{name: "var one value", spec: Spec{Name: "VAR"}, adds: one(F(5)), want: N},
		{name: "stdevp one value", spec: Spec{Name: "STDEVP"}, adds: one(I(5)), want: F(0)},
		{name: "varp one value", spec: Spec{Name: "VARP"}, adds: one(I(5), N), want: F(0)},
		{name: "varp none", spec: Spec{Name: "VARP"}, adds: one(N), want: N},
		{name: "var two", spec: Spec{Name: "VAR"}, adds: one(I(1), N, I(3)), want: F(2)},
		{name: "stdevp two", spec: Spec{Name: "STDEVP"}, adds: one(I(1), F(3)), want: F(1)},
		{name: "constant", spec: Spec{Name: "VAR"}, adds: one(F(0.1), F(0.1), F(0.1)), want: F(0)},
		{name: "string", spec: Spec{Name: "STDEV"}, adds: one(S("1")), want: N, errAt: 0,
			wantErr: "STDEV of nvarchar(max) value '1': STDEV takes bigint or float", errIs: sqlval.ErrType},
	})
}

// TestVarianceGolden checks the stdev-var golden case of internal/stream/testdata/golden (values
// from Python's statistics module) with the case's relative tolerance, and that the integral
// results come out exact.
func TestVarianceGolden(t *testing.T) {
	groups := []struct {
		vals []int64
		want map[string]float64
	}{
		{[]int64{2, 4, 4, 4, 5, 5, 7, 9}, map[string]float64{"AVG": 5, "STDEV": 2.138089935299395, "STDEVP": 2, "VAR": 4.571428571428571, "VARP": 4}},
		{[]int64{1, 3}, map[string]float64{"AVG": 2, "STDEV": 1.4142135623730951, "STDEVP": 1, "VAR": 2, "VARP": 1}},
	}
	for _, g := range groups {
		for name, want := range g.want {
			a := New(Spec{Name: name})
			for _, v := range g.vals {
				if err := a.Add([]sqlval.Value{I(v)}); err != nil {
					t.Fatal(err)
				}
			}
			got := a.Result().Float()
			if math.Abs(got-want) > 1e-12*math.Abs(want) {
				t.Errorf("%s%v = %v, want %v", name, g.vals, got, want)
			}
			if want == math.Trunc(want) && got != want {
				t.Errorf("%s%v = %v, want exactly %v", name, g.vals, got, want)
			}
		}
	}
}

func TestTopOne(t *testing.T) {
	desc := Spec{Name: "TOPONE", Desc: []bool{true}}
	asc := Spec{Name: "TOPONE", Desc: []bool{false}}
	two := Spec{Name: "TOPONE", Desc: []bool{false, true}}
	ev := func(time string, v int64) sqlval.Value { return rec("Time", S(time), "Value", I(v)) }
	e1, e2, e3 := ev("2014-01-01T06:01:00.0000000Z", 1), ev("2014-01-01T06:01:05.0000000Z", 2), ev("2014-01-01T06:01:10.0000000Z", 3)
	add := func(e sqlval.Value, keys ...sqlval.Value) []sqlval.Value {
		return append([]sqlval.Value{e}, keys...)
	}
	runCases(t, []aggCase{
		{name: "none", spec: desc, want: N},
		{name: "doc example: latest by Time DESC", spec: desc,
			adds: [][]sqlval.Value{add(e1, S("2014-01-01T06:01:00.0000000Z")), add(e3, S("2014-01-01T06:01:10.0000000Z")), add(e2, S("2014-01-01T06:01:05.0000000Z"))},
			want: e3},
		{name: "asc", spec: asc, adds: [][]sqlval.Value{add(e2, I(5)), add(e1, I(3)), add(e3, I(4))}, want: e1},
		{name: "ties keep earliest", spec: desc, adds: [][]sqlval.Value{add(e2, I(5)), add(e1, F(5)), add(e3, I(4))}, want: e2},
		{name: "second key breaks ties", spec: two,
			adds: [][]sqlval.Value{add(e1, I(1), I(1)), add(e2, I(1), I(9)), add(e3, I(2), I(99))}, want: e2},
		{name: "null key first ascending", spec: asc, adds: [][]sqlval.Value{add(e1, I(1)), add(e2, N)}, want: e2},
		{name: "null key last descending", spec: desc, adds: [][]sqlval.Value{add(e1, N), add(e2, I(-5))}, want: e2},
		{name: "projection TopOne(x)", spec: desc, adds: [][]sqlval.Value{add(I(10), I(1)), add(I(20), I(2))}, want: I(20)},
		{name: "datetime keys", spec: desc,
			adds: [][]sqlval.Value{add(e1, DT(t, "2026-01-01T00:00:00Z")), add(e2, DT(t, "2026-01-03T00:00:00Z")), add(e3, DT(t, "2026-01-02T00:00:00Z"))}, want: e2},
		{name: "arity", spec: two, adds: [][]sqlval.Value{add(e1, I(1))}, want: N, errAt: 0,
			wantErr: "TopOne.Add got 2 arguments", errIs: sqlval.ErrArgument},
	})
}

// TestTopOneCopiesKeys: the caller may reuse its argument slice after Add.
func TestTopOneCopiesKeys(t *testing.T) {
	a := New(Spec{Name: "TOPONE", Desc: []bool{false}})
	args := []sqlval.Value{S("first"), I(1)}
	if err := a.Add(args); err != nil {
		t.Fatal(err)
	}
	args[0], args[1] = S("second"), I(2) // reuse: must not change the kept key
	if err := a.Add(args); err != nil {
		t.Fatal(err)
	}
	if got := a.Result(); !same(got, S("first")) {
		t.Fatalf("Result() = %s, want first", got)
	}
}

func TestCollect(t *testing.T) {
	s := Spec{Name: "COLLECT"}
	runCases(t, []aggCase{
		{name: "none is an empty array", spec: s, want: arr()},
		{name: "doc query Collect(a + b)", spec: s, adds: one(I(3), I(7), I(30)), want: arr(I(3), I(7), I(30))},
		{name: "nulls kept", spec: s, adds: one(I(1), N, I(1)), want: arr(I(1), N, I(1))},
		{name: "whole events", spec: s, adds: one(rec("a", I(1)), rec("a", I(3))), want: arr(rec("a", I(1)), rec("a", I(3)))},
		{name: "arity", spec: s, adds: [][]sqlval.Value{{}}, want: arr(), errAt: 0, wantErr: "Collect.Add got 0 arguments"},
	})
}

// TestCollectResultIsStable: an array returned by Result does not change with later Adds.
func TestCollectResultIsStable(t *testing.T) {
	a := New(Spec{Name: "COLLECT"})
	for i := range 3 {
		if err := a.Add([]sqlval.Value{I(int64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	r1 := a.Result()
	for i := range 10 {
		if err := a.Add([]sqlval.Value{I(int64(100 + i))}); err != nil {
			t.Fatal(err)
		}
	}
	if !same(r1, arr(I(0), I(1), I(2))) {
		t.Fatalf("earlier Result changed to %s", r1)
	}
	if a.Result().Len() != 13 {
		t.Fatalf("Result has %d elements, want 13", a.Result().Len())
	}
}
