package stream

import (
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/saql"
	"github.com/tandem-streaming/tandem/internal/sqlval"
	"github.com/tandem-streaming/tandem/internal/stream/agg"
)

// bindKind is what a name in FROM, JOIN or APPLY stands for.
type bindKind int

const (
	bindStream bindKind = iota // an input stream or a WITH step
	bindRef                    // reference data
	bindApply                  // the rows of CROSS/OUTER APPLY
)

// binding is one name a SELECT's expressions can qualify columns with.
type binding struct {
	name string // the alias, or the source's name
	kind bindKind
}

// scope is what names mean while compiling one SELECT's expressions.
type scope struct {
	p         *planner
	bindings  []binding
	group     *aggSlots        // aggregates allowed: their slots (grouped SELECT items, HAVING)
	analytics *[]*analyticSpec // analytic functions allowed: where they are registered
	aliases   map[string]int   // HAVING: SELECT item aliases → item index
}

// aggSlots collects the aggregate calls of a grouped SELECT.
type aggSlots struct {
	specs []agg.Spec
	args  [][]evalFn
	text  map[string]int // the call as text → slot, so COUNT(*) twice is computed once
}

func (sc *scope) bindingIndex(name string) int {
	for i, b := range sc.bindings {
		if strings.EqualFold(b.name, name) {
			return i
		}
	}
	return -1
}

// rowScope is the scope of an aggregate's arguments: the same bindings, one row at a time.
func (sc *scope) rowScope() *scope {
	return &scope{p: sc.p, bindings: sc.bindings, analytics: sc.analytics}
}

// column resolves a.b.c: a SELECT alias (in HAVING), a binding's record or field path, or a
// field path of the only binding; with several bindings, the first whose record has the field.
func (sc *scope) column(x *saql.ColumnRef) (evalFn, error) {
	parts := x.Parts
	if sc.aliases != nil && len(parts) == 1 {
		if i, ok := sc.aliases[strings.ToLower(parts[0].Name)]; ok {
			return func(e *env) (sqlval.Value, error) { return e.items[i], nil }, nil
		}
	}
	if bi := sc.bindingIndex(parts[0].Name); bi >= 0 && (len(parts) > 1 || len(sc.bindings) > 1) {
		return fieldPath(bi, names(parts[1:])), nil
	}
	path := names(parts)
	if len(parts) == 1 && sc.p.doubleQuoted(parts[0].At) {
		// "text" is a string literal where no field has that name (the docs write string
		// constants in double quotes).
		field := fieldPath(0, path)
		return func(e *env) (sqlval.Value, error) {
			if v, _ := field(e); !v.IsNull() {
				return v, nil
			}
			return sqlval.String(path[0]), nil
		}, nil
	}
	if len(sc.bindings) == 1 {
		return withSystemColumn(fieldPath(0, path), path), nil
	}
	return withSystemColumn(func(e *env) (sqlval.Value, error) {
		for i := range e.t.b {
			if _, ok := e.t.b[i].Get(path[0]); ok {
				return lookupPath(e.t.b[i], path), nil
			}
		}
		return sqlval.Null, nil
	}, path), nil
}

func names(ids []saql.Ident) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.Name
	}
	return out
}

// fieldPath reads a field path of binding bi; an empty path is the binding's whole record.
func fieldPath(bi int, path []string) evalFn {
	if len(path) == 1 {
		name := path[0]
		return func(e *env) (sqlval.Value, error) {
			v, _ := e.t.b[bi].Get(name)
			return v, nil
		}
	}
	return func(e *env) (sqlval.Value, error) { return lookupPath(e.t.b[bi], path), nil }
}

func lookupPath(v sqlval.Value, path []string) sqlval.Value {
	for _, name := range path {
		var ok bool
		if v, ok = v.Get(name); !ok {
			return sqlval.Null
		}
	}
	return v
}

// withSystemColumn falls back to an input event's system columns when the event has no field
// of that name: EventEnqueuedUtcTime, PartitionId, EventProcessedUtcTime.
func withSystemColumn(f evalFn, path []string) evalFn {
	if len(path) != 1 {
		return f
	}
	var sys func(e *env) sqlval.Value
	switch strings.ToLower(path[0]) {
	case "eventenqueuedutctime":
		sys = func(e *env) sqlval.Value { return sqlval.Datetime(e.t.meta.arrival) }
	case "partitionid":
		sys = func(e *env) sqlval.Value { return sqlval.Bigint(int64(e.t.meta.partition)) }
	case "eventprocessedutctime":
		// The one column that is not deterministic: the wall clock when the row is evaluated.
		sys = func(*env) sqlval.Value { v, _ := sqlval.DatetimeFromTime(time.Now()); return v }
	default:
		return f
	}
	return func(e *env) (sqlval.Value, error) {
		v, err := f(e)
		if err != nil || !v.IsNull() || e.t.meta == nil || len(e.t.b) == 0 {
			return v, err
		}
		if _, ok := e.t.b[0].Get(path[0]); ok {
			return v, nil
		}
		return sys(e), nil
	}
}
