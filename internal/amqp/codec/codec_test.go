package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var ts = time.UnixMilli(1700000000123).UTC()

// Every constructor of part 1.6, decoded.
func TestDecodeEveryConstructor(t *testing.T) {
	uuid := UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	tests := []struct {
		name string
		hex  string
		want any
	}{
		{"null", "40", nil},
		{"true", "41", true},
		{"false", "42", false},
		{"boolean true", "56 01", true},
		{"boolean false", "56 00", false},
		{"ubyte", "50 ff", uint8(255)},
		{"ushort", "60 ff fe", uint16(0xfffe)},
		{"uint", "70 00 01 00 00", uint32(65536)},
		{"smalluint", "52 07", uint32(7)},
		{"uint0", "43", uint32(0)},
		{"ulong", "80 00 00 46 8c 00 00 00 04", uint64(0x468C00000004)},
		{"smallulong", "53 70", uint64(0x70)},
		{"ulong0", "44", uint64(0)},
		{"byte", "51 80", int8(-128)},
		{"short", "61 80 00", int16(math.MinInt16)},
		{"int", "71 ff ff ff fe", int32(-2)},
		{"smallint", "54 ff", int32(-1)},
		{"long", "81 80 00 00 00 00 00 00 00", int64(math.MinInt64)},
		{"smalllong", "55 7f", int64(127)},
		{"float", "72 3f c0 00 00", float32(1.5)},
		{"double", "82 40 09 21 fb 54 44 2d 18", math.Pi},
		{"decimal32", "74 01 02 03 04", Decimal{Code: 0x74, Bytes: []byte{1, 2, 3, 4}}},
		{"decimal64", "84 01 02 03 04 05 06 07 08", Decimal{Code: 0x84, Bytes: []byte{1, 2, 3, 4, 5, 6, 7, 8}}},
		{"decimal128", "94 0102030405060708090a0b0c0d0e0f10", Decimal{Code: 0x94, Bytes: uuid[:]}},
		{"char", "73 00 01 f6 00", Char('😀')},
		{"timestamp", "83 00 00 01 8b cf e5 68 7b", ts},
		{"negative timestamp", "83 ff ff ff ff ff ff ff ff", time.UnixMilli(-1).UTC()},
		{"uuid", "98 0102030405060708090a0b0c0d0e0f10", uuid},
		{"vbin8", "a0 03 01 02 03", []byte{1, 2, 3}},
		{"vbin32", "b0 00 00 00 02 01 02", []byte{1, 2}},
		{"empty vbin8", "a0 00", []byte{}},
		{"str8", "a1 05 68 c3 a9 6c 6c", "héll"},
		{"str32", "b1 00 00 00 02 68 69", "hi"},
		{"sym8", "a3 0e 61 6d 71 70 3a 6e 6f 74 2d 66 6f 75 6e 64", Symbol("amqp:not-found")},
		{"sym32", "b3 00 00 00 01 78", Symbol("x")},
		{"list0", "45", []any{}},
		{"list8", "c0 04 02 41 52 05", []any{true, uint32(5)}},
		{"list32", "d0 00 00 00 06 00 00 00 02 40 43", []any{nil, uint32(0)}},
		{"map8", "c1 06 02 a3 01 6b 55 09", &Map{Pairs: []Pair{{Symbol("k"), int64(9)}}}},
		{"map32", "d1 00 00 00 09 00 00 00 02 a1 01 6b 54 fe", &Map{Pairs: []Pair{{"k", int32(-2)}}}},
		{"map with duplicate keys", "c1 09 04 a1 01 6b 41 a1 01 6b 42", &Map{Pairs: []Pair{{"k", true}, {"k", false}}}},
		{"array8 of sym8", "e0 06 02 a3 01 61 01 62", Array{Symbol("a"), Symbol("b")}},
		{"array32 of str8", "f0 00 00 00 09 00 00 00 02 a1 01 61 01 62", Array{"a", "b"}},
		{"array8 of int", "e0 0a 02 71 00 00 00 01 ff ff ff ff", Array{int32(1), int32(-1)}},
		{"array8 of boolean", "e0 04 02 56 01 00", Array{true, false}},
		{"array8 of true", "e0 02 02 41", Array{true, true}},
		{"empty array", "e0 02 00 a3", Array{}},
		{"array of described", "e0 07 02 00 53 70 52 01 02", Array{Described{uint64(0x70), uint32(1)}, Described{uint64(0x70), uint32(2)}}},
		{"array of list32", "e0 0b 01 d0 00 00 00 05 00 00 00 01 41", Array{[]any{true}}},
		{"described ulong", "00 53 24 45", Described{Descriptor: uint64(0x24), Value: []any{}}},
		{"described symbol", "00 a3 03 61 3a 62 a1 02 78 3e", Described{Descriptor: Symbol("a:b"), Value: "x>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.hex)
			got, n, err := Decode(append(b, 0xee)) // a trailing byte must be left alone
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.hex, err)
			}
			if n != len(b) {
				t.Errorf("Decode(%s) used %d bytes, want %d", tt.hex, n, len(b))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%s) = %#v, want %#v", tt.hex, got, tt.want)
			}
			// Every value decodes to a Go value Append accepts, and Append's form decodes back to it.
			enc, err := Append(nil, got)
			if err != nil {
				t.Fatalf("Append(%#v): %v", got, err)
			}
			again, _, err := Decode(enc)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("re-encoded %x decodes to %#v, %v; want %#v", enc, again, err, got)
			}
		})
	}
}

