package agg

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// minMax is MIN(x) or MAX(x): the extreme non-NULL value so far, NULL for none. The first of
// Equal values is kept (bigint 2 before float 2.0 stays bigint 2). State: the value (NULL for
// none).
type minMax struct {
	max bool
	v   sqlval.Value
}

func (m *minMax) name() string {
	if m.max {
		return nameMax
	}
	return nameMin
}

// class groups the kinds that compare with each other; 0 for kinds MIN and MAX do not take.
func class(k sqlval.Kind) sqlval.Kind {
	switch k {
	case sqlval.KindBit, sqlval.KindDatetime, sqlval.KindString:
		return k
	case sqlval.KindBigint, sqlval.KindFloat:
		return sqlval.KindBigint
	}
	return 0
}

func (m *minMax) Add(args []sqlval.Value) error {
	if len(args) != 1 {
		return arityErr(m.name(), len(args), "1")
	}
	x := &args[0] // a pointer: Values are 40 bytes, and this is a hot path
	if x.IsNull() {
		return nil
	}
	cx := class(x.Kind())
	if cx == 0 {
		return typeErr(m.name(), *x, "bigint, float, bit, datetime or nvarchar(max)")
	}
	if m.v.IsNull() {
		m.v = *x
		return nil
	}
	if cx != class(m.v.Kind()) {
		return fmt.Errorf("%w: %s cannot compare %s with %s seen before in the group; CAST the argument to one type",
			sqlval.ErrType, m.name(), describe(*x), describe(m.v))
	}
	c := compare(x, &m.v)
	if (m.max && c > 0) || (!m.max && c < 0) {
		m.v = *x
	}
	return nil
}

// compare is sqlval.Compare with fast paths for two values of the same common kind.
func compare(a, b *sqlval.Value) int {
	if a.Kind() == b.Kind() {
		switch a.Kind() {
		case sqlval.KindBigint:
			return cmp.Compare(a.Int(), b.Int())
		case sqlval.KindDatetime:
			return cmp.Compare(a.Ticks(), b.Ticks())
		case sqlval.KindFloat:
			// cmp.Compare orders NaN first and NaN == NaN, as sqlval.Compare does; -0 == 0.
			return cmp.Compare(a.Float(), b.Float())
		case sqlval.KindString:
			return strings.Compare(a.Str(), b.Str())
		}
	}
	return sqlval.Compare(*a, *b)
}

func (m *minMax) Result() sqlval.Value { return m.v }

func (m *minMax) tag() byte {
	if m.max {
		return tagMax
	}
	return tagMin
}

func (m *minMax) AppendState(dst []byte) []byte { return m.v.AppendBinary(append(dst, m.tag())) }

func (m *minMax) restore(r *stateReader) error {
	start := r.pos
	v, err := r.value("value")
	if err != nil {
		return err
	}
	if !v.IsNull() && class(v.Kind()) == 0 {
		r.pos = start
		return r.errorf("%s is not a value %s keeps", describe(v), m.name())
	}
	m.v = v
	return nil
}
