package message

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// The codec against go-amqp's encoder and decoder, through amqp-value sections: each Go value
// go-amqp encodes decodes here to the codec's form of it, the codec's encoding decodes in go-amqp
// to the same Go value, and both pick the same constructor (the same bytes).
func TestCodecMatchesGoAMQP(t *testing.T) {
	long := strings.Repeat("s", 256)
	tests := []struct {
		name   string
		theirs any  // go-amqp's Go form
		ours   any  // the codec's Go form
		back   any  // what go-amqp decodes ours to, when not theirs
		differ bool // go-amqp picks another valid constructor
	}{
		{"true", true, true, nil, false},
		{"false", false, false, nil, false},
		{"ubyte", uint8(200), uint8(200), nil, false},
		{"ushort", uint16(65535), uint16(65535), nil, false},
		{"uint0", uint32(0), uint32(0), nil, false},
		{"smalluint", uint32(255), uint32(255), nil, false},
		{"uint", uint32(256), uint32(256), nil, false},
		{"ulong0", uint64(0), uint64(0), nil, false},
		{"smallulong", uint64(255), uint64(255), nil, false},
		{"ulong", uint64(math.MaxUint64), uint64(math.MaxUint64), nil, false},
		{"byte", int8(-128), int8(-128), nil, false},
		{"short", int16(-300), int16(-300), nil, false},
		{"smallint", int32(-128), int32(-128), nil, false},
		{"int", int32(128), int32(128), nil, false},
		{"smalllong", int64(127), int64(127), nil, false},
		{"long", int64(-129), int64(-129), nil, false},
		{"min long", int64(math.MinInt64), int64(math.MinInt64), nil, false},
		{"float", float32(-2.5), float32(-2.5), nil, false},
		{"double", math.Inf(-1), math.Inf(-1), nil, false},
		{"timestamp", when, when, nil, false},
		{"uuid", amqp.UUID{0xde, 0xad}, codec.UUID{0xde, 0xad}, nil, false},
		{"vbin8", []byte("bin"), []byte("bin"), nil, false},
		{"vbin32", bytes.Repeat([]byte{7}, 256), bytes.Repeat([]byte{7}, 256), nil, false},
		{"str8", "héllo", "héllo", nil, false},
		{"str32", long, long, nil, false},
		// go-amqp decodes symbols as strings.
		{"sym8", amqp.Symbol("amqp:not-found"), codec.Symbol("amqp:not-found"), "amqp:not-found", false},
		// go-amqp always writes list32 and map32; the codec list8/map8 when they fit.
		{"list", []any{int64(1), "two", nil}, []any{int64(1), "two", nil}, nil, true},
		{"map", map[string]any{"k": int32(1)}, &codec.Map{Pairs: []codec.Pair{{Key: "k", Value: int32(1)}}}, nil, true},
		{"array of strings", []string{"0", "1", "2"}, codec.Array{"0", "1", "2"}, nil, false},
		{"array of str32", []string{long}, codec.Array{long}, nil, false},
		// In arrays go-amqp uses smalllong/smallint when no element is above 127, and so
		// truncates []int64{1, -1 << 40} to {1, 0} (go-amqp v1.7.0 arrayInt64.Marshal checks only
		// the upper bound). The codec always uses long/int in arrays.
		{"array of longs", []int64{1, 1 << 40}, codec.Array{int64(1), int64(1 << 40)}, nil, false},
		{"array of small longs", []int64{1, -1}, codec.Array{int64(1), int64(-1)}, nil, true},
		{"array of ints", []int32{5}, codec.Array{int32(5)}, nil, true},
		{"array of symbols", []amqp.Symbol{"a", "b"}, codec.Array{codec.Symbol("a"), codec.Symbol("b")}, nil, false},
		{"array of doubles", []float64{1.5}, codec.Array{1.5}, nil, false},
		{"array of timestamps", []time.Time{when}, codec.Array{when}, nil, false},
		{"array of uuids", []amqp.UUID{{1}}, codec.Array{codec.UUID{1}}, nil, false},
		{"array of binaries", [][]byte{{1}, {2, 3}}, codec.Array{[]byte{1}, []byte{2, 3}}, nil, false},
		{"array of ulongs", []uint64{1 << 50}, codec.Array{uint64(1 << 50)}, nil, false},
		{"array of small ulongs", []uint64{1}, codec.Array{uint64(1)}, nil, true},
		{"array of bytes", []int8{-1, 1}, codec.Array{int8(-1), int8(1)}, nil, false},
		{"array of booleans", []bool{true, false}, codec.Array{true, false}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			theirs, err := (&amqp.Message{Value: tt.theirs}).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(theirs)
			if err != nil || !m.HasValue {
				t.Fatalf("Parse(go-amqp %x): %v", theirs, err)
			}
			if !sameValue(m.Value, tt.ours) {
				t.Errorf("go-amqp's %x decodes here to %#v, want %#v", theirs, m.Value, tt.ours)
			}
			ours, err := AppendValue(nil, tt.ours)
			if err != nil {
				t.Fatal(err)
			}
			var got amqp.Message
			if err := got.UnmarshalBinary(ours); err != nil {
				t.Fatalf("go-amqp UnmarshalBinary(%x): %v", ours, err)
			}
			back := tt.back
			if back == nil {
				back = tt.theirs
			}
			if !sameValue(got.Value, back) {
				t.Errorf("our %x decodes in go-amqp to %#v (%T), want %#v", ours, got.Value, got.Value, tt.theirs)
			}
			if bytes.Equal(ours, theirs) == tt.differ {
				t.Errorf("ours %x, go-amqp %x; expected them to differ: %v", ours, theirs, tt.differ)
			}
		})
	}
}

// sameValue is reflect.DeepEqual with times compared by instant (go-amqp returns local times).
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case time.Time:
		bt, ok := b.(time.Time)
		return ok && a.Equal(bt)
	case []time.Time:
		bt, ok := b.([]time.Time)
		return ok && len(a) == len(bt) && (len(a) == 0 || a[0].Equal(bt[0]))
	case codec.Array:
		bt, ok := b.(codec.Array)
		if !ok || len(a) != len(bt) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], bt[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
