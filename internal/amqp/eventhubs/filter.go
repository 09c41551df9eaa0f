package eventhubs

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// Selector filters: where a receiver link starts. The SDKs put one entry in the attach's
// source filter map, keyed apache.org:selector-filter:string, whose value is a described
// string: an SQL-like comparison of one annotation with a value. Go and JS quote the value
// and use descriptor 0x0000468C00000004; .NET leaves it unquoted and uses 0x00000137000000A.
//
//	amqp.annotation.x-opt-offset > '-1'          (earliest)
//	amqp.annotation.x-opt-offset > '@latest'     (latest)
//	amqp.annotation.x-opt-offset >= '42'         (offsets are decimal strings in Tandem)
//	amqp.annotation.x-opt-sequence-number > 41
//	amqp.annotation.x-opt-enqueued-time > '1700000000000'  (Unix milliseconds)

// Filter names and descriptors.
const (
	selectorFilterName = "apache.org:selector-filter:string"
	selectorCode       = 0x0000468C00000004 // Go (go-amqp NewSelectorFilter) and JS
	selectorCodeDotNet = 0x00000137000000A  // .NET AmqpFilter.ConsumerFilterCode
)

// startField is what a start position compares.
type startField int

const (
	fieldOffset startField = iota
	fieldSequence
	fieldEnqueuedTime
)

// StartPosition is a parsed selector filter: events whose Field is greater than (or, when
// Inclusive, equal to) Value. Latest means "> @latest": only events sent from now on.
type StartPosition struct {
	Field     startField
	Value     int64 // an offset or sequence number (-1 = before the first), or Unix milliseconds
	Latest    bool
	Inclusive bool
}

// earliest is the position of a receiver that sent no filter: the start of the partition, as
// "> '-1'".
var earliest = StartPosition{Field: fieldOffset, Value: -1}

// ParseFilter finds the selector filter among a source's filters and parses it. No selector
// filter means the earliest retained event. Other filters are ignored, as Event Hubs does.
func ParseFilter(filters *codec.Map) (StartPosition, error) {
	if filters == nil {
		return earliest, nil
	}
	for _, p := range filters.Pairs {
		expr, ok, err := selectorExpression(p)
		if err != nil {
			return StartPosition{}, err
		}
		if ok {
			return ParseSelector(expr)
		}
	}
	return earliest, nil
}

// selectorExpression returns the expression of a selector filter entry; ok is false for any
// other filter.
func selectorExpression(p codec.Pair) (expr string, ok bool, err error) {
	var key string
	switch k := p.Key.(type) {
	case codec.Symbol:
		key = string(k)
	case string:
		key = k
	}
	d, isDescribed := p.Value.(codec.Described)
	if pd, isPtr := p.Value.(*codec.Described); isPtr && pd != nil {
		d, isDescribed = *pd, true
	}
	selector := key == selectorFilterName
	if isDescribed {
		switch desc := d.Descriptor.(type) {
		case uint64:
			selector = selector || desc == selectorCode || desc == selectorCodeDotNet
		case codec.Symbol:
			selector = selector || string(desc) == selectorFilterName
		case string:
			selector = selector || desc == selectorFilterName
		}
	}
	if !selector {
		return "", false, nil
	}
	v := p.Value
	if isDescribed {
		v = d.Value
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, fmt.Errorf("the selector filter %s must be a string expression such as \"amqp.annotation.x-opt-offset > '-1'\", not a %T", selectorFilterName, v)
	}
	return s, true, nil
}

// ParseSelector parses one selector expression.
func ParseSelector(expr string) (StartPosition, error) {
	s := strings.TrimSpace(expr)
	const prefix = "amqp.annotation."
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return StartPosition{}, selectorError(expr, "it must compare amqp.annotation.x-opt-offset, x-opt-sequence-number or x-opt-enqueued-time")
	}
	s = s[len(prefix):]
	name := s
	if i := strings.IndexAny(s, " \t<>="); i >= 0 {
		name, s = s[:i], s[i:]
	} else {
		s = ""
	}
	var pos StartPosition
	switch strings.ToLower(name) {
	case "x-opt-offset":
		pos.Field = fieldOffset
	case "x-opt-sequence-number":
		pos.Field = fieldSequence
	case "x-opt-enqueued-time":
		pos.Field = fieldEnqueuedTime
	default:
		return StartPosition{}, selectorError(expr, fmt.Sprintf("annotation %q cannot start a receiver; use x-opt-offset, x-opt-sequence-number or x-opt-enqueued-time", clip(name)))
	}
	s = strings.TrimLeft(s, " \t")
	switch {
	case strings.HasPrefix(s, ">="):
		pos.Inclusive, s = true, s[2:]
	case strings.HasPrefix(s, ">"):
		s = s[1:]
	default:
		return StartPosition{}, selectorError(expr, "the comparison must be > or >=")
	}
	v := strings.TrimSpace(s)
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		v = strings.TrimSpace(v[1 : len(v)-1])
	}
	if strings.EqualFold(v, "@latest") {
		if pos.Field != fieldOffset {
			return StartPosition{}, selectorError(expr, "@latest applies to x-opt-offset only")
		}
		pos.Latest = true
		return pos, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return StartPosition{}, selectorError(expr, fmt.Sprintf("value %q is not a whole number (offsets and sequence numbers are decimal, enqueued times Unix milliseconds)", clip(v)))
	}
	if n < -1 && pos.Field != fieldEnqueuedTime {
		return StartPosition{}, selectorError(expr, fmt.Sprintf("%d is not an offset or sequence number (-1 means before the first event)", n))
	}
	pos.Value = n
	return pos, nil
}

func selectorError(expr, why string) error {
	return fmt.Errorf("the selector filter %q cannot be used: %s", clip(expr), why)
}

// clip shortens client input quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Bounds is what a start position is resolved against: the partition's first retained offset,
// its end (the next offset to be written), and its index from time to offset.
type Bounds struct {
	Start, End int64
	// OffsetForTime is the first offset enqueued at or after Unix milliseconds ms (End when
	// none is).
	OffsetForTime func(ms int64) (int64, error)
}

// ErrPositionAhead is returned by Resolve for a position past the partition's end: Position is
// the offset or sequence number the client asked for.
type ErrPositionAhead struct{ Position, End int64 }

func (e *ErrPositionAhead) Error() string {
	last := e.End - 1
	return fmt.Sprintf("The supplied sequence number '%d' is invalid. The last sequence number in the system is '%d'; start from a sequence number at most %d, or from the earliest or latest event",
		e.Position, last, e.End)
}

// Resolve turns a start position into the first offset to deliver. Positions before the first
// retained event start at it (retention may have removed what a checkpoint pointed at); a
// position past the end is an error: the client holds a checkpoint of another log.
func (p StartPosition) Resolve(b Bounds) (int64, error) {
	var off int64
	switch {
	case p.Latest:
		return b.End, nil
	case p.Field == fieldEnqueuedTime:
		ms := p.Value
		if !p.Inclusive {
			if ms == math.MaxInt64 {
				return b.End, nil
			}
			ms++
		}
		o, err := b.OffsetForTime(ms)
		if err != nil {
			return 0, err
		}
		off = o
	default:
		off = p.Value
		if !p.Inclusive {
			if off >= b.End {
				return 0, &ErrPositionAhead{Position: p.Value, End: b.End}
			}
			off++
		}
	}
	if off < b.Start {
		return b.Start, nil
	}
	if off > b.End {
		return 0, &ErrPositionAhead{Position: p.Value, End: b.End}
	}
	return off, nil
}
