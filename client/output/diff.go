package output

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// diffPage is how many rows Diff and Repair read from each output at a time.
const diffPage = 1000

// DefaultMaxListed is how many rows of each kind a DiffResult lists by default.
const DefaultMaxListed = 100

// DiffOptions bound a Diff or a Repair.
type DiffOptions struct {
	// From and To (ticks, as sink.Row.Time; 0 = unbounded) select the rows with
	// From <= Time < To.
	From, To  int64
	MaxListed int // how many rows of each kind to list (default 100); all are counted
}

// RowPair is a row both outputs hold with different data.
type RowPair struct {
	Primary, Secondary sink.Row
}

// DiffResult is what Diff found. The lists hold the first MaxListed rows of each kind in total
// order; the counts count them all.
type DiffResult struct {
	Compared                int64      // rows in either output within the bounds
	MissingOnPrimary        []sink.Row // rows only the secondary holds
	MissingOnSecondary      []sink.Row // rows only the primary holds
	Differ                  []RowPair  // rows both hold, with different data
	MissingOnPrimaryCount   int64
	MissingOnSecondaryCount int64
	DifferCount             int64
}

// Equal reports whether the outputs hold the same rows with the same data.
func (r DiffResult) Equal() bool {
	return r.MissingOnPrimaryCount == 0 && r.MissingOnSecondaryCount == 0 && r.DifferCount == 0
}

// Diff compares two outputs row by row: a merge join of both in total order, reading pages
// with ReadAfter. Data is compared as JSON values (PostgreSQL returns its own text of a row), so
// the same object written to SQLite and to PostgreSQL compares equal. An output still being
// written may differ only by the rows written since the other was read.
func Diff(ctx context.Context, primary, secondary sink.Reader, o DiffOptions) (DiffResult, error) {
	var res DiffResult
	maxListed := cmpOr(o.MaxListed, DefaultMaxListed)
	err := mergeJoin(ctx, primary, secondary, o, func(p, s *sink.Row) error {
		res.Compared++
		switch {
		case s == nil:
			res.MissingOnSecondaryCount++
			if len(res.MissingOnSecondary) < maxListed {
				res.MissingOnSecondary = append(res.MissingOnSecondary, *p)
			}
		case p == nil:
			res.MissingOnPrimaryCount++
			if len(res.MissingOnPrimary) < maxListed {
				res.MissingOnPrimary = append(res.MissingOnPrimary, *s)
			}
		case !SameData(p.Data, s.Data):
			res.DifferCount++
			if len(res.Differ) < maxListed {
				res.Differ = append(res.Differ, RowPair{Primary: *p, Secondary: *s})
			}
		}
		return nil
	})
	return res, err
}

// cursor pages through one output's rows within the bounds.
type cursor struct {
	name  string
	r     sink.Reader
	after sink.Position
	to    int64 // 0: unbounded
	from  int64 // rows before it (at the tick just before From) are skipped
	page  []sink.Row
	i     int
	done  bool
}

func newCursor(name string, r sink.Reader, o DiffOptions) *cursor {
	c := &cursor{name: name, r: r, after: sink.Beginning, from: o.From, to: o.To}
	if o.From != 0 && o.From != math.MinInt64 {
		// Every row with Time >= From comes after (From-1, ""); rows at From-1 are skipped.
		c.after = sink.Position{Time: o.From - 1}
	}
	return c
}

// head returns the cursor's next row, or nil at the end.
func (c *cursor) head(ctx context.Context) (*sink.Row, error) {
	for !c.done {
		if c.i < len(c.page) {
			r := &c.page[c.i]
			if c.to != 0 && r.Time >= c.to {
				c.done = true
				break
			}
			if c.from != 0 && r.Time < c.from {
				c.i++
				continue
			}
			return r, nil
		}
		page, err := c.r.ReadAfter(ctx, c.after, diffPage)
		if err != nil {
			return nil, errcode.New(errcode.CodeOf(err), "reading the %s output after %s: %w", c.name, posString(c.after, true), err)
		}
		c.page, c.i = page, 0
		if len(page) == 0 {
			c.done = true
			break
		}
		c.after = page[len(page)-1].Pos()
	}
	return nil, nil
}

// mergeJoin calls visit for every position either output holds within the bounds, in total
// order, with the primary's and the secondary's row there (nil where one has none).
func mergeJoin(ctx context.Context, primary, secondary sink.Reader, o DiffOptions, visit func(p, s *sink.Row) error) error {
	pc, sc := newCursor("primary", primary, o), newCursor("secondary", secondary, o)
	for {
		p, err := pc.head(ctx)
		if err != nil {
			return err
		}
		s, err := sc.head(ctx)
		if err != nil {
			return err
		}
		switch {
		case p == nil && s == nil:
			return nil
		case s == nil || p != nil && p.Pos().Less(s.Pos()):
			err, pc.i = visit(p, nil), pc.i+1
		case p == nil || s.Pos().Less(p.Pos()):
			err, sc.i = visit(nil, s), sc.i+1
		default:
			err, pc.i, sc.i = visit(p, s), pc.i+1, sc.i+1
		}
		if err != nil {
			return err
		}
	}
}

// SameData reports whether two rows' data are the same JSON value: objects with the same
// members (in any order), arrays with the same elements, equal strings, booleans and nulls,
// and numbers of equal value (1.0 and 1 are equal, as PostgreSQL's jsonb makes them).
func SameData(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && sameValue(va, vb)
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func sameValue(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, va := range a {
			vb, ok := b[k]
			if !ok || !sameValue(va, vb) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		return a == b || sameNumber(string(a), string(b))
	default: // string, bool, nil
		return a == b
	}
}

// maxExponent bounds the exponents sameNumber compares by value: a number like 1e999999999
// would take gigabytes as a big.Rat. Beyond it, numbers are equal only as written.
const maxExponent = 10000

// sameNumber reports whether two JSON numbers have the same value.
func sameNumber(a, b string) bool {
	if bigExponent(a) || bigExponent(b) {
		return false
	}
	ra, okA := new(big.Rat).SetString(a)
	rb, okB := new(big.Rat).SetString(b)
	return okA && okB && ra.Cmp(rb) == 0
}

func bigExponent(num string) bool {
	i := strings.IndexAny(num, "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(num[i+1:])
	return err != nil || e > maxExponent || e < -maxExponent
}
