package agg

import (
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// collect is Collect() and Collect(x): every projection in Add order, NULLs included; an empty
// array for none. State: count, then the values.
type collect struct {
	vals []sqlval.Value
}

func (c *collect) Add(args []sqlval.Value) error {
	if len(args) != 1 {
		return arityErr("Collect", len(args), "1 (the projection)")
	}
	c.vals = append(c.vals, args[0])
	return nil
}

// Result shares the collected slice, capped at its length: later Adds append past the end (or
// into a new array) and never change an array already returned.
func (c *collect) Result() sqlval.Value {
	return sqlval.Array(c.vals[:len(c.vals):len(c.vals)])
}

func (c *collect) tag() byte { return tagCollect }

func (c *collect) AppendState(dst []byte) []byte {
	dst = appendCount(append(dst, tagCollect), int64(len(c.vals)))
	for _, v := range c.vals {
		dst = v.AppendBinary(dst)
	}
	return dst
}

func (c *collect) restore(r *stateReader) error {
	n, err := r.items("value count")
	if err != nil {
		return err
	}
	c.vals = make([]sqlval.Value, n)
	for i := range c.vals {
		if c.vals[i], err = r.value("value"); err != nil {
			return err
		}
	}
	return nil
}
