package agg

import (
	"math"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// variance is STDEV, STDEVP, VAR and VARP, by Welford's method: the running count n, mean and
// m2 (the sum of squared deviations from the mean), updated per value without the cancellation
// of the sum-of-squares formula. VAR = m2/(n−1), VARP = m2/n, STDEV and STDEVP their square
// roots. Bigints are converted to float (exact up to 2^53). State: count, mean, m2.
type variance struct {
	name     string // nameStdev, nameStdevp, nameVar or nameVarp
	n        int64
	mean, m2 float64
}

func (w *variance) Add(args []sqlval.Value) error {
	if len(args) != 1 {
		return arityErr(w.name, len(args), "1")
	}
	v := &args[0] // a pointer: Values are 40 bytes, and this is a hot path
	var x float64
	switch v.Kind() {
	case sqlval.KindNull:
		return nil
	case sqlval.KindBigint, sqlval.KindFloat:
		x = v.Float()
	default:
		return typeErr(w.name, *v, "bigint or float")
	}
	w.n++
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
	return nil
}

func (w *variance) Result() sqlval.Value {
	sample := w.name == nameStdev || w.name == nameVar
	var r float64
	switch {
	case w.n == 0, sample && w.n == 1:
		return sqlval.Null
	case sample:
		r = w.m2 / float64(w.n-1)
	default:
		r = w.m2 / float64(w.n)
	}
	if w.name == nameStdev || w.name == nameStdevp {
		r = math.Sqrt(r)
	}
	return sqlval.Float(r)
}

func (w *variance) tag() byte {
	switch w.name {
	case nameStdev:
		return tagStdev
	case nameStdevp:
		return tagStdevp
	case nameVar:
		return tagVar
	}
	return tagVarp
}

func (w *variance) AppendState(dst []byte) []byte {
	dst = appendCount(append(dst, w.tag()), w.n)
	return appendFloat(appendFloat(dst, w.mean), w.m2)
}

func (w *variance) restore(r *stateReader) (err error) {
	if w.n, err = r.count("value count"); err != nil {
		return err
	}
	if w.mean, err = r.float64("mean"); err != nil {
		return err
	}
	w.m2, err = r.float64("m2")
	return err
}
