// Package codec is the AMQP 1.0 type system (OASIS AMQP 1.0, part 1): it encodes and decodes
// the primitive, described and composite values every other AMQP package is built from. It owns
// no I/O and no protocol state. Decoders bound everything they allocate by the bytes they were
// given, so a hostile peer cannot make them spend more than its frame.
//
// Go representation of decoded values:
//
//	null → nil                     boolean → bool
//	ubyte/ushort/uint/ulong → uint8/uint16/uint32/uint64
//	byte/short/int/long → int8/int16/int32/int64
//	float/double → float32/float64  char → Char
//	timestamp → time.Time (UTC, milliseconds)
//	uuid → UUID                     binary → []byte (aliases the input)
//	string → string                 symbol → Symbol
//	list → []any                    map → *Map (ordered; duplicate keys kept as sent)
//	array → Array                   described → Described
//	decimal32/64/128 → Decimal (raw bytes; Tandem never interprets them)
//
// Encoding takes the same types; []string and []Symbol encode as arrays (the Event Hubs
// management answer needs partition_ids as an array of strings), []any as a list.
package codec

// Symbol is an AMQP symbol: an ASCII name such as "amqp:not-found".
type Symbol string

// Char is an AMQP char (a UTF-32 code point).
type Char rune

// UUID is an AMQP uuid, in network byte order.
type UUID [16]byte

// Decimal is an undecoded decimal32/64/128; Code is its constructor.
type Decimal struct {
	Code  byte
	Bytes []byte
}

// Array is an AMQP array: every element has the same type. Decoded elements use the Go types
// of the package doc.
type Array []any

// Described is a described value: a descriptor (a uint64 code or a Symbol name) and a value.
type Described struct {
	Descriptor any
	Value      any
}

// Pair is one entry of a Map.
type Pair struct {
	Key   any
	Value any
}

// Map is an AMQP map, in wire order.
type Map struct {
	Pairs []Pair
}

// Get returns the value of the first entry whose key is a string or Symbol equal to key.
func (m *Map) Get(key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	for _, p := range m.Pairs {
		switch k := p.Key.(type) {
		case string:
			if k == key {
				return p.Value, true
			}
		case Symbol:
			if string(k) == key {
				return p.Value, true
			}
		}
	}
	return nil, false
}

// Set appends or replaces the entry whose key equals key (compared as in Get).
func (m *Map) Set(key, value any) {
	ks, isStr := keyString(key)
	for i, p := range m.Pairs {
		if s, ok := keyString(p.Key); ok && isStr && s == ks {
			m.Pairs[i].Value = value
			return
		}
	}
	m.Pairs = append(m.Pairs, Pair{Key: key, Value: value})
}

func keyString(k any) (string, bool) {
	switch k := k.(type) {
	case string:
		return k, true
	case Symbol:
		return string(k), true
	}
	return "", false
}