// Append picks the smallest constructor, with the boundaries of each step.
func TestAppendSmallestConstructor(t *testing.T) {
	str := func(n int) string { return strings.Repeat("x", n) }
	list := func(n int) []any { // n elements of one byte each
		l := make([]any, n)
		return l
	}
	tests := []struct {
		name string
		v    any
		head string // expected prefix of the encoding
		size int    // expected whole length
	}{
		{"nil", nil, "40", 1},
		{"true", true, "41", 1},
		{"false", false, "42", 1},
		{"uint 0", uint32(0), "43", 1},
		{"uint 255", uint32(255), "52ff", 2},
		{"uint 256", uint32(256), "7000000100", 5},
		{"ulong 0", uint64(0), "44", 1},
		{"ulong 255", uint64(255), "53ff", 2},
		{"ulong 256", uint64(256), "800000000000000100", 9},
		{"uint as ulong", uint(3), "5303", 2},
		{"int 127", int32(127), "547f", 2},
		{"int -128", int32(-128), "5480", 2},
		{"int 128", int32(128), "7100000080", 5},
		{"int -129", int32(-129), "71ffffff7f", 5},
		{"long 127", int64(127), "557f", 2},
		{"long -128", int64(-128), "5580", 2},
		{"long 128", int64(128), "810000000000000080", 9},
		{"long -129", int64(-129), "81ffffffffffffff7f", 9},
		{"int as long", 5, "5505", 2},
		{"ubyte", uint8(9), "5009", 2},
		{"ushort", uint16(9), "600009", 3},
		{"byte", int8(-1), "51ff", 2},
		{"short", int16(-1), "61ffff", 3},
		{"float", float32(0), "7200000000", 5},
		{"double", float64(0), "820000000000000000", 9},
		{"char", Char('a'), "7300000061", 5},
		{"timestamp", ts, "830000018bcfe5687b", 9},
		{"uuid", UUID{}, "98", 17},
		{"str 255", str(255), "a1ff", 257},
		{"str 256", str(256), "b100000100", 261},
		{"empty str", "", "a100", 2},
		{"sym 255", Symbol(str(255)), "a3ff", 257},
		{"sym 256", Symbol(str(256)), "b300000100", 261},
		{"bin 255", make([]byte, 255), "a0ff", 257},
		{"bin 256", make([]byte, 256), "b000000100", 260 + 1},
		{"empty list", []any{}, "45", 1},
		{"list8 254 bytes of elements", list(254), "c0fffe", 257},
		{"list32 255 bytes of elements", list(255), "d000000103000000ff", 264},
		{"list32 by count", list(256), "d00000010400000100", 265},
		{"empty map", &Map{}, "c10100", 3},
		{"map", map[string]any{"b": 1, "a": nil}, "c10a04a1016140a101625501", 12},
		{"symbol map", map[Symbol]any{"x-opt-offset": "5"}, "c11202a30c782d6f70742d6f6666736574a10135", 20},
		{"strings as array", []string{"0", "1"}, "e00602a10130013", 8},
		{"empty strings as array", []string{}, "e00200a1", 4},
		{"symbols as array", []Symbol{"a"}, "e00401a30161", 6},
		{"empty Array", Array{}, "e00200a3", 4},
		{"long str array goes str32", []string{str(256)}, "f0000001090000000" + "1b1", 270},
		{"described", Described{uint64(0x468C00000004), "x"}, "0080", 13},
		{"described pointer", &Described{Symbol("s"), nil}, "00a30173", 5},
		{"decimal", Decimal{0x74, []byte{1, 2, 3, 4}}, "7401020304", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Append([]byte{0xee}, tt.v)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			got = got[1:]
			if h := hex.EncodeToString(got); !strings.HasPrefix(h, tt.head) || len(got) != tt.size {
				t.Errorf("Append(%T) = %s (%d bytes), want prefix %s and %d bytes", tt.v, abbrev(h), len(got), tt.head, tt.size)
			}
			if _, n, err := Decode(got); err != nil || n != len(got) {
				t.Errorf("Decode(Append(v)) = %d bytes, %v; want %d bytes", n, err, len(got))
			}
		})
	}
}

