package eventhubs

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want StartPosition
		err  string
	}{
		// Go and JS (quoted).
		{expr: "amqp.annotation.x-opt-offset > '-1'", want: StartPosition{Field: fieldOffset, Value: -1}},
		{expr: "amqp.annotation.x-opt-offset > '@latest'", want: StartPosition{Field: fieldOffset, Latest: true}},
		{expr: "amqp.annotation.x-opt-offset >= '42'", want: StartPosition{Field: fieldOffset, Value: 42, Inclusive: true}},
		{expr: "amqp.annotation.x-opt-offset > '42'", want: StartPosition{Field: fieldOffset, Value: 42}},
		{expr: "amqp.annotation.x-opt-sequence-number > '7'", want: StartPosition{Field: fieldSequence, Value: 7}},
		{expr: "amqp.annotation.x-opt-sequence-number >= '7'", want: StartPosition{Field: fieldSequence, Value: 7, Inclusive: true}},
		{expr: "amqp.annotation.x-opt-enqueued-time > '1700000000123'", want: StartPosition{Field: fieldEnqueuedTime, Value: 1700000000123}},
		{expr: "amqp.annotation.x-opt-enqueued-time >= '1700000000123'", want: StartPosition{Field: fieldEnqueuedTime, Value: 1700000000123, Inclusive: true}},
		// .NET (unquoted).
		{expr: "amqp.annotation.x-opt-offset > -1", want: StartPosition{Field: fieldOffset, Value: -1}},
		{expr: "amqp.annotation.x-opt-offset > @latest", want: StartPosition{Field: fieldOffset, Latest: true}},
		{expr: "amqp.annotation.x-opt-sequence-number >= 12", want: StartPosition{Field: fieldSequence, Value: 12, Inclusive: true}},
		{expr: "amqp.annotation.x-opt-enqueued-time > 1700000000123", want: StartPosition{Field: fieldEnqueuedTime, Value: 1700000000123}},
		// Spacing and case.
		{expr: "  AMQP.ANNOTATION.X-OPT-OFFSET>='5'  ", want: StartPosition{Field: fieldOffset, Value: 5, Inclusive: true}},
		{expr: `amqp.annotation.x-opt-offset > "9"`, want: StartPosition{Field: fieldOffset, Value: 9}},
		// Offsets compare numerically: a long one is a number, not a string.
		{expr: "amqp.annotation.x-opt-offset > '10000000000'", want: StartPosition{Field: fieldOffset, Value: 10000000000}},
		// Errors.
		{expr: "amqp.annotation.x-opt-offset < '5'", err: "must be > or >="},
		{expr: "amqp.annotation.x-opt-offset = '5'", err: "must be > or >="},
		{expr: "amqp.annotation.x-opt-partition-key > 'a'", err: "cannot start a receiver"},
		{expr: "x-opt-offset > '5'", err: "must compare amqp.annotation"},
		{expr: "amqp.annotation.x-opt-offset > 'abc'", err: "not a whole number"},
		{expr: "amqp.annotation.x-opt-offset > '-2'", err: "not an offset"},
		{expr: "amqp.annotation.x-opt-sequence-number > '@latest'", err: "@latest applies to x-opt-offset only"},
		{expr: "amqp.annotation.x-opt-offset", err: "must be > or >="},
		{expr: "", err: "must compare amqp.annotation"},
	} {
		got, err := ParseSelector(tc.expr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSelector(%q) error = %v, want one containing %q", tc.expr, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSelector(%q) = %+v, %v; want %+v", tc.expr, got, err, tc.want)
		}
	}
}

func TestParseFilterDescriptors(t *testing.T) {
	expr := "amqp.annotation.x-opt-sequence-number > '3'"
	want := StartPosition{Field: fieldSequence, Value: 3}
	for name, entry := range map[string]codec.Pair{
		"go/js code":       {Key: codec.Symbol(selectorFilterName), Value: codec.Described{Descriptor: uint64(0x0000468C00000004), Value: expr}},
		".NET code":        {Key: codec.Symbol(selectorFilterName), Value: codec.Described{Descriptor: uint64(0x00000137000000A), Value: expr}},
		"symbol described": {Key: codec.Symbol("some-name"), Value: codec.Described{Descriptor: codec.Symbol(selectorFilterName), Value: expr}},
		"string key":       {Key: selectorFilterName, Value: codec.Described{Descriptor: uint64(99), Value: expr}},
		"bare string":      {Key: codec.Symbol(selectorFilterName), Value: expr},
	} {
		m := &codec.Map{Pairs: []codec.Pair{{Key: codec.Symbol("other"), Value: codec.Described{Descriptor: uint64(1), Value: "x"}}, entry}}
		got, err := ParseFilter(m)
		if err != nil || got != want {
			t.Errorf("%s: ParseFilter = %+v, %v; want %+v", name, got, err, want)
		}
	}
	if got, err := ParseFilter(nil); err != nil || got != earliest {
		t.Errorf("no filter: %+v, %v; want earliest", got, err)
	}
	other := &codec.Map{Pairs: []codec.Pair{{Key: codec.Symbol("apache.org:no-local-filter:list"), Value: codec.Described{Descriptor: uint64(0x0000468C00000003), Value: []any{}}}}}
	if got, err := ParseFilter(other); err != nil || got != earliest {
		t.Errorf("other filters only: %+v, %v; want earliest", got, err)
	}
	bad := &codec.Map{Pairs: []codec.Pair{{Key: codec.Symbol(selectorFilterName), Value: codec.Described{Descriptor: uint64(selectorCode), Value: int64(5)}}}}
	if _, err := ParseFilter(bad); err == nil {
		t.Error("a selector filter that is not a string was accepted")
	}
}

