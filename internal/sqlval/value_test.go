package sqlval

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Shorthands for test tables.
var (
	N = Null
	I = Bigint
	F = Float
	S = String
	B = Bit
)

func DT(t testing.TB, s string) Value {
	t.Helper()
	ticks, err := ParseDatetime(s)
	if err != nil {
		t.Fatalf("ParseDatetime(%q): %v", s, err)
	}
	return Datetime(ticks)
}

func rec(kv ...any) Value {
	var fs []Field
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, Field{Name: kv[i].(string), Value: kv[i+1].(Value)})
	}
	return Record(fs)
}

func arr(vs ...Value) Value { return Array(vs) }

func TestKindNames(t *testing.T) {
	want := map[Kind]string{KindNull: "null", KindBit: "bit", KindBigint: "bigint", KindFloat: "float",
		KindDatetime: "datetime", KindString: "nvarchar(max)", KindRecord: "record", KindArray: "array"}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), s)
		}
	}
}

func TestAccessors(t *testing.T) {
	if !N.IsNull() || I(1).IsNull() {
		t.Fatal("IsNull")
	}
	if I(-7).Int() != -7 || F(2.5).Float() != 2.5 || I(3).Float() != 3 || S("x").Str() != "x" || !B(true).Bool() {
		t.Fatal("scalar accessors")
	}
	d := DT(t, "2026-01-02T03:04:05.1234567Z")
	if got := d.Time().Format("2006-01-02T15:04:05.0000000Z07:00"); got != "2026-01-02T03:04:05.1234567Z" {
		t.Fatalf("Time() = %s", got)
	}
	if back, ok := DatetimeFromTime(d.Time()); !ok || back != d {
		t.Fatalf("DatetimeFromTime round trip: %v %v", back, ok)
	}
	r := rec("deviceId", S("d1"), "Temp", F(1.5), "temp", F(2.5))
	if v, ok := r.Get("temp"); !ok || v.Float() != 2.5 {
		t.Errorf("exact match should win: %v", v)
	}
	if v, ok := r.Get("DEVICEID"); !ok || v.Str() != "d1" {
		t.Errorf("case-insensitive lookup: %v %v", v, ok)
	}
	if _, ok := r.Get("missing"); ok {
		t.Error("missing field found")
	}
	a := arr(I(1), I(2))
	if v, ok := a.Index(1); !ok || v.Int() != 2 {
		t.Error("Index(1)")
	}
	if _, ok := a.Index(2); ok {
		t.Error("Index out of range")
	}
	if a.Len() != 2 || r.Len() != 3 || len(r.Fields()) != 3 || len(a.Elems()) != 2 {
		t.Error("Len/Fields/Elems")
	}
}

func TestCompareOrder(t *testing.T) {
	// Sorted ascending, with Equal neighbours grouped on one line.
	sorted := [][]Value{
		{N},
		{B(false)},
		{B(true)},
		{F(math.NaN())},
		{F(math.Inf(-1))},
		{I(math.MinInt64), F(-9223372036854775808.0)},
		{I(-1), F(-1)},
		{F(-0.5)},
		{I(0), F(0), F(math.Copysign(0, -1))},
		{F(0.5)},
		{I(1), F(1)},
		{I(1<<53 + 1)},
		{I(math.MaxInt64)},
		{F(9223372036854775808.0)},
		{F(math.Inf(1))},
		{DT(t, "0001-01-01T00:00:00Z")},
		{DT(t, "2026-01-02T03:04:05Z")},
		{S("")},
		{S("A")},
		{S("a")},
		{S("é")},
		{rec()},
		{rec("a", I(1))},
		{rec("a", I(1), "b", N)},
		{rec("b", I(0))},
		{arr()},
		{arr(I(1))},
		{arr(I(1), I(2))},
		{arr(I(2))},
	}
	for i, gi := range sorted {
		for _, a := range gi {
			for j, gj := range sorted {
				for _, b := range gj {
					want := cmpInt(int64(i), int64(j))
					if got := Compare(a, b); got != want {
						t.Errorf("Compare(%v [%s], %v [%s]) = %d, want %d", a, a.Kind(), b, b.Kind(), got, want)
					}
					ka, kb := a.AppendKey(nil), b.AppendKey(nil)
					if (want == 0) != bytes.Equal(ka, kb) {
						t.Errorf("AppendKey(%v) vs AppendKey(%v): equal=%v, want %v", a, b, bytes.Equal(ka, kb), want == 0)
					}
				}
			}
		}
	}
}

// TestCompareProperties checks on random values that Compare is a total order consistent with
// Equal and AppendKey, and that sorting is deterministic.
func TestCompareProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]Value, 400)
	for i := range vals {
		vals[i] = randomValue(r, 2)
	}
	for _, a := range vals {
		for _, b := range vals {
			c := Compare(a, b)
			if Compare(b, a) != -c {
				t.Fatalf("antisymmetry: %v %v", a, b)
			}
			if (c == 0) != Equal(a, b) || (c == 0) != bytes.Equal(a.AppendKey(nil), b.AppendKey(nil)) {
				t.Fatalf("Equal/AppendKey disagree with Compare on %v, %v", a, b)
			}
		}
	}
	s1 := slices.Clone(vals)
	slices.SortStableFunc(s1, Compare)
	for i := 1; i < len(s1); i++ {
		if Compare(s1[i-1], s1[i]) > 0 {
			t.Fatalf("not sorted at %d", i)
		}
		for k := 0; k < i; k++ { // transitivity along the sorted order
			if Compare(s1[k], s1[i]) > 0 {
				t.Fatalf("transitivity broken between %v and %v", s1[k], s1[i])
			}
		}
	}
}

func randomValue(r *rand.Rand, depth int) Value {
	n := 7
	if depth > 0 {
		n = 9
	}
	switch r.IntN(n) {
	case 0:
		return N
	case 1:
		return B(r.IntN(2) == 1)
	case 2:
		return I(r.Int64N(7) - 3)
	case 3:
		return F(float64(r.IntN(13)-6) / 2)
	case 4:
		return I(int64(r.Uint64()))
	case 5:
		return S(string(rune('a' + r.IntN(3))))
	case 6:
		return Datetime(r.Int64N(5))
	case 7:
		k := r.IntN(3)
		fs := make([]Field, k)
		for i := range fs {
			fs[i] = Field{Name: string(rune('a' + r.IntN(2))), Value: randomValue(r, depth-1)}
		}
		return Record(fs)
	default:
		k := r.IntN(3)
		es := make([]Value, k)
		for i := range es {
			es[i] = randomValue(r, depth-1)
		}
		return Array(es)
	}
}

func TestAppendKeySelfDelimiting(t *testing.T) {
	// ("ab", "c") and ("a", "bc") must not collide when keys are concatenated.
	k1 := S("c").AppendKey(S("ab").AppendKey(nil))
	k2 := S("bc").AppendKey(S("a").AppendKey(nil))
	if bytes.Equal(k1, k2) {
		t.Fatal("concatenated keys collide")
	}
}

func BenchmarkAppendKey(b *testing.B) {
	keys := []Value{S("dev-1234"), I(42), F(21.5), DT(b, "2026-01-02T03:04:05Z")}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, k := range keys {
			buf = k.AppendKey(buf)
		}
	}
	// One op builds the key of a 4-column GROUP BY row.
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