func abbrev(h string) string {
	if len(h) > 40 {
		return h[:40] + "…"
	}
	return h
}

func TestTypedAppendersMatchAppend(t *testing.T) {
	for _, v := range []any{uint32(0), uint32(77), uint32(1 << 20), uint64(0), uint64(1 << 40), int32(-5), int32(1 << 20),
		int64(-5), int64(1 << 40), "s", Symbol("y"), []byte("b"), ts, true, false, nil} {
		want, err := Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		switch v := v.(type) {
		case uint32:
			got = AppendUint(nil, v)
		case uint64:
			got = AppendUlong(nil, v)
		case int32:
			got = AppendInt(nil, v)
		case int64:
			got = AppendLong(nil, v)
		case string:
			got = AppendString(nil, v)
		case Symbol:
			got = AppendSymbol(nil, v)
		case []byte:
			got = AppendBinary(nil, v)
		case time.Time:
			got = AppendTimestamp(nil, v)
		case bool:
			got = AppendBool(nil, v)
		case nil:
			got = AppendNull(nil)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("typed appender for %#v = %x, Append = %x", v, got, want)
		}
	}
	if got := hex.EncodeToString(AppendDescriptor(nil, 0x10)); got != "005310" {
		t.Errorf("AppendDescriptor(0x10) = %s, want 005310", got)
	}
}