func TestResolve(t *testing.T) {
	// A partition holding offsets 10..19 (retention removed 0..9); events at times 1000+offset.
	b := Bounds{Start: 10, End: 20, OffsetForTime: func(ms int64) (int64, error) {
		switch {
		case ms <= 1010:
			return 10, nil
		case ms > 1019:
			return 20, nil
		}
		return ms - 1000, nil
	}}
	for _, tc := range []struct {
		pos  StartPosition
		want int64
		err  bool
	}{
		{pos: earliest, want: 10},
		{pos: StartPosition{Latest: true}, want: 20},
		{pos: StartPosition{Value: 12}, want: 13},
		{pos: StartPosition{Value: 12, Inclusive: true}, want: 12},
		{pos: StartPosition{Field: fieldSequence, Value: 19}, want: 20},
		{pos: StartPosition{Field: fieldSequence, Value: 20, Inclusive: true}, want: 20},
		{pos: StartPosition{Field: fieldSequence, Value: 3}, want: 10}, // before retention: the first retained
		{pos: StartPosition{Field: fieldSequence, Value: 20}, err: true},
		{pos: StartPosition{Value: 100, Inclusive: true}, err: true},
		{pos: StartPosition{Field: fieldEnqueuedTime, Value: 1012}, want: 13},
		{pos: StartPosition{Field: fieldEnqueuedTime, Value: 1012, Inclusive: true}, want: 12},
		{pos: StartPosition{Field: fieldEnqueuedTime, Value: 5000}, want: 20},
		{pos: StartPosition{Field: fieldEnqueuedTime, Value: 0}, want: 10},
		{pos: StartPosition{Field: fieldEnqueuedTime, Value: math.MaxInt64}, want: 20},
		{pos: StartPosition{Field: fieldSequence, Value: math.MaxInt64}, err: true},
	} {
		got, err := tc.pos.Resolve(b)
		if tc.err {
			var ahead *ErrPositionAhead
			if !errors.As(err, &ahead) {
				t.Errorf("Resolve(%+v) = %d, %v; want ErrPositionAhead", tc.pos, got, err)
			} else if !strings.Contains(err.Error(), "last sequence number in the system is '19'") {
				t.Errorf("Resolve(%+v) error %q does not name the last sequence number", tc.pos, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%+v) = %d, %v; want %d", tc.pos, got, err, tc.want)
		}
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		"amqp.annotation.x-opt-offset > '-1'", "amqp.annotation.x-opt-offset > @latest",
		"amqp.annotation.x-opt-sequence-number >= 5", "amqp.annotation.x-opt-enqueued-time > '1700000000000'",
		"amqp.annotation.x-opt-offset >", "amqp.annotation.", "'", "amqp.annotation.x-opt-offset >= ''",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		pos, err := ParseSelector(expr)
		if err != nil {
			if !strings.Contains(err.Error(), "selector filter") {
				t.Fatalf("error %q does not say it is about the selector filter", err)
			}
			return
		}
		if pos.Latest && pos.Field != fieldOffset {
			t.Fatalf("%q: @latest on field %d", expr, pos.Field)
		}
		if pos.Field != fieldEnqueuedTime && pos.Value < -1 {
			t.Fatalf("%q: offset %d below -1 accepted", expr, pos.Value)
		}
		// Whatever parses resolves to an offset inside the partition, or says it is ahead.
		b := Bounds{Start: 5, End: 50, OffsetForTime: func(int64) (int64, error) { return 7, nil }}
		off, err := pos.Resolve(b)
		if err == nil && (off < b.Start || off > b.End) {
			t.Fatalf("%q resolved to %d, outside [%d, %d]", expr, off, b.Start, b.End)
		}
	})
}
