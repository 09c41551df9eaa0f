package sqlval

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Value
	}{
		{`null`, N},
		{`true`, B(true)},
		{` false `, B(false)},
		{`0`, I(0)},
		{`-0`, I(0)},
		{`42`, I(42)},
		{`-9223372036854775808`, I(math.MinInt64)},
		{`9223372036854775807`, I(math.MaxInt64)},
		{`9223372036854775808`, F(9223372036854775808.0)},
		{`1.5`, F(1.5)},
		{`1.0`, F(1)},
		{`1e3`, F(1000)},
		{`-2.5E-3`, F(-0.0025)},
		{`1e-400`, F(0)},
		{`"hi"`, S("hi")},
		{`"2026-01-02T03:04:05Z"`, S("2026-01-02T03:04:05Z")},
		{`"a\"b\\c\/d\b\f\n\r\t"`, S("a\"b\\c/d\b\f\n\r\t")},
		{`"\u00e9\u4e2d\ud83d\ude00"`, S("é中😀")},
		{`"\ud800"`, S("\ufffd")},
		{`"\ud800\u0041"`, S("\ufffdA")},
		{`"é中😀"`, S("é中😀")},
		{`[]`, arr()},
		{`[1, "a", null, [true]]`, arr(I(1), S("a"), N, arr(B(true)))},
		{`{}`, rec()},
		{`{"b":1,"a":{"c":[1.5]}}`, rec("b", I(1), "a", rec("c", arr(F(1.5))))},
		{`{"a":1,"b":2,"a":3}`, rec("a", I(3), "b", I(2))},
		{"\t{ \"a\" :\n1 }\r\n", rec("a", I(1))},
	}
	for _, tt := range tests {
		got, err := ParseJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseJSON(%s): %v", tt.in, err)
			continue
		}
		if !Equal(got, tt.want) || got.Kind() != tt.want.Kind() {
			t.Errorf("ParseJSON(%s) = %s [%s], want %s [%s]", tt.in, got.AppendJSON(nil), got.Kind(), tt.want.AppendJSON(nil), tt.want.Kind())
		}
	}
}

func TestParseJSONErrors(t *testing.T) {
	for _, in := range []string{
		``, ` `, `nul`, `tru`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `1e400`,
		`"abc`, `"\x"`, `"\u12"`, "\"a\x01\"", "\"\xff\"", `[1,]`, `[1 2]`, `{"a"}`, `{"a":}`,
		`{"a":1,}`, `{a:1}`, `{"a":1`, `[`, `1 2`, `{"a":1}x`, strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	} {
		if v, err := ParseJSON([]byte(in)); err == nil || !errors.Is(err, ErrJSON) {
			t.Errorf("ParseJSON(%q) = %v, %v; want ErrJSON", in, v, err)
		}
	}
}

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{N, `null`},
		{B(true), `true`},
		{I(-12), `-12`},
		{F(21.5), `21.5`},
		{F(1), `1.0`},
		{F(math.Copysign(0, -1)), `-0.0`},
		{F(1e20), `100000000000000000000.0`},
		{F(1e21), `1e+21`},
		{F(1.5e-7), `1.5e-7`},
		{F(0.000001), `0.000001`},
		{F(math.NaN()), `null`},
		{F(math.Inf(1)), `null`},
		{DT(t, "2026-01-02T03:04:05Z"), `"2026-01-02T03:04:05.0000000Z"`},
		{DT(t, "2026-01-02T03:04:05.12345678+01:00"), `"2026-01-02T02:04:05.1234567Z"`},
		{S("a\"\\\n\x01<>&é"), `"a\"\\\n\u0001<>&é"`},
		{S("bad\xffutf8"), `"bad` + "\ufffd" + `utf8"`},
		{rec("z", I(1), "a", arr(S("x"), N)), `{"z":1,"a":["x",null]}`},
	}
	for _, tt := range tests {
		if got := string(tt.v.AppendJSON(nil)); got != tt.want {
			t.Errorf("AppendJSON(%v) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"deviceId":"dev-123","temperature":21.5,"humidity":40,"ts":"2026-01-02T03:04:05Z","tags":["a","b"]}`,
		`{"a":{"b":{"c":[1,2.5,-3e-10,true,false,null,"\u0000\n"]}},"":""}`,
		`[1e+300,-1.7976931348623157e+308,5e-324,123456789012345678901234567890]`,
	} {
		v1, err := ParseJSON([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out := v1.AppendJSON(nil)
		v2, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("re-parse %s: %v", out, err)
		}
		if !Equal(v1, v2) {
			t.Fatalf("round trip changed %s into %s", in, out)
		}
		if out2 := v2.AppendJSON(nil); string(out2) != string(out) {
			t.Fatalf("encoding not stable: %s vs %s", out, out2)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out: %s", out)
		}
	}
}

// FuzzParseJSON: the decoder never panics; what it accepts is valid JSON for encoding/json too;
// it re-encodes to valid JSON that decodes to an Equal value and re-encodes to the same bytes.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"deviceId":"dev-123","temperature":21.5,"humidity":40,"ts":"2026-01-02T03:04:05Z","tags":["a","b"]}`,
		`[1,-0,1.5e-7,1e21,"\ud83d\ude00",{"a":null}]`, `"\u00"`, `{"a":1,"a":2}`, `-9223372036854775809`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseJSON(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		out := v.AppendJSON(nil)
		if !json.Valid(out) {
			t.Fatalf("encoded invalid JSON %q from %q", out, data)
		}
		v2, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("re-parse of %q failed: %v", out, err)
		}
		if !Equal(v, v2) {
			t.Fatalf("round trip %q -> %q changed the value", data, out)
		}
		if out2 := v2.AppendJSON(nil); string(out2) != string(out) {
			t.Fatalf("encoding not stable: %q vs %q", out, out2)
		}
	})
}

const benchEvent = `{"deviceId":"dev-123","temperature":21.5,"humidity":40,"ts":"2026-01-02T03:04:05Z","tags":["a","b"]}`

func BenchmarkParseJSON(b *testing.B) {
	data := []byte(benchEvent)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseJSON(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkParseJSONStdlib is the baseline the hand-written decoder is measured against.
func BenchmarkParseJSONStdlib(b *testing.B) {
	data := []byte(benchEvent)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppendJSON(b *testing.B) {
	v, _ := ParseJSON([]byte(benchEvent))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = v.AppendJSON(buf[:0])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
