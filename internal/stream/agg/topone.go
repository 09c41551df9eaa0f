package agg

import (
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// topOne is TopOne(…) OVER (ORDER BY k1 [ASC|DESC], …): the projection of the first event in
// that order. Keys compare with sqlval.Compare, one after the other, a DESC key reversed; an
// event replaces the current top only if it sorts strictly before it, so ties keep the earliest
// added. State: flag (any event yet), then the projection and the keys.
type topOne struct {
	desc []bool
	has  bool
	top  sqlval.Value
	keys []sqlval.Value // of top; len(desc) once has
}

func (t *topOne) Add(args []sqlval.Value) error {
	if len(args) != 1+len(t.desc) {
		return arityErr("TopOne", len(args), "the projection and one value per ORDER BY key")
	}
	if t.has && !t.before(args[1:]) {
		return nil
	}
	t.has = true
	t.top = args[0]
	t.keys = append(t.keys[:0], args[1:]...) // copied: args is the caller's
	return nil
}

// before reports whether keys sort strictly before the current top's.
func (t *topOne) before(keys []sqlval.Value) bool {
	for i, k := range keys {
		c := sqlval.Compare(k, t.keys[i])
		if t.desc[i] {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	return false
}

func (t *topOne) Result() sqlval.Value { return t.top }

func (t *topOne) tag() byte { return tagTopOne }

func (t *topOne) AppendState(dst []byte) []byte {
	dst = appendFlag(append(dst, tagTopOne), t.has)
	if !t.has {
		return dst
	}
	dst = t.top.AppendBinary(dst)
	for _, k := range t.keys {
		dst = k.AppendBinary(dst)
	}
	return dst
}

func (t *topOne) restore(r *stateReader) (err error) {
	if t.has, err = r.flag("has top"); err != nil || !t.has {
		return err
	}
	if t.top, err = r.value("top projection"); err != nil {
		return err
	}
	t.keys = make([]sqlval.Value, len(t.desc))
	for i := range t.keys {
		if t.keys[i], err = r.value("ORDER BY key"); err != nil {
			return err
		}
	}
	return nil
}
