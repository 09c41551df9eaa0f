package sqlval

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// identical reports whether a and b are the same value in every respect the binary form keeps:
// kind, exact float bits, field names and order. It is stricter than Equal (bigint 1 vs float 1,
// -0 vs 0, NaN payloads).
func identical(a, b Value) bool {
	if a.kind != b.kind || a.n != b.n || a.s != b.s {
		return false
	}
	switch a.kind {
	case KindRecord:
		fa, fb := a.c.fields, b.c.fields
		if len(fa) != len(fb) {
			return false
		}
		for i := range fa {
			if fa[i].Name != fb[i].Name || !identical(fa[i].Value, fb[i].Value) {
				return false
			}
		}
	case KindArray:
		ea, eb := a.c.elems, b.c.elems
		if len(ea) != len(eb) {
			return false
		}
		for i := range ea {
			if !identical(ea[i], eb[i]) {
				return false
			}
		}
	}
	return true
}

func nest(depth int) Value {
	v := I(1)
	for i := 0; i < depth; i++ {
		if i%2 == 0 {
			v = arr(v)
		} else {
			v = rec("x", v)
		}
	}
	return v
}

func TestBinaryRoundTrip(t *testing.T) {
	payloadNaN := Value{kind: KindFloat, n: 0x7ff0_0000_0000_0001} // a signalling NaN payload
	tests := []struct {
		name string
		v    Value
		size int // encoded length, -1 to skip
	}{
		{"null", N, 1},
		{"bit 0", B(false), 2},
		{"bit 1", B(true), 2},
		{"bigint 0", I(0), 2},
		{"bigint -1", I(-1), 2},
		{"bigint 63", I(63), 2},
		{"bigint 64", I(64), 3},
		{"bigint max", I(math.MaxInt64), 11},
		{"bigint min", I(math.MinInt64), 11},
		{"float 1.5", F(1.5), 9},
		{"float 2 stays float", F(2), 9},
		{"float -0", F(math.Copysign(0, -1)), 9},
		{"float NaN", F(math.NaN()), 9},
		{"float NaN payload", payloadNaN, 9},
		{"float +Inf", F(math.Inf(1)), 9},
		{"float -Inf", F(math.Inf(-1)), 9},
		{"float smallest subnormal", F(math.SmallestNonzeroFloat64), 9},
		{"datetime", DT(t, "2026-01-02T03:04:05.1234567Z"), -1},
		{"datetime before epoch", DT(t, "0001-01-01T00:00:00Z"), -1},
		{"string empty", S(""), 2},
		{"string", S("héllo"), 8},
		{"string invalid UTF-8", S("\xff\x00"), 4},
		{"record empty", rec(), 2},
		{"record order and names kept", rec("b", I(1), "a", F(2), "", N), -1},
		{"record duplicate names kept", rec("a", I(1), "a", I(2)), -1},
		{"array empty", arr(), 2},
		{"array nested", arr(I(1), arr(S("x"), rec("k", arr())), N, B(true)), -1},
		{"deepest decodable", nest(MaxBinaryDepth), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.v.AppendBinary([]byte{0xAA}) // appends after existing bytes
			if b[0] != 0xAA {
				t.Fatal("AppendBinary overwrote dst")
			}
			b = b[1:]
			if tt.size >= 0 && len(b) != tt.size {
				t.Errorf("encoded size %d, want %d (% x)", len(b), tt.size, b)
			}
			got, rest, err := DecodeBinary(append(b, 0x01, 0x02))
			if err != nil {
				t.Fatalf("DecodeBinary: %v", err)
			}
			if !bytes.Equal(rest, []byte{0x01, 0x02}) {
				t.Errorf("rest = % x, want 01 02", rest)
			}
			if !identical(got, tt.v) {
				t.Errorf("round trip gave %s [%s], want %s [%s]", got, got.Kind(), tt.v, tt.v.Kind())
			}
		})
	}
}

func TestBinaryStringsDoNotAliasInput(t *testing.T) {
	b := rec("name", S("value")).AppendBinary(nil)
	v, _, err := DecodeBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if !identical(v, rec("name", S("value"))) {
		t.Fatalf("decoded value changed with its input buffer: %s", v)
	}
}

func TestDecodeBinaryErrors(t *testing.T) {
	uv := func(prefix []byte, n uint64) []byte {
		return binary.AppendUvarint(prefix, n)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "value missing: input ends (at byte 0)"},
		{"unknown tag", []byte{8}, "unknown kind tag 8 (at byte 0)"},
		{"unknown tag 255", []byte{255}, "unknown kind tag 255"},
		{"bit missing", []byte{byte(KindBit)}, "bit value missing"},
		{"bit 2", []byte{byte(KindBit), 2}, "bit value 2 is neither 0 nor 1 (at byte 1)"},
		{"bigint truncated", []byte{byte(KindBigint), 0x80}, "bigint: input ends inside a varint"},
		{"bigint overlong", []byte{byte(KindBigint), 0x80, 0x00}, "bigint: overlong varint"},
		{"bigint overflow", append([]byte{byte(KindBigint)}, bytes.Repeat([]byte{0xff}, 11)...), "varint overflows 64 bits"},
		{"bigint overflow in 10th byte", append(append([]byte{byte(KindBigint)}, bytes.Repeat([]byte{0xff}, 9)...), 0x02), "varint overflows 64 bits"},
		{"datetime truncated", []byte{byte(KindDatetime)}, "datetime: input ends inside a varint"},
		{"float short", []byte{byte(KindFloat), 1, 2, 3}, "float needs 8 bytes, 3 remain"},
		{"string too long", uv([]byte{byte(KindString)}, 5), "string length 5 exceeds remaining 0 bytes (at byte 1)"},
		{"string huge", uv([]byte{byte(KindString)}, math.MaxUint64), "string length 18446744073709551615 exceeds remaining 0 bytes"},
		{"record count", append(uv([]byte{byte(KindRecord)}, 1000000), make([]byte, 12)...),
			"record field count 1000000 exceeds remaining 12 bytes (at byte 1)"},
		{"array count", uv([]byte{byte(KindArray)}, 3), "array element count 3 exceeds remaining 0 bytes"},
		{"field name too long", []byte{byte(KindRecord), 1, 9, 0}, "field name length 9 exceeds remaining 1 bytes (at byte 2)"},
		{"field value missing", []byte{byte(KindRecord), 1, 0, 0x08}, "unknown kind tag 8"},
		{"element truncated", []byte{byte(KindArray), 1, byte(KindString), 1}, "string length 1 exceeds remaining 0 bytes"},
		{"too deep", nest(MaxBinaryDepth + 1).AppendBinary(nil), "nesting deeper than 1024 records and arrays"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, rest, err := DecodeBinary(tt.in)
			if err == nil {
				t.Fatalf("DecodeBinary(% x) = %s, want error %q", tt.in, v, tt.want)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			if !strings.HasPrefix(err.Error(), "sqlval: checkpoint value: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if len(rest) != len(tt.in) {
				t.Errorf("on error rest has %d bytes, want the whole input (%d)", len(rest), len(tt.in))
			}
		})
	}
}