func TestAppendErrors(t *testing.T) {
	deep := any(nil)
	for i := 0; i < MaxDepth+2; i++ {
		deep = []any{deep}
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"unsupported type", struct{}{}, "cannot encode a Go struct {}"},
		{"mixed array", Array{"a", Symbol("b")}, "array elements must have one type"},
		{"too deep", deep, "deeper than 32"},
		{"bad decimal", Decimal{0x74, []byte{1}}, "is not a decimal32/64/128"},
		{"array with two descriptors", Array{Described{uint64(1), "a"}, Described{uint64(2), "b"}}, "descriptor 2 but element 0 has 1"},
	}
	for _, tt := range tests {
		if _, err := Append(nil, tt.v); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Append error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// Hostile inputs fail with an error that says what was wrong, and never allocate beyond the
// input's size.
func TestDecodeHostile(t *testing.T) {
	deep := strings.Repeat("c0 ", 0) // built below
	var nested []byte
	for i := 0; i < MaxDepth+1; i++ {
		nested = append(nested, 0x00, 0x53, 0x01) // described, descriptor 1, value …
	}
	nested = append(nested, 0x40)
	_ = deep
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "no constructor"},
		{"unknown constructor", []byte{0x57}, "unknown constructor 0x57"},
		{"unknown variable constructor", []byte{0xa2, 0}, "unknown constructor 0xa2"},
		{"truncated uint", unhex(t, "70 00 00"), "needs 4 bytes, 2 left"},
		{"truncated str32", unhex(t, "b1 ff ff ff ff 61"), "value truncated"},
		{"list32 count bomb", unhex(t, "d0 00 00 00 04 ff ff ff ff"), "claims 4294967295 elements in 0 bytes"},
		{"map32 count bomb", unhex(t, "d1 00 00 00 06 7f ff ff fe 40 40"), "claims 2147483646 elements"},
		{"array32 count bomb", unhex(t, "f0 00 00 00 05 ff ff ff ff 40"), "claims 4294967295 elements"},
		{"odd map", unhex(t, "c1 02 01 40"), "odd element count"},
		{"list size too big", unhex(t, "c0 09 01 40"), "value truncated"},
		{"list size smaller than elements", unhex(t, "c0 02 01 52 01"), "list element 0"},
		{"list size larger than elements", unhex(t, "c0 03 01 40 40"), "list size says 2 bytes but its 1 elements use 1"},
		{"bad boolean", unhex(t, "56 02"), "boolean byte is 0x02"},
		{"nesting", nested, "deeper than 32"},
		{"array described twice", unhex(t, "e0 05 01 00 53 01 00"), "described twice"},
		{"array without constructor", unhex(t, "e0 01 00"), "no element constructor"},
		{"list size below count width", unhex(t, "d0 00 00 00 02 00 00 00 00"), "smaller than its count field"},
	}
	for _, tt := range tests {
		_, _, err := Decode(tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Decode(%x) error = %v, want one containing %q", tt.name, tt.b, err, tt.want)
		}
	}
	// Lists nested 32 deep decode; 33 do not.
	mk := func(d int) []byte {
		b := []byte{0x45}
		for i := 0; i < d; i++ {
			b = append([]byte{0xc0, byte(len(b) + 1), 1}, b...)
		}
		return b
	}
	if _, _, err := Decode(mk(MaxDepth)); err != nil {
		t.Errorf("lists nested %d deep: %v", MaxDepth, err)
	}
	if _, _, err := Decode(mk(MaxDepth + 1)); err == nil {
		t.Errorf("lists nested %d deep decoded", MaxDepth+1)
	}
	// Append has the same limit.
	nest := func(d int) any {
		v := any([]any{})
		for i := 1; i < d; i++ {
			v = []any{v}
		}
		return v
	}
	if _, err := Append(nil, nest(MaxDepth)); err != nil {
		t.Errorf("Append of lists nested %d deep: %v", MaxDepth, err)
	}
	if _, err := Append(nil, nest(MaxDepth+1)); err == nil {
		t.Errorf("Append of lists nested %d deep succeeded", MaxDepth+1)
	}
	// Every strict prefix of a valid value is an ErrShort (or a size) error, never a panic.
	full, _ := Append(nil, []any{"abc", map[string]any{"k": Array{int32(1)}}, Described{uint64(9), []byte("xyz")}})
	for i := 0; i < len(full); i++ {
		if _, _, err := Decode(full[:i]); err == nil {
			t.Errorf("prefix of %d bytes decoded", i)
		} else if !errors.Is(err, ErrShort) && !strings.Contains(err.Error(), "elements") {
			t.Errorf("prefix of %d bytes: %v", i, err)
		}
	}
}

func TestListFields(t *testing.T) {
	b := unhex(t, "00 53 10 c0 06 03 a1 01 63 40 43 ff")
	code, name, fields, n, err := ListFields(b)
	if err != nil || code != 0x10 || name != "" || n != len(b)-1 || !reflect.DeepEqual(fields, []any{"c", nil, uint32(0)}) {
		t.Fatalf("ListFields = %x %q %#v %d %v", code, name, fields, n, err)
	}
	code, name, fields, _, err = ListFields(unhex(t, "00 a3 0e 61 6d 71 70 3a 6f 70 65 6e 3a 6c 69 73 74 45"))
	if err != nil || code != 0 || name != "amqp:open:list" || len(fields) != 0 {
		t.Fatalf("symbolic ListFields = %x %q %#v %v", code, name, fields, err)
	}
	for _, bad := range []string{"", "45", "00 53 10 a1 00", "00 45 45"} {
		if _, _, _, _, err := ListFields(unhex(t, bad)); err == nil {
			t.Errorf("ListFields(%s) succeeded", bad)
		}
	}
}
