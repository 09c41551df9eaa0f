package sqlval

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends v as canonical JSON: the same value always gives the same bytes. NULL is
// null, bit is true/false, bigint is an integer, float is the shortest round-trip form (plain
// notation from 1e-6 to 1e21, else exponent, and always with a '.' or exponent so it reads back
// as float; NaN and ±Inf, which JSON cannot hold, are written as null), datetime is a string
// "2026-01-02T03:04:05.0000000Z" (7 fractional digits, as Stream Analytics writes), records
// keep their field order, and strings escape only '"', '\\' and control characters (invalid UTF-8
// is written as U+FFFD).
func (v Value) AppendJSON(dst []byte) []byte {
	switch v.kind {
	case KindNull:
		return append(dst, "null"...)
	case KindBit:
		if v.n != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KindBigint:
		return strconv.AppendInt(dst, int64(v.n), 10)
	case KindFloat:
		return appendJSONFloat(dst, v.Float())
	case KindDatetime:
		dst = append(dst, '"')
		dst = appendDatetime(dst, int64(v.n))
		return append(dst, '"')
	case KindString:
		return AppendJSONString(dst, v.s)
	case KindRecord:
		dst = append(dst, '{')
		for i, f := range v.c.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, f.Name)
			dst = append(dst, ':')
			dst = f.Value.AppendJSON(dst)
		}
		return append(dst, '}')
	case KindArray:
		dst = append(dst, '[')
		for i, e := range v.c.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendJSON(dst)
		}
		return append(dst, ']')
	}
	return dst
}

func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		// Exponent form, with the exponent shortened as encoding/json does: 1e-07 → 1e-7.
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
		n := len(dst) - start
		if n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
		return dst
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string literal.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
