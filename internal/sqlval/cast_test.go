package sqlval

import (
	"errors"
	"math"
	"testing"
)

func TestParseType(t *testing.T) {
	for in, want := range map[string]Kind{
		"bigint": KindBigint, "FLOAT": KindFloat, "nvarchar(max)": KindString, "NVARCHAR ( MAX )": KindString,
		"datetime": KindDatetime, "Bit": KindBit, "record": KindRecord, "array": KindArray,
	} {
		if got, err := ParseType(in); err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"int", "nvarchar(10)", "varchar(max)", ""} {
		if _, err := ParseType(in); !errors.Is(err, ErrArgument) {
			t.Errorf("ParseType(%q) err = %v, want ErrArgument", in, err)
		}
	}
}

// fail marks a CAST that must fail with ErrConversion (and TRY_CAST give NULL).
var fail = Value{kind: 255}

func TestCastMatrix(t *testing.T) {
	dt := DT(t, "2026-01-02T03:04:05.5Z")
	r := rec("a", I(1))
	a := arr(I(1))
	tests := []struct {
		in   Value
		to   Kind
		want Value
	}{
		// NULL casts to NULL of every type.
		{N, KindBigint, N}, {N, KindFloat, N}, {N, KindString, N}, {N, KindDatetime, N},
		{N, KindBit, N}, {N, KindRecord, N}, {N, KindArray, N},

		// to bigint
		{I(5), KindBigint, I(5)},
		{F(2.9), KindBigint, I(2)},
		{F(-2.9), KindBigint, I(-2)},
		{F(9.3e18), KindBigint, fail},
		{F(math.NaN()), KindBigint, fail},
		{B(true), KindBigint, I(1)},
		{S(" 42 "), KindBigint, I(42)},
		{S("+7"), KindBigint, I(7)},
		{S("-9223372036854775808"), KindBigint, I(math.MinInt64)},
		{S("9223372036854775808"), KindBigint, fail},
		{S("3.5"), KindBigint, fail},
		{S("this is a string"), KindBigint, fail},
		{S(""), KindBigint, fail},
		{dt, KindBigint, fail},
		{r, KindBigint, fail},
		{a, KindBigint, fail},

		// to float
		{I(3), KindFloat, F(3)},
		{F(1.25), KindFloat, F(1.25)},
		{B(true), KindFloat, F(1)},
		{B(false), KindFloat, F(0)},
		{S("1.5e3"), KindFloat, F(1500)},
		{S(" -0.25 "), KindFloat, F(-0.25)},
		{S("1e400"), KindFloat, fail},
		{S("NaN"), KindFloat, fail},
		{S("inf"), KindFloat, fail},
		{S("0x10"), KindFloat, fail},
		{S("1_000"), KindFloat, fail},
		{S("."), KindFloat, fail},
		{dt, KindFloat, fail},

		// to nvarchar(max)
		{I(-12), KindString, S("-12")},
		{F(21.5), KindString, S("21.5")},
		{F(1), KindString, S("1")},
		{F(1e15), KindString, S("1E+15")},
		{F(123456789012345), KindString, S("123456789012345")},
		{F(0.00001), KindString, S("1E-05")},
		{F(0.0001), KindString, S("0.0001")},
		{F(-1.5e-7), KindString, S("-1.5E-07")},
		{B(true), KindString, S("true")},
		{B(false), KindString, S("false")},
		{dt, KindString, S("2026-01-02T03:04:05.5000000Z")},
		{S("x"), KindString, S("x")},
		{r, KindString, S(`{"a":1}`)},
		{a, KindString, S(`[1]`)},

		// to datetime
		{S("2026-01-02T03:04:05.5Z"), KindDatetime, dt},
		{S("2026-01-02 04:04:05.5+01:00"), KindDatetime, dt},
		{S("2026-01-02"), KindDatetime, DT(t, "2026-01-02T00:00:00Z")},
		{S("2026-02-30"), KindDatetime, fail},
		{S("yesterday"), KindDatetime, fail},
		{dt, KindDatetime, dt},
		{I(0), KindDatetime, fail},
		{F(0), KindDatetime, fail},

		// to bit
		{I(0), KindBit, B(false)},
		{I(-3), KindBit, B(true)},
		{F(0), KindBit, B(false)},
		{F(0.1), KindBit, B(true)},
		{S("TRUE"), KindBit, B(true)},
		{S("false"), KindBit, B(false)},
		{S("1"), KindBit, B(true)},
		{S("null"), KindBit, N},
		{S("yes"), KindBit, fail},
		{dt, KindBit, fail},

		// to record / array
		{r, KindRecord, r},
		{a, KindArray, a},
		{a, KindRecord, fail},
		{r, KindArray, fail},
		{S(`{"a":1}`), KindRecord, fail},
		{S(`[1]`), KindArray, fail},
		{I(1), KindRecord, fail},
	}
	for _, tt := range tests {
		got, err := Cast(tt.in, tt.to)
		try := TryCast(tt.in, tt.to)
		if tt.want.kind == 255 {
			if !errors.Is(err, ErrConversion) {
				t.Errorf("CAST(%v [%s] AS %s) = %v, %v; want ErrConversion", tt.in, tt.in.Kind(), tt.to, got, err)
			}
			if !try.IsNull() {
				t.Errorf("TRY_CAST(%v AS %s) = %v, want NULL", tt.in, tt.to, try)
			}
			continue
		}
		if err != nil || !Equal(got, tt.want) || got.Kind() != tt.want.Kind() {
			t.Errorf("CAST(%v [%s] AS %s) = %v [%s], %v; want %v [%s]", tt.in, tt.in.Kind(), tt.to, got, got.Kind(), err, tt.want, tt.want.Kind())
		}
		if !Equal(try, got) {
			t.Errorf("TRY_CAST(%v AS %s) = %v, CAST gave %v", tt.in, tt.to, try, got)
		}
	}
}

