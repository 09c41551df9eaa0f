package sqlval

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// The arithmetic operators. The Stream Analytics reference documents no arithmetic typing rules
// beyond its data types, so these follow T-SQL, which the language is modelled on:
//
//   - NULL in either operand gives NULL.
//   - bigint op bigint is bigint; overflow is an error (ErrOverflow), not a wrap.
//   - if either operand is float the operation is done in float.
//   - bigint / bigint is integer division truncated toward zero (T-SQL: "if an integer dividend
//     is divided by an integer divisor, the result is an integer that has any fractional part of
//     the result truncated"); CAST one side to float for a fractional result.
//   - division or modulo by zero is an error (ErrDivideByZero), for floats too, as in T-SQL.
//   - % on bigints has the sign of the dividend; on floats it is math.Mod.
//   - + on two nvarchar(max) values concatenates them (Concat is the || operator).
//   - bit operands are not numbers here (Stream Analytics' bit is a 1/0/NULL flag); CAST first.
//
// Anything else is ErrType.

// Add returns a + b.
func Add(a, b Value) (Value, error) {
	if a.kind == KindNull || b.kind == KindNull {
		return Null, nil
	}
	if a.kind == KindBigint && b.kind == KindBigint {
		x, y := int64(a.n), int64(b.n)
		s := x + y
		if (s > x) != (y > 0) {
			return Null, overflow("+", a, b)
		}
		return Bigint(s), nil
	}
	if a.isNumber() && b.isNumber() {
		return Float(a.Float() + b.Float()), nil
	}
	if a.kind == KindString && b.kind == KindString {
		return String(a.s + b.s), nil
	}
	return Null, opTypeError("+", a, b)
}

// Sub returns a - b.
func Sub(a, b Value) (Value, error) {
	if a.kind == KindNull || b.kind == KindNull {
		return Null, nil
	}
	if a.kind == KindBigint && b.kind == KindBigint {
		x, y := int64(a.n), int64(b.n)
		s := x - y
		if (s < x) != (y > 0) {
			return Null, overflow("-", a, b)
		}
		return Bigint(s), nil
	}
	if a.isNumber() && b.isNumber() {
		return Float(a.Float() - b.Float()), nil
	}
	return Null, opTypeError("-", a, b)
}

// Mul returns a * b.
func Mul(a, b Value) (Value, error) {
	if a.kind == KindNull || b.kind == KindNull {
		return Null, nil
	}
	if a.kind == KindBigint && b.kind == KindBigint {
		x, y := int64(a.n), int64(b.n)
		if p, ok := mulInt64(x, y); ok {
			return Bigint(p), nil
		}
		return Null, overflow("*", a, b)
	}
	if a.isNumber() && b.isNumber() {
		return Float(a.Float() * b.Float()), nil
	}
	return Null, opTypeError("*", a, b)
}

func mulInt64(x, y int64) (int64, bool) {
	if x == 0 || y == 0 {
		return 0, true
	}
	neg := (x < 0) != (y < 0)
	hi, lo := bits.Mul64(absU(x), absU(y))
	if hi != 0 {
		return 0, false
	}
	if neg {
		if lo > 1<<63 {
			return 0, false
		}
		return int64(-lo), true // -(1<<63) wraps to MinInt64, which is correct
	}
	if lo >= 1<<63 {
		return 0, false
	}
	return int64(lo), true
}

func absU(x int64) uint64 {
	if x < 0 {
		return uint64(-x) // MinInt64 gives 1<<63, as wanted
	}
	return uint64(x)
}

// Div returns a / b.
func Div(a, b Value) (Value, error) {
	if a.kind == KindNull || b.kind == KindNull {
		return Null, nil
	}
	if a.kind == KindBigint && b.kind == KindBigint {
		x, y := int64(a.n), int64(b.n)
		if y == 0 {
			return Null, fmt.Errorf("%w: %d / 0", ErrDivideByZero, x)
		}
		if x == math.MinInt64 && y == -1 {
			return Null, overflow("/", a, b)
		}
		return Bigint(x / y), nil
	}
	if a.isNumber() && b.isNumber() {
		if b.Float() == 0 {
			return Null, fmt.Errorf("%w: %s / 0", ErrDivideByZero, a)
		}
		return Float(a.Float() / b.Float()), nil
	}
	return Null, opTypeError("/", a, b)
}

