package agg

import (
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// count is COUNT(*) and COUNT() (Add with no arguments: every event) and COUNT(x) (non-NULL x).
// State: count.
type count struct {
	n int64
}

func (c *count) Add(args []sqlval.Value) error {
	switch {
	case len(args) == 0:
		c.n++
	case len(args) > 1:
		return arityErr("COUNT", len(args), "0 or 1")
	case !args[0].IsNull():
		c.n++
	}
	return nil
}

func (c *count) Result() sqlval.Value { return sqlval.Bigint(c.n) }

func (c *count) tag() byte { return tagCount }

func (c *count) AppendState(dst []byte) []byte { return appendCount(append(dst, tagCount), c.n) }

func (c *count) restore(r *stateReader) (err error) {
	c.n, err = r.count("count")
	return err
}

// countDistinct is COUNT(DISTINCT x): the number of distinct non-NULL values, sameness being
// sqlval.Equal (through the canonical AppendKey encoding). It keeps the distinct values
// themselves, in first-seen order, for the state: AppendKey bytes are not meant to be stored.
// State: count k, then the k values.
type countDistinct struct {
	seen map[string]struct{}
	vals []sqlval.Value
	key  []byte // scratch buffer for AppendKey
}

func newCountDistinct() *countDistinct {
	return &countDistinct{seen: make(map[string]struct{})}
}

func (c *countDistinct) Add(args []sqlval.Value) error {
	if len(args) != 1 {
		return arityErr("COUNT(DISTINCT)", len(args), "1")
	}
	c.insert(args[0])
	return nil
}

// insert adds v unless it is NULL or already seen, and reports whether it was added.
func (c *countDistinct) insert(v sqlval.Value) bool {
	if v.IsNull() {
		return false
	}
	c.key = v.AppendKey(c.key[:0])
	if _, ok := c.seen[string(c.key)]; ok { // no allocation for the lookup
		return false
	}
	c.seen[string(c.key)] = struct{}{}
	c.vals = append(c.vals, v)
	return true
}

func (c *countDistinct) Result() sqlval.Value { return sqlval.Bigint(int64(len(c.vals))) }

func (c *countDistinct) tag() byte { return tagCountDistinct }

func (c *countDistinct) AppendState(dst []byte) []byte {
	dst = appendCount(append(dst, tagCountDistinct), int64(len(c.vals)))
	for _, v := range c.vals {
		dst = v.AppendBinary(dst)
	}
	return dst
}

func (c *countDistinct) restore(r *stateReader) error {
	n, err := r.items("distinct value count")
	if err != nil {
		return err
	}
	for i := range n {
		start := r.pos
		v, err := r.value("distinct value")
		if err != nil {
			return err
		}
		if !c.insert(v) {
			r.pos = start
			if v.IsNull() {
				return r.errorf("distinct value %d is NULL, which COUNT(DISTINCT) never keeps", i)
			}
			return r.errorf("distinct value %d (%s) repeats an earlier one", i, describe(v))
		}
	}
	return nil
}