func TestParseDatetime(t *testing.T) {
	ok := map[string]string{
		"2026-01-02T03:04:05Z":              "2026-01-02T03:04:05.0000000Z",
		"2026-01-02t03:04:05z":              "2026-01-02T03:04:05.0000000Z",
		"2026-01-02T03:04:05.1234567Z":      "2026-01-02T03:04:05.1234567Z",
		"2026-01-02T03:04:05.123456789Z":    "2026-01-02T03:04:05.1234567Z",
		"2026-01-02T03:04:05,5Z":            "2026-01-02T03:04:05.5000000Z",
		"2026-01-02T03:04":                  "2026-01-02T03:04:00.0000000Z",
		"2026-01-02 03:04:05":               "2026-01-02T03:04:05.0000000Z",
		"  2026-01-02  ":                    "2026-01-02T00:00:00.0000000Z",
		"2026-01-02T03:04:05+05:30":         "2026-01-01T21:34:05.0000000Z",
		"2026-01-02T03:04:05-0100":          "2026-01-02T04:04:05.0000000Z",
		"2026-01-02T03:04:05+01":            "2026-01-02T02:04:05.0000000Z",
		"2024-02-29T00:00:00Z":              "2024-02-29T00:00:00.0000000Z",
		"0001-01-01T00:00:00Z":              "0001-01-01T00:00:00.0000000Z",
		"9999-12-31T23:59:59.9999999Z":      "9999-12-31T23:59:59.9999999Z",
		"1969-12-31T23:59:59.9999999Z":      "1969-12-31T23:59:59.9999999Z",
		"2014-09-10 12:00:00":               "2014-09-10T12:00:00.0000000Z",
		"2026-06-15T12:00:00.000000000001Z": "2026-06-15T12:00:00.0000000Z",
	}
	for in, want := range ok {
		ticks, err := ParseDatetime(in)
		if err != nil {
			t.Errorf("ParseDatetime(%q): %v", in, err)
			continue
		}
		if got := string(appendDatetime(nil, ticks)); got != want {
			t.Errorf("ParseDatetime(%q) = %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{
		"", "2026", "2026-01", "2026-1-02", "2026-13-01", "2026-00-01", "2025-02-29", "2026-04-31",
		"2026-01-02T", "2026-01-02T3:04", "2026-01-02T24:00:00", "2026-01-02T03:60", "2026-01-02T03:04:61",
		"2026-01-02T03:04:05.", "2026-01-02T03:04:05Zjunk", "2026-01-02T03:04:05+25:00", "0000-01-01",
		"0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "2026/01/02",
	} {
		if _, err := ParseDatetime(in); !errors.Is(err, ErrConversion) {
			t.Errorf("ParseDatetime(%q) err = %v, want ErrConversion", in, err)
		}
	}
}
