package agg

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// allSpecs is one spec of every accumulator type and state tag.
var allSpecs = []Spec{
	{Name: "COUNT", Star: true},
	{Name: "COUNT"},
	{Name: "COUNT", Distinct: true},
	{Name: "SUM"},
	{Name: "AVG"},
	{Name: "MIN"},
	{Name: "MAX"},
	{Name: "STDEV"},
	{Name: "STDEVP"},
	{Name: "VAR"},
	{Name: "VARP"},
	{Name: "TOPONE", Desc: []bool{true}},
	{Name: "TOPONE", Desc: []bool{false, true}},
	{Name: "COLLECT"},
}

func specName(s Spec) string {
	n := s.Name
	if s.Star {
		n += "(*)"
	}
	if s.Distinct {
		n += "(DISTINCT)"
	}
	for _, d := range s.Desc {
		if d {
			n += "-desc"
		} else {
			n += "-asc"
		}
	}
	return n
}

// randomArg draws an argument value; numbers dominate so that the numeric aggregates mostly
// succeed, with the odd NULL, string, special float and huge bigint.
func randomArg(r *rand.Rand) sqlval.Value {
	switch r.IntN(20) {
	case 0, 1:
		return N
	case 2:
		return S([]string{"a", "b", "2026-01-02T00:00:00.0000000Z"}[r.IntN(3)])
	case 3:
		return F([]float64{math.NaN(), math.Inf(1), math.Copysign(0, -1), 1e300, 5e-324}[r.IntN(5)])
	case 4:
		return I([]int64{math.MaxInt64, math.MinInt64, 1 << 60, -(1 << 61)}[r.IntN(4)])
	case 5:
		return rec("a", I(r.Int64N(3)), "b", arr(S("x")))
	case 6, 7, 8, 9, 10:
		return F(float64(r.IntN(2001)-1000) / 8)
	default:
		return I(r.Int64N(201) - 100)
	}
}

// randomArgs draws the arguments of one Add for spec.
func randomArgs(r *rand.Rand, spec Spec) []sqlval.Value {
	switch {
	case spec.Star:
		return nil
	case spec.Name == "TOPONE":
		args := []sqlval.Value{rec("n", I(r.Int64N(1000)))}
		for range spec.Desc {
			if r.IntN(5) == 0 {
				args = append(args, N)
			} else {
				args = append(args, I(r.Int64N(4)))
			}
		}
		return args
	}
	return []sqlval.Value{randomArg(r)}
}

// sameBits is identity of values: equal binary forms (kind, float bits, names, order).
func sameBits(a, b sqlval.Value) bool {
	return bytes.Equal(a.AppendBinary(nil), b.AppendBinary(nil))
}

// TestStateRoundTrip: for random Add sequences, checkpointing at any point (Restore of
// AppendState) and going on gives the same Results, errors and states, bit for bit, as never
// checkpointing.
func TestStateRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, spec := range allSpecs {
		t.Run(specName(spec), func(t *testing.T) {
			for range 100 {
				adds := make([][]sqlval.Value, r.IntN(12))
				for i := range adds {
					adds[i] = randomArgs(r, spec)
				}
				cut := r.IntN(len(adds) + 1)
				ref := New(spec)
				for _, a := range adds[:cut] {
					_ = ref.Add(a)
				}
				state := ref.AppendState(nil)
				got, err := Restore(spec, state)
				if err != nil {
					t.Fatalf("Restore(% x): %v", state, err)
				}
				if again := got.AppendState(nil); !bytes.Equal(again, state) {
					t.Fatalf("state changed by Restore: % x -> % x", state, again)
				}
				if !sameBits(got.Result(), ref.Result()) {
					t.Fatalf("after restore Result %s, want %s", got.Result(), ref.Result())
				}
				for i, a := range adds[cut:] {
					e1, e2 := ref.Add(a), got.Add(a)
					if (e1 == nil) != (e2 == nil) {
						t.Fatalf("Add #%d (%v): errors differ: %v vs %v", cut+i, a, e1, e2)
					}
					if !sameBits(got.Result(), ref.Result()) {
						t.Fatalf("Add #%d: Result %s, want %s", cut+i, got.Result(), ref.Result())
					}
				}
				if !bytes.Equal(got.AppendState(nil), ref.AppendState(nil)) {
					t.Fatal("final states differ")
				}
			}
		})
	}
}

// TestStateAppends: AppendState appends to dst and leaves what was there.
func TestStateAppends(t *testing.T) {
	for _, spec := range allSpecs {
		a := New(spec)
		_ = a.Add(randomArgs(rand.New(rand.NewPCG(1, 1)), spec))
		b := a.AppendState([]byte("prefix"))
		if !bytes.HasPrefix(b, []byte("prefix")) || !bytes.Equal(b[6:], a.AppendState(nil)) {
			t.Errorf("%s: AppendState did not append", specName(spec))
		}
	}
}