// randomBinaryValue draws values with the awkward cases of the binary form: special floats,
// extreme integers, empty and non-UTF-8 strings, duplicate field names.
func randomBinaryValue(r *rand.Rand, depth int) Value {
	n := 8
	if depth > 0 {
		n = 10
	}
	switch r.IntN(n) {
	case 0:
		return N
	case 1:
		return B(r.IntN(2) == 1)
	case 2:
		return I([]int64{0, -1, 1, 63, -64, 64, math.MaxInt64, math.MinInt64}[r.IntN(8)])
	case 3:
		return I(int64(r.Uint64()) >> r.IntN(64))
	case 4:
		return F([]float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1.5, 1e300, -5e-324}[r.IntN(8)])
	case 5:
		return Value{kind: KindFloat, n: r.Uint64()} // any bits, NaN payloads included
	case 6:
		return Datetime(int64(r.Uint64()) >> r.IntN(64))
	case 7:
		bs := make([]byte, r.IntN(5)+r.IntN(2)*200)
		for i := range bs {
			bs[i] = byte(r.Uint32())
		}
		return S(string(bs))
	case 8:
		fs := make([]Field, r.IntN(4))
		for i := range fs {
			fs[i] = Field{Name: string(rune('a' + r.IntN(2))), Value: randomBinaryValue(r, depth-1)}
		}
		return Record(fs)
	default:
		es := make([]Value, r.IntN(4))
		for i := range es {
			es[i] = randomBinaryValue(r, depth-1)
		}
		return Array(es)
	}
}

// TestBinaryRoundTripProperty: random values, concatenated, decode back identical one by one.
func TestBinaryRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 200 {
		vals := make([]Value, 1+r.IntN(5))
		var b []byte
		for i := range vals {
			vals[i] = randomBinaryValue(r, 4)
			b = vals[i].AppendBinary(b)
		}
		rest := b
		for i, want := range vals {
			var got Value
			var err error
			got, rest, err = DecodeBinary(rest)
			if err != nil {
				t.Fatalf("value %d of % x: %v", i, b, err)
			}
			if !identical(got, want) {
				t.Fatalf("value %d: got %s, want %s", i, got, want)
			}
		}
		if len(rest) != 0 {
			t.Fatalf("%d bytes left over", len(rest))
		}
	}
}

// TestDecodeBinaryTruncated: every proper prefix of a valid encoding is an error, never a panic
// and never a shorter value.
func TestDecodeBinaryTruncated(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 50 {
		b := randomBinaryValue(r, 3).AppendBinary(nil)
		for i := range len(b) {
			if v, _, err := DecodeBinary(b[:i]); err == nil {
				t.Fatalf("prefix %d of % x decoded as %s", i, b, v)
			}
		}
	}
}

// FuzzDecodeBinary: the decoder never panics; what it accepts re-encodes to exactly the bytes it
// consumed (the encoding is canonical) and decodes again to an Equal, identical value.
func FuzzDecodeBinary(f *testing.F) {
	r := rand.New(rand.NewPCG(15, 16))
	for range 20 {
		f.Add(randomBinaryValue(r, 3).AppendBinary(nil))
	}
	f.Add([]byte{byte(KindBigint), 0x80, 0x00})
	f.Add([]byte{byte(KindRecord), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(nest(40).AppendBinary(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, rest, err := DecodeBinary(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		consumed := data[:len(data)-len(rest)]
		out := v.AppendBinary(nil)
		if !bytes.Equal(out, consumed) {
			t.Fatalf("re-encoding of % x gave % x", consumed, out)
		}
		v2, rest2, err := DecodeBinary(out)
		if err != nil {
			t.Fatalf("decode of re-encoding % x: %v", out, err)
		}
		if len(rest2) != 0 || !Equal(v, v2) || !identical(v, v2) {
			t.Fatalf("second round trip changed %s into %s", v, v2)
		}
	})
}

func BenchmarkAppendBinary(b *testing.B) {
	v, err := ParseJSON([]byte(benchEvent))
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = v.AppendBinary(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeBinary(b *testing.B) {
	v, err := ParseJSON([]byte(benchEvent))
	if err != nil {
		b.Fatal(err)
	}
	buf := v.AppendBinary(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, _, err := DecodeBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}
