package sqlval

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Errors returned by this package, wrapped with details; test with errors.Is. The job runtime
// maps them to its error catalogue (a conversion error stops a CAST; TRY_CAST never returns one).
var (
	// ErrConversion: a value cannot be converted to the requested type.
	ErrConversion = errors.New("conversion error")
	// ErrType: an operator or function got an argument of a type it does not take.
	ErrType = errors.New("type error")
	// ErrArgument: an argument has a valid type but an invalid value (negative length, unknown
	// date part, wrong argument count).
	ErrArgument = errors.New("invalid argument")
	// ErrOverflow: a bigint or datetime result is out of range.
	ErrOverflow = errors.New("arithmetic overflow")
	// ErrDivideByZero: division or modulo by zero.
	ErrDivideByZero = errors.New("divide by zero")
)

// ParseType parses the target type of CAST / TRY_CAST: bigint, float, nvarchar(max), datetime,
// bit, record or array, in any case and with spaces allowed around "(max)". Stream Analytics
// supports no nvarchar length other than max.
func ParseType(name string) (Kind, error) {
	n := strings.ToLower(strings.Join(strings.Fields(name), ""))
	switch n {
	case "bigint":
		return KindBigint, nil
	case "float":
		return KindFloat, nil
	case "nvarchar(max)":
		return KindString, nil
	case "datetime":
		return KindDatetime, nil
	case "bit":
		return KindBit, nil
	case "record":
		return KindRecord, nil
	case "array":
		return KindArray, nil
	}
	return KindNull, fmt.Errorf("%w: unknown type %q; use bigint, float, nvarchar(max), datetime, bit, record or array", ErrArgument, name)
}

// Cast converts v to the kind t with CAST semantics: NULL stays NULL, and a value that cannot be
// converted is an error wrapping ErrConversion (in Stream Analytics "if the conversion cannot be
// performed, the function fails", e.g. CAST('this is a string' AS bigint)).
//
// The conversions:
//
//	to bigint:   bigint; float truncated toward zero (as T-SQL; NaN, ±Inf and out-of-range fail);
//	             bit as 0/1; a string holding an integer (spaces trimmed, optional sign).
//	to float:    bigint, float; bit as 1.0/0.0 (the documented bit/float table); a string holding a
//	             decimal number with optional exponent (no hex, no NaN/Infinity).
//	to nvarchar: every scalar: bigint in decimal, float in the shortest round-trip form, bit as
//	             "true"/"false" (the documented CSV form), datetime as 2026-01-02T03:04:05.0000000Z;
//	             a record or array as its JSON text.
//	to datetime: datetime; a string in an ISO 8601 form (see ParseDatetime). Numbers fail.
//	to bit:      bit; bigint and float 0 → 0, any other number → 1 (documented for float); strings
//	             "true"/"false"/"1"/"0" in any case → 1/0 and "null" → NULL (the documented CSV input).
//	to record:   records only.  to array: arrays only.
func Cast(v Value, t Kind) (Value, error) {
	if v.kind == KindNull || v.kind == t {
		return v, nil
	}
	var r Value
	var ok bool
	switch t {
	case KindBigint:
		r, ok = toBigint(v)
	case KindFloat:
		r, ok = toFloat(v)
	case KindString:
		r, ok = toNvarchar(v)
	case KindDatetime:
		if v.kind == KindString {
			if ticks, err := ParseDatetime(v.s); err == nil {
				r, ok = Datetime(ticks), true
			}
		}
	case KindBit:
		r, ok = toBit(v)
	case KindNull:
		return Null, nil
	}
	if !ok {
		return Null, fmt.Errorf("%w: cannot convert %s %s to %s", ErrConversion, v.kind, quoteForError(v), t)
	}
	return r, nil
}

// TryCast is Cast that returns NULL instead of failing ("TRY_CAST: errors are passed as NULL").
func TryCast(v Value, t Kind) Value {
	r, err := Cast(v, t)
	if err != nil {
		return Null
	}
	return r
}

func quoteForError(v Value) string {
	s := v.String()
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

func toBigint(v Value) (Value, bool) {
	switch v.kind {
	case KindFloat:
		f := math.Trunc(v.Float())
		if !(f >= -9223372036854775808.0 && f < 9223372036854775808.0) {
			return Null, false
		}
		return Bigint(int64(f)), true
	case KindBit:
		return Bigint(int64(v.n)), true
	case KindString:
		s := trimSpaces(v.s)
		if len(s) > 0 && s[0] == '+' {
			s = s[1:]
			if len(s) > 0 && s[0] == '-' {
				return Null, false
			}
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Null, false
		}
		return Bigint(i), true
	}
	return Null, false
}

func toFloat(v Value) (Value, bool) {
	switch v.kind {
	case KindBigint, KindBit:
		return Float(v.Float()), true
	case KindString:
		s := trimSpaces(v.s)
		if !isDecimalNumber(s) {
			return Null, false
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return Null, false
		}
		if math.IsInf(f, 0) {
			return Null, false
		}
		return Float(f), true
	}
	return Null, false
}

// isDecimalNumber accepts [+-]digits[.digits][(e|E)[+-]digits] with at least one digit in the
// mantissa; strconv.ParseFloat alone would also take hex, "inf", "nan" and underscores.
func isDecimalNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

func toNvarchar(v Value) (Value, bool) {
	switch v.kind {
	case KindString:
		return v, true
	case KindBigint:
		return String(strconv.FormatInt(int64(v.n), 10)), true
	case KindFloat:
		return String(string(appendFloatText(nil, v.Float()))), true
	case KindBit:
		if v.n != 0 {
			return String("true"), true
		}
		return String("false"), true
	case KindDatetime:
		return String(string(appendDatetime(nil, int64(v.n)))), true
	case KindRecord, KindArray:
		return String(string(v.AppendJSON(nil))), true
	}
	return Null, false
}

// appendFloatText formats a float the way .NET's double.ToString() does, which is what Stream
// Analytics prints: the shortest round-trip digits, plain notation for exponents -4..14,
// scientific "1E+15" / "1E-05" otherwise, "NaN", "Infinity", "-Infinity".
func appendFloatText(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		return append(dst, '0')
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	k := bytes.LastIndexByte(e, 'e')
	exp, _ := strconv.Atoi(string(e[k+1:]))
	if exp >= -4 && exp < 15 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	dst = append(dst, e[:k]...)
	dst = append(dst, 'E')
	if exp < 0 {
		dst = append(dst, '-')
		exp = -exp
	} else {
		dst = append(dst, '+')
	}
	if exp < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(exp), 10)
}

func toBit(v Value) (Value, bool) {
	switch v.kind {
	case KindBigint:
		return Bit(v.n != 0), true
	case KindFloat:
		return Bit(v.Float() != 0), true
	case KindString:
		s := trimSpaces(v.s)
		switch {
		case strings.EqualFold(s, "true") || s == "1":
			return Bit(true), true
		case strings.EqualFold(s, "false") || s == "0":
			return Bit(false), true
		case strings.EqualFold(s, "null"):
			return Null, true
		}
	}
	return Null, false
}
