package sqlval

import (
	"encoding/binary"
	"math"
	"strings"
)

// Compare orders two values totally, for deterministic sorting and for MIN/MAX/TopOne ties. It
// returns -1, 0 or +1. The order is: NULL first; then bit (0 < 1); then numbers, bigint and float
// compared by numeric value exactly (no rounding of large bigints through float64; NaN sorts
// before every other number); then datetime; then strings by ordinal (UTF-8 byte, which is code
// point) order; then records field by field (name, then value) and by length; then arrays element
// by element and by length. Compare(a, b) == 0 exactly when Equal(a, b).
//
// This is not SQL comparison: SQL predicates with NULL are unknown. See CompareSQL.
func Compare(a, b Value) int {
	ra, rb := rank(a.kind), rank(b.kind)
	if ra != rb {
		return cmpInt(int64(ra), int64(rb))
	}
	switch a.kind {
	case KindNull:
		return 0
	case KindBit:
		return cmpInt(int64(a.n), int64(b.n))
	case KindBigint, KindFloat:
		return cmpNumber(a, b)
	case KindDatetime:
		return cmpInt(int64(a.n), int64(b.n))
	case KindString:
		return strings.Compare(a.s, b.s)
	case KindRecord:
		fa, fb := a.c.fields, b.c.fields
		for i := 0; i < len(fa) && i < len(fb); i++ {
			if c := strings.Compare(fa[i].Name, fb[i].Name); c != 0 {
				return c
			}
			if c := Compare(fa[i].Value, fb[i].Value); c != 0 {
				return c
			}
		}
		return cmpInt(int64(len(fa)), int64(len(fb)))
	case KindArray:
		ea, eb := a.c.elems, b.c.elems
		for i := 0; i < len(ea) && i < len(eb); i++ {
			if c := Compare(ea[i], eb[i]); c != 0 {
				return c
			}
		}
		return cmpInt(int64(len(ea)), int64(len(eb)))
	}
	return 0
}

// Equal reports whether Compare(a, b) == 0: bigint 1 equals float 1.0; NULL equals NULL (this is
// the GROUP BY / DISTINCT notion of sameness, not SQL's =).
func Equal(a, b Value) bool { return Compare(a, b) == 0 }

// rank merges bigint and float into one class so that they compare numerically.
func rank(k Kind) Kind {
	if k == KindFloat {
		return KindBigint
	}
	return k
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpNumber compares two numbers (bigint or float) exactly.
func cmpNumber(a, b Value) int {
	if a.kind == KindBigint && b.kind == KindBigint {
		return cmpInt(int64(a.n), int64(b.n))
	}
	if a.kind == KindFloat && b.kind == KindFloat {
		return cmpFloat(a.Float(), b.Float())
	}
	if a.kind == KindBigint {
		return -cmpFloatInt(b.Float(), int64(a.n))
	}
	return cmpFloatInt(a.Float(), int64(b.n))
}

func cmpFloat(x, y float64) int {
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn || yn:
		if xn && yn {
			return 0
		}
		if xn {
			return -1
		}
		return 1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// cmpFloatInt compares a float with an int64 without losing the int's precision.
func cmpFloatInt(f float64, i int64) int {
	if math.IsNaN(f) {
		return -1
	}
	// Every float64 at or beyond ±2^63 is outside the int64 range.
	if f >= 9223372036854775808.0 {
		return 1
	}
	if f < -9223372036854775808.0 {
		return -1
	}
	t := math.Trunc(f)
	ti := int64(t)
	if ti != i {
		return cmpInt(ti, i)
	}
	// Same integer part: the fraction decides.
	return cmpFloat(f-t, 0)
}

// Key tags. A number whose value is an integer in the int64 range is always encoded as
// keyInt, whatever its kind, so that bigint 2 and float 2.0 (which are Equal) share a key.
const (
	keyNull byte = iota
	keyBit
	keyInt
	keyFloat
	keyDatetime
	keyString
	keyRecord
	keyArray
)

// AppendKey appends a canonical binary encoding of v to dst, for GROUP BY, DISTINCT and join
// keys: Equal values give identical bytes and different values give different bytes. The
// encoding is self-delimiting, so the keys of several columns may be concatenated. It is not a
// sort key (use Compare for order) and is not meant to be stored across versions.
func (v Value) AppendKey(dst []byte) []byte {
	switch v.kind {
	case KindNull:
		return append(dst, keyNull)
	case KindBit:
		return append(dst, keyBit, byte(v.n))
	case KindBigint:
		return binary.BigEndian.AppendUint64(append(dst, keyInt), v.n)
	case KindFloat:
		f := math.Float64frombits(v.n)
		if f >= -9223372036854775808.0 && f < 9223372036854775808.0 && f == math.Trunc(f) {
			return binary.BigEndian.AppendUint64(append(dst, keyInt), uint64(int64(f)))
		}
		if math.IsNaN(f) {
			f = math.NaN() // one NaN payload: all NaNs are Equal
		}
		return binary.BigEndian.AppendUint64(append(dst, keyFloat), math.Float64bits(f))
	case KindDatetime:
		return binary.BigEndian.AppendUint64(append(dst, keyDatetime), v.n)
	case KindString:
		dst = binary.AppendUvarint(append(dst, keyString), uint64(len(v.s)))
		return append(dst, v.s...)
	case KindRecord:
		dst = binary.AppendUvarint(append(dst, keyRecord), uint64(len(v.c.fields)))
		for _, f := range v.c.fields {
			dst = binary.AppendUvarint(dst, uint64(len(f.Name)))
			dst = append(dst, f.Name...)
			dst = f.Value.AppendKey(dst)
		}
		return dst
	case KindArray:
		dst = binary.AppendUvarint(append(dst, keyArray), uint64(len(v.c.elems)))
		for _, e := range v.c.elems {
			dst = e.AppendKey(dst)
		}
		return dst
	}
	return dst
}