// Mod returns a % b.
func Mod(a, b Value) (Value, error) {
	if a.kind == KindNull || b.kind == KindNull {
		return Null, nil
	}
	if a.kind == KindBigint && b.kind == KindBigint {
		x, y := int64(a.n), int64(b.n)
		if y == 0 {
			return Null, fmt.Errorf("%w: %d %% 0", ErrDivideByZero, x)
		}
		if y == -1 {
			return Bigint(0), nil
		}
		return Bigint(x % y), nil
	}
	if a.isNumber() && b.isNumber() {
		if b.Float() == 0 {
			return Null, fmt.Errorf("%w: %s %% 0", ErrDivideByZero, a)
		}
		return Float(math.Mod(a.Float(), b.Float())), nil
	}
	return Null, opTypeError("%", a, b)
}

// Neg returns -a.
func Neg(a Value) (Value, error) {
	switch a.kind {
	case KindNull:
		return Null, nil
	case KindBigint:
		if int64(a.n) == math.MinInt64 {
			return Null, fmt.Errorf("%w: -(%d)", ErrOverflow, int64(a.n))
		}
		return Bigint(-int64(a.n)), nil
	case KindFloat:
		return Float(-a.Float()), nil
	}
	return Null, fmt.Errorf("%w: unary - takes bigint or float, not %s", ErrType, a.kind)
}

// Concat is the || operator: NULL in either operand gives NULL (unlike the CONCAT function);
// non-string scalars are converted with the nvarchar(max) CAST rules.
func Concat(a, b Value) (Value, error) {
	if a.kind == KindNull || b.kind == KindNull {
		return Null, nil
	}
	sa, err := Cast(a, KindString)
	if err != nil {
		return Null, err
	}
	sb, err := Cast(b, KindString)
	if err != nil {
		return Null, err
	}
	return String(sa.s + sb.s), nil
}

func overflow(op string, a, b Value) error {
	return fmt.Errorf("%w: %s %s %s does not fit in bigint; CAST an operand to float", ErrOverflow, a, op, b)
}

func opTypeError(op string, a, b Value) error {
	return fmt.Errorf("%w: operator %s cannot take %s and %s; CAST the operands", ErrType, op, a.kind, b.kind)
}

// CompareSQL compares two values for the SQL comparison operators (=, <>, <, <=, >, >=, BETWEEN).
// known is false when either side is NULL (the predicate is unknown, so a WHERE drops the row).
// Numbers compare numerically across bigint and float ("you may join on (or compare) a bigint and
// a float"); bit compares with bit, or with a number as 1.0/0.0 (the documented bit/float
// conversion); strings compare ordinally (case-sensitive, by code point); datetimes compare with
// datetimes, and with a string that parses as an ISO 8601 datetime (so ts > '2026-01-02' works).
// Other pairs, records and arrays are ErrType.
func CompareSQL(a, b Value) (c int, known bool, err error) {
	if a.kind == KindNull || b.kind == KindNull {
		return 0, false, nil
	}
	switch {
	case a.isNumber() && b.isNumber():
		return cmpNumber(a, b), true, nil
	case a.kind == KindBit && b.kind == KindBit:
		return cmpInt(int64(a.n), int64(b.n)), true, nil
	case a.kind == KindBit && b.isNumber():
		return cmpNumber(Float(a.Float()), b), true, nil
	case a.isNumber() && b.kind == KindBit:
		return cmpNumber(a, Float(b.Float())), true, nil
	case a.kind == KindString && b.kind == KindString:
		return strings.Compare(a.s, b.s), true, nil
	case a.kind == KindDatetime && b.kind == KindDatetime:
		return cmpInt(int64(a.n), int64(b.n)), true, nil
	case a.kind == KindDatetime && b.kind == KindString:
		t, err := ParseDatetime(b.s)
		if err != nil {
			return 0, false, err
		}
		return cmpInt(int64(a.n), t), true, nil
	case a.kind == KindString && b.kind == KindDatetime:
		t, err := ParseDatetime(a.s)
		if err != nil {
			return 0, false, err
		}
		return cmpInt(t, int64(b.n)), true, nil
	}
	return 0, false, fmt.Errorf("%w: cannot compare %s with %s; CAST one side", ErrType, a.kind, b.kind)
}
