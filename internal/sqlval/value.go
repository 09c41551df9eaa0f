package sqlval

import (
	"math"
	"strings"
)

// Kind is the data type of one value. Stream Analytics types values, not columns: each record of
// a column may carry a different kind ("Data Types (Azure Stream Analytics)").
type Kind uint8

// The kinds, in the order Compare sorts them when they are not comparable with each other.
const (
	KindNull     Kind = iota
	KindBit           // 1, 0 (compatibility level 1.2 and above); JSON true/false
	KindBigint        // int64
	KindFloat         // float64
	KindDatetime      // UTC, 100 ns ticks since the Unix epoch
	KindString        // nvarchar(max)
	KindRecord        // ordered name/value pairs
	KindArray         // ordered values
)

// String returns the Stream Analytics type name, as GetType reports it.
func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBit:
		return "bit"
	case KindBigint:
		return "bigint"
	case KindFloat:
		return "float"
	case KindDatetime:
		return "datetime"
	case KindString:
		return "nvarchar(max)"
	case KindRecord:
		return "record"
	case KindArray:
		return "array"
	}
	return "unknown"
}

// Value is one SQL value. It is a small struct, not an interface, so that hot scalars (numbers,
// strings, datetimes) are stored without boxing: n holds the int64, the float64 bits, the bit or
// the datetime ticks; s holds a string; c holds the fields of a record or the elements of an
// array. The zero Value is NULL. Values are immutable once built: functions never modify their
// arguments, so a Value may be shared between rows and goroutines.
type Value struct {
	kind Kind
	n    uint64
	s    string
	c    *compound
}

type compound struct {
	fields []Field
	elems  []Value
}

// Field is one name/value pair of a record.
type Field struct {
	Name  string
	Value Value
}

// Null is the NULL value.
var Null = Value{}

// Bigint returns a bigint value.
func Bigint(i int64) Value { return Value{kind: KindBigint, n: uint64(i)} }

// Float returns a float value.
func Float(f float64) Value { return Value{kind: KindFloat, n: math.Float64bits(f)} }

// String returns an nvarchar(max) value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Bit returns a bit value: 1 for true, 0 for false.
func Bit(b bool) Value {
	if b {
		return Value{kind: KindBit, n: 1}
	}
	return Value{kind: KindBit}
}

// Datetime returns a datetime value from 100 ns ticks since 1970-01-01T00:00:00Z. Use
// DatetimeFromTime or ParseDatetime to build one from other forms.
func Datetime(ticks int64) Value { return Value{kind: KindDatetime, n: uint64(ticks)} }

// Record returns a record with the given fields, in that order. The slice is kept, not copied:
// the caller must not modify it afterwards. Names should be unique (ParseJSON guarantees it).
func Record(fields []Field) Value {
	return Value{kind: KindRecord, c: &compound{fields: fields}}
}

// Array returns an array of the given elements. The slice is kept, not copied.
func Array(elems []Value) Value {
	return Value{kind: KindArray, c: &compound{elems: elems}}
}

// Kind returns the value's data type.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Int returns the bigint (or the bit as 0/1). It is 0 for other kinds.
func (v Value) Int() int64 {
	if v.kind == KindBigint || v.kind == KindBit {
		return int64(v.n)
	}
	return 0
}

// Float returns the float, or the bigint converted to float. It is 0 for other kinds.
func (v Value) Float() float64 {
	switch v.kind {
	case KindFloat:
		return math.Float64frombits(v.n)
	case KindBigint, KindBit:
		return float64(int64(v.n))
	}
	return 0
}

// Str returns the string of an nvarchar(max) value, "" for other kinds.
func (v Value) Str() string {
	if v.kind == KindString {
		return v.s
	}
	return ""
}

// Bool returns true for bit 1. It is false for other kinds.
func (v Value) Bool() bool { return v.kind == KindBit && v.n != 0 }

// Ticks returns the datetime as 100 ns ticks since the Unix epoch, 0 for other kinds.
func (v Value) Ticks() int64 {
	if v.kind == KindDatetime {
		return int64(v.n)
	}
	return 0
}

// Fields returns the fields of a record, in order. The caller must not modify the slice.
func (v Value) Fields() []Field {
	if v.kind == KindRecord {
		return v.c.fields
	}
	return nil
}

// Elems returns the elements of an array. The caller must not modify the slice.
func (v Value) Elems() []Value {
	if v.kind == KindArray {
		return v.c.elems
	}
	return nil
}

// Len returns the number of fields of a record or elements of an array, 0 otherwise.
func (v Value) Len() int {
	switch v.kind {
	case KindRecord:
		return len(v.c.fields)
	case KindArray:
		return len(v.c.elems)
	}
	return 0
}

// isNumber reports whether v is a bigint or a float.
func (v Value) isNumber() bool { return v.kind == KindBigint || v.kind == KindFloat }

// Get returns the record field with the given name. Column and property names are matched
// case-insensitively, as Stream Analytics does; an exact match wins over a case-folded one so
// that {"a":1,"A":2} stays addressable. ok is false when v is not a record or has no such field.
func (v Value) Get(name string) (Value, bool) {
	if v.kind != KindRecord {
		return Null, false
	}
	fs := v.c.fields
	for i := range fs {
		if fs[i].Name == name {
			return fs[i].Value, true
		}
	}
	for i := range fs {
		if strings.EqualFold(fs[i].Name, name) {
			return fs[i].Value, true
		}
	}
	return Null, false
}

// Index returns the i-th (0-based) element of an array; ok is false when out of range or v is
// not an array.
func (v Value) Index(i int64) (Value, bool) {
	if v.kind != KindArray || i < 0 || i >= int64(len(v.c.elems)) {
		return Null, false
	}
	return v.c.elems[i], true
}

// String renders the value for messages and test output: JSON for records and arrays, the
// nvarchar(max) conversion for scalars, NULL for NULL.
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "NULL"
	case KindString:
		return v.s
	case KindRecord, KindArray:
		return string(v.AppendJSON(nil))
	}
	s, _ := toNvarchar(v)
	return s.s
}