func TestRestoreErrors(t *testing.T) {
	stateOf := func(spec Spec, adds ...[]sqlval.Value) []byte {
		a := New(spec)
		for _, args := range adds {
			if err := a.Add(args); err != nil {
				t.Fatal(err)
			}
		}
		return a.AppendState(nil)
	}
	count := Spec{Name: "COUNT"}
	distinct := Spec{Name: "COUNT", Distinct: true}
	tests := []struct {
		name  string
		spec  Spec
		state []byte
		want  string
	}{
		{"empty", count, nil, "agg: COUNT state: state tag missing: state ends (at byte 0)"},
		{"other aggregate", Spec{Name: "AVG"}, stateOf(Spec{Name: "SUM"}), "state tag 3 is not AVG's (4): the state was written for another aggregate or version"},
		{"min as max", Spec{Name: "MAX"}, stateOf(Spec{Name: "MIN"}), "state tag 5 is not MAX's (6)"},
		{"trailing bytes", count, append(stateOf(count), 0), "1 unexpected bytes after the state (at byte 2)"},
		{"truncated varint", count, []byte{tagCount, 0x80}, "count: state ends inside a varint"},
		{"overlong varint", count, []byte{tagCount, 0x81, 0x00}, "count: overlong varint"},
		{"count out of range", count, []byte{tagCount, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "count 18446744073709551615 is out of range"},
		{"sum mode", Spec{Name: "SUM"}, []byte{tagSum, 7}, "sum mode 7 is not 0 (none), 1 (bigint) or 2 (float) (at byte 1)"},
		{"avg short float", Spec{Name: "AVG"}, []byte{tagAvg, 1, 0, 0, 0}, "sum needs 8 bytes, 3 remain"},
		{"distinct count too large", distinct, []byte{tagCountDistinct, 100, 0}, "distinct value count 100 exceeds remaining 1 bytes"},
		{"distinct duplicate", distinct, []byte{tagCountDistinct, 2, byte(sqlval.KindBigint), 4, byte(sqlval.KindFloat), 0, 0, 0, 0, 0, 0, 0, 0x40},
			"distinct value 1 (float value 2) repeats an earlier one"},
		{"distinct null", distinct, []byte{tagCountDistinct, 1, byte(sqlval.KindNull)}, "distinct value 0 is NULL"},
		{"distinct bad value", distinct, []byte{tagCountDistinct, 1, 99}, "agg: COUNT state: distinct value (at byte 2): sqlval: checkpoint value: unknown kind tag 99"},
		{"min of record", Spec{Name: "MIN"}, append([]byte{tagMin}, rec().AppendBinary(nil)...), "record value {} is not a value MIN keeps"},
		{"topone flag", Spec{Name: "TOPONE", Desc: []bool{true}}, []byte{tagTopOne, 2}, "has top flag 2 is neither 0 nor 1"},
		{"topone missing key", Spec{Name: "TOPONE", Desc: []bool{true, true}},
			stateOf(Spec{Name: "TOPONE", Desc: []bool{true}}, []sqlval.Value{I(1), I(2)}), "ORDER BY key (at byte 6): sqlval: checkpoint value: value missing"},
		{"collect count", Spec{Name: "COLLECT"}, []byte{tagCollect, 0xe8, 0x07}, "value count 1000 exceeds remaining 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Restore(tt.spec, tt.state)
			if err == nil {
				t.Fatalf("Restore(% x) = %v, want error %q", tt.state, a.Result(), tt.want)
			}
			if !errors.Is(err, sqlval.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore(% x) error %q, want ErrCorrupt with %q", tt.state, err, tt.want)
			}
		})
	}
}

// FuzzRestore: Restore never panics, whatever the bytes and the spec; a state it accepts
// re-encodes to the same bytes (the format is canonical) and the accumulator keeps working.
func FuzzRestore(f *testing.F) {
	r := rand.New(rand.NewPCG(31, 32))
	for i, spec := range allSpecs {
		a := New(spec)
		for range 4 {
			_ = a.Add(randomArgs(r, spec))
		}
		f.Add(uint8(i), a.AppendState(nil))
		f.Add(uint8(i), New(spec).AppendState(nil))
	}
	f.Fuzz(func(t *testing.T, which uint8, state []byte) {
		spec := allSpecs[int(which)%len(allSpecs)]
		a, err := Restore(spec, state)
		if err != nil {
			if !errors.Is(err, sqlval.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if out := a.AppendState(nil); !bytes.Equal(out, state) {
			t.Fatalf("%s: state % x re-encodes as % x", specName(spec), state, out)
		}
		_ = a.Result()
		rr := rand.New(rand.NewPCG(uint64(len(state)), 1))
		for range 3 {
			_ = a.Add(randomArgs(rr, spec))
			_ = a.Result()
		}
	})
}
