package sqlval

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// Math functions take bigint or float; NULL gives NULL; other kinds are ErrType. Results that are
// not real numbers (SQRT(-1), LOG(0)) are ErrArgument, as T-SQL raises "an invalid floating point
// operation occurred".

func registerMath() {
	register(
		Func{"ABS", 1, 1, fnAbs},
		Func{"ROUND", 2, 2, fnRound},
		Func{"FLOOR", 1, 1, numFn("FLOOR", math.Floor)},
		Func{"CEILING", 1, 1, numFn("CEILING", math.Ceil)},
		Func{"SIGN", 1, 1, fnSign},
		Func{"POWER", 2, 2, fnPower},
		Func{"SQRT", 1, 1, floatFn("SQRT", math.Sqrt)},
		Func{"SQUARE", 1, 1, floatFn("SQUARE", func(x float64) float64 { return x * x })},
		Func{"EXP", 1, 1, floatFn("EXP", math.Exp)},
		Func{"LOG10", 1, 1, floatFn("LOG10", math.Log10)},
		Func{"LOG", 1, 2, fnLog},
	)
}

func numArg(name string, v Value) error {
	if v.isNumber() {
		return nil
	}
	return fmt.Errorf("%w: %s takes bigint or float, not %s", ErrType, name, v.kind)
}

func checkReal(name string, f float64) (Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Null, fmt.Errorf("%w: %s has no real result for these arguments", ErrArgument, name)
	}
	return Float(f), nil
}

// numFn applies f to a float and returns a bigint unchanged (FLOOR and CEILING of an integer are
// the integer, and keep its type as T-SQL does).
func numFn(name string, f func(float64) float64) func([]Value) (Value, error) {
	return func(a []Value) (Value, error) {
		switch v := a[0]; {
		case v.kind == KindNull:
			return Null, nil
		case v.kind == KindBigint:
			return v, nil
		case v.kind == KindFloat:
			return Float(f(v.Float())), nil
		}
		return Null, numArg(name, a[0])
	}
}

// floatFn applies f in float and returns float.
func floatFn(name string, f func(float64) float64) func([]Value) (Value, error) {
	return func(a []Value) (Value, error) {
		if a[0].kind == KindNull {
			return Null, nil
		}
		if err := numArg(name, a[0]); err != nil {
			return Null, err
		}
		return checkReal(name, f(a[0].Float()))
	}
}

// ABS keeps the argument's type; ABS of the smallest bigint overflows.
func fnAbs(a []Value) (Value, error) {
	switch v := a[0]; v.kind {
	case KindNull:
		return Null, nil
	case KindBigint:
		i := int64(v.n)
		if i == math.MinInt64 {
			return Null, fmt.Errorf("%w: ABS(%d)", ErrOverflow, i)
		}
		if i < 0 {
			return Bigint(-i), nil
		}
		return v, nil
	case KindFloat:
		return Float(math.Abs(v.Float())), nil
	}
	return Null, numArg("ABS", a[0])
}

// SIGN is -1, 0 or 1 in the argument's type.
func fnSign(a []Value) (Value, error) {
	switch v := a[0]; v.kind {
	case KindNull:
		return Null, nil
	case KindBigint:
		return Bigint(int64(cmpInt(int64(v.n), 0))), nil
	case KindFloat:
		f := v.Float()
		switch {
		case f > 0:
			return Float(1), nil
		case f < 0:
			return Float(-1), nil
		}
		return Float(0), nil
	}
	return Null, numArg("SIGN", a[0])
}

// POWER(float_expression, y): "Returns the same type as submitted in float_expression. For
// example, if a bigint was submitted ... the result returned is bigint." A bigint result is exact
// for non-negative integral y (overflow is an error) and truncated toward zero otherwise.
func fnPower(a []Value) (Value, error) {
	if anyNull(a) {
		return Null, nil
	}
	x, y := a[0], a[1]
	if err := numArg("POWER", x); err != nil {
		return Null, err
	}
	if err := numArg("POWER", y); err != nil {
		return Null, err
	}
	if x.kind == KindBigint {
		if e, err := intArg("POWER", y); err == nil && e >= 0 {
			r, ok := powInt(int64(x.n), e)
			if !ok {
				return Null, fmt.Errorf("%w: POWER(%d, %d) does not fit in bigint", ErrOverflow, int64(x.n), e)
			}
			return Bigint(r), nil
		}
	}
	f, err := checkReal("POWER", math.Pow(x.Float(), y.Float()))
	if err != nil || x.kind == KindFloat {
		return f, err
	}
	b, ok := toBigint(f)
	if !ok {
		return Null, fmt.Errorf("%w: POWER result does not fit in bigint", ErrOverflow)
	}
	return b, nil
}

