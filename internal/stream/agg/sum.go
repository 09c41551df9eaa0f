package agg

import (
	"fmt"
	"math"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// ksum is a compensated (Neumaier) float sum: s holds the rounded sum and c the rounding errors
// lost so far, so that the result is as if the sum had been done in about twice the precision
// and does not depend on the magnitude order of the values (1e100 + 1 − 1e100 is 1, not 0).
type ksum struct {
	s, c float64
}

func (k *ksum) add(x float64) {
	t := k.s + x
	if math.Abs(k.s) >= math.Abs(x) {
		k.c += (k.s - t) + x
	} else {
		k.c += (x - t) + k.s
	}
	k.s = t
}

// addInt adds a bigint exactly: above 2^53 a float64 cannot hold every integer, so the part the
// conversion rounds away is added as a second term.
func (k *ksum) addInt(i int64) {
	const exact = 1 << 53
	if -exact <= i && i <= exact {
		k.add(float64(i))
		return
	}
	hi := float64(i)
	var lo int64
	if hi >= 1<<63 { // i rounded up to 2^63, which int64 cannot hold
		lo = i - math.MaxInt64 - 1
	} else {
		lo = i - int64(hi)
	}
	k.add(hi)
	k.add(float64(lo))
}

// value is the sum. Once the sum is infinite the compensation is meaningless (Inf − Inf is NaN),
// so the plain sum is returned; a NaN sum stays NaN.
func (k ksum) value() float64 {
	if math.IsInf(k.s, 0) || math.IsNaN(k.s) {
		return k.s
	}
	return k.s + k.c
}

func (k ksum) appendState(dst []byte) []byte { return appendFloat(appendFloat(dst, k.s), k.c) }

func (k *ksum) restore(r *stateReader) (err error) {
	if k.s, err = r.float64("sum"); err != nil {
		return err
	}
	k.c, err = r.float64("sum compensation")
	return err
}

// Sum modes: no value yet, every value bigint so far, a float seen.
const (
	sumNone byte = iota
	sumBigint
	sumFloat
)

// sum is SUM(x). While every value is bigint the sum is an exact int64 and overflow is an error,
// as for the + operator; from the first float on it is a compensated float sum (the bigint sum so
// far carried over exactly). State: mode byte, then for bigint the int64 sum, for float the two
// float64s of ksum.
type sum struct {
	mode byte
	i    int64
	f    ksum
}

func (s *sum) Add(args []sqlval.Value) error {
	if len(args) != 1 {
		return arityErr("SUM", len(args), "1")
	}
	v := &args[0] // a pointer: Values are 40 bytes, and this is a hot path
	switch v.Kind() {
	case sqlval.KindNull:
	case sqlval.KindBigint:
		x := v.Int()
		switch s.mode {
		case sumFloat:
			s.f.addInt(x)
		case sumNone:
			s.i, s.mode = x, sumBigint
		default:
			t := s.i + x
			if (t > s.i) != (x > 0) {
				return fmt.Errorf("%w: SUM %d + %d does not fit in bigint; SUM(CAST(x AS float)) sums in float", sqlval.ErrOverflow, s.i, x)
			}
			s.i = t
		}
	case sqlval.KindFloat:
		if s.mode == sumBigint {
			s.f = ksum{}
			s.f.addInt(s.i)
			s.i = 0
		}
		s.mode = sumFloat
		s.f.add(v.Float())
	default:
		return typeErr("SUM", *v, "bigint or float")
	}
	return nil
}

func (s *sum) Result() sqlval.Value {
	switch s.mode {
	case sumBigint:
		return sqlval.Bigint(s.i)
	case sumFloat:
		return sqlval.Float(s.f.value())
	}
	return sqlval.Null
}

func (s *sum) tag() byte { return tagSum }

func (s *sum) AppendState(dst []byte) []byte {
	dst = append(dst, tagSum, s.mode)
	switch s.mode {
	case sumBigint:
		return appendInt(dst, s.i)
	case sumFloat:
		return s.f.appendState(dst)
	}
	return dst
}

func (s *sum) restore(r *stateReader) (err error) {
	if s.mode, err = r.byte("sum mode"); err != nil {
		return err
	}
	switch s.mode {
	case sumNone:
		return nil
	case sumBigint:
		s.i, err = r.int64("bigint sum")
		return err
	case sumFloat:
		return s.f.restore(r)
	}
	r.pos--
	return r.errorf("sum mode %d is not 0 (none), 1 (bigint) or 2 (float)", s.mode)
}

// avg is AVG(x): a compensated float sum and a count; the result is float. State: count, then
// the two float64s of ksum.
type avg struct {
	n int64
	f ksum
}

func (a *avg) Add(args []sqlval.Value) error {
	if len(args) != 1 {
		return arityErr("AVG", len(args), "1")
	}
	v := &args[0] // a pointer: Values are 40 bytes, and this is a hot path
	switch v.Kind() {
	case sqlval.KindNull:
		return nil
	case sqlval.KindBigint:
		a.f.addInt(v.Int())
	case sqlval.KindFloat:
		a.f.add(v.Float())
	default:
		return typeErr("AVG", *v, "bigint or float")
	}
	a.n++
	return nil
}

func (a *avg) Result() sqlval.Value {
	if a.n == 0 {
		return sqlval.Null
	}
	return sqlval.Float(a.f.value() / float64(a.n))
}

func (a *avg) tag() byte { return tagAvg }

func (a *avg) AppendState(dst []byte) []byte {
	return a.f.appendState(appendCount(append(dst, tagAvg), a.n))
}

func (a *avg) restore(r *stateReader) (err error) {
	if a.n, err = r.count("value count"); err != nil {
		return err
	}
	return a.f.restore(r)
}