func powInt(b, e int64) (int64, bool) {
	r := int64(1)
	for e > 0 {
		if e&1 == 1 {
			var ok bool
			if r, ok = mulInt64(r, b); !ok {
				return 0, false
			}
		}
		e >>= 1
		if e > 0 {
			var ok bool
			if b, ok = mulInt64(b, b); !ok {
				// b*b overflows, so any further multiplication by it does too unless r is 0.
				return 0, r == 0
			}
		}
	}
	return r, true
}

// LOG(x) is the natural logarithm; LOG(x, base) the logarithm in base.
func fnLog(a []Value) (Value, error) {
	if anyNull(a) {
		return Null, nil
	}
	for _, v := range a {
		if err := numArg("LOG", v); err != nil {
			return Null, err
		}
	}
	x := a[0].Float()
	if x <= 0 {
		return Null, fmt.Errorf("%w: LOG of %v, which is not positive", ErrArgument, x)
	}
	if len(a) == 1 {
		return checkReal("LOG", math.Log(x))
	}
	b := a[1].Float()
	if b <= 0 || b == 1 {
		return Null, fmt.Errorf("%w: LOG base %v must be positive and not 1", ErrArgument, b)
	}
	return checkReal("LOG", math.Log(x)/math.Log(b))
}

// ROUND(numericExpression, length): rounded to length decimal places (to the left of the point when
// length is negative), halves away from zero, in the argument's type. The reference's examples:
// ROUND(0.5, 0) = 1.0, ROUND(-0.5, 0) = -1.0, ROUND(123.9995, 3) = 124.0, ROUND(501.0101, -3) =
// 1000.0, ROUND(123.4, -10) = 0.0. Floats are rounded on their shortest decimal form, so
// 123.9995 (stored as 123.99949999...) rounds like the decimal the user wrote.
func fnRound(a []Value) (Value, error) {
	if anyNull(a) {
		return Null, nil
	}
	if err := numArg("ROUND", a[0]); err != nil {
		return Null, err
	}
	n, err := intArg("ROUND", a[1])
	if err != nil {
		return Null, err
	}
	if a[0].kind == KindBigint {
		r, ok := roundInt(int64(a[0].n), n)
		if !ok {
			return Null, fmt.Errorf("%w: ROUND(%d, %d) does not fit in bigint", ErrOverflow, int64(a[0].n), n)
		}
		return Bigint(r), nil
	}
	return Float(roundFloat(a[0].Float(), n)), nil
}

func roundInt(i, n int64) (int64, bool) {
	if n >= 0 {
		return i, true
	}
	if n < -18 {
		return 0, true
	}
	p := int64(1)
	for k := int64(0); k < -n; k++ {
		p *= 10
	}
	q, r := i/p, i%p
	if r >= (p+1)/2 {
		q++
	} else if -r >= (p+1)/2 {
		q--
	}
	return mulInt64(q, p)
}

func roundFloat(x float64, n int64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], math.Abs(x), 'e', -1, 64) // d.ddddde±XX
	k := bytes.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(string(e[k+1:]))
	digits := make([]byte, 0, 20)
	digits = append(digits, e[0])
	if k > 1 {
		digits = append(digits, e[2:k]...)
	}
	// The value is 0.digits × 10^(exp+1); keep the digits down to the 10^-n place.
	keep := int64(exp) + 1 + n
	switch {
	case keep >= int64(len(digits)):
		return x
	case keep < 0:
		return 0
	}
	up := digits[keep] >= '5'
	digits = digits[:keep]
	shift := exp + 1
	if up {
		i := len(digits) - 1
		for ; i >= 0 && digits[i] == '9'; i-- {
			digits[i] = '0'
		}
		if i >= 0 {
			digits[i]++
		} else {
			digits = append([]byte{'1'}, digits...)
			shift++
		}
	}
	if len(digits) == 0 {
		return 0
	}
	s := "0." + string(digits) + "e" + strconv.Itoa(shift)
	f, _ := strconv.ParseFloat(s, 64)
	if x < 0 {
		return -f
	}
	return f
}
