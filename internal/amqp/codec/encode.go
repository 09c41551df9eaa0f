package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"time"
)

// Constructor codes (part 1.6).
const (
	codeDescribed  byte = 0x00
	codeNull       byte = 0x40
	codeTrue       byte = 0x41
	codeFalse      byte = 0x42
	codeUint0      byte = 0x43
	codeUlong0     byte = 0x44
	codeList0      byte = 0x45
	codeUbyte      byte = 0x50
	codeByte       byte = 0x51
	codeSmallUint  byte = 0x52
	codeSmallUlong byte = 0x53
	codeSmallInt   byte = 0x54
	codeSmallLong  byte = 0x55
	codeBool       byte = 0x56
	codeUshort     byte = 0x60
	codeShort      byte = 0x61
	codeUint       byte = 0x70
	codeInt        byte = 0x71
	codeFloat      byte = 0x72
	codeChar       byte = 0x73
	codeDecimal32  byte = 0x74
	codeUlong      byte = 0x80
	codeLong       byte = 0x81
	codeDouble     byte = 0x82
	codeTimestamp  byte = 0x83
	codeDecimal64  byte = 0x84
	codeDecimal128 byte = 0x94
	codeUUID       byte = 0x98
	codeVbin8      byte = 0xa0
	codeStr8       byte = 0xa1
	codeSym8       byte = 0xa3
	codeVbin32     byte = 0xb0
	codeStr32      byte = 0xb1
	codeSym32      byte = 0xb3
	codeList8      byte = 0xc0
	codeMap8       byte = 0xc1
	codeList32     byte = 0xd0
	codeMap32      byte = 0xd1
	codeArray8     byte = 0xe0
	codeArray32    byte = 0xf0
)

// MaxDepth is how deeply compound values (lists, maps, arrays, described values) may nest, in
// both directions.
const MaxDepth = 32

// AppendNull appends null.
func AppendNull(dst []byte) []byte { return append(dst, codeNull) }

// AppendBool appends a boolean (true/false constructors).
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, codeTrue)
	}
	return append(dst, codeFalse)
}

// AppendUbyte appends a ubyte.
func AppendUbyte(dst []byte, v uint8) []byte { return append(dst, codeUbyte, v) }

// AppendUshort appends a ushort.
func AppendUshort(dst []byte, v uint16) []byte {
	return binary.BigEndian.AppendUint16(append(dst, codeUshort), v)
}

// AppendUint appends a uint with the smallest constructor (uint0, smalluint, uint).
func AppendUint(dst []byte, v uint32) []byte {
	switch {
	case v == 0:
		return append(dst, codeUint0)
	case v < 256:
		return append(dst, codeSmallUint, byte(v))
	}
	return binary.BigEndian.AppendUint32(append(dst, codeUint), v)
}

// AppendUlong appends a ulong with the smallest constructor (ulong0, smallulong, ulong).
func AppendUlong(dst []byte, v uint64) []byte {
	switch {
	case v == 0:
		return append(dst, codeUlong0)
	case v < 256:
		return append(dst, codeSmallUlong, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, codeUlong), v)
}

// AppendByte appends a (signed) byte.
func AppendByte(dst []byte, v int8) []byte { return append(dst, codeByte, byte(v)) }

// AppendShort appends a short.
func AppendShort(dst []byte, v int16) []byte {
	return binary.BigEndian.AppendUint16(append(dst, codeShort), uint16(v))
}

// AppendInt appends an int with the smallest constructor (smallint, int).
func AppendInt(dst []byte, v int32) []byte {
	if v >= math.MinInt8 && v <= math.MaxInt8 {
		return append(dst, codeSmallInt, byte(int8(v)))
	}
	return binary.BigEndian.AppendUint32(append(dst, codeInt), uint32(v))
}

// AppendLong appends a long with the smallest constructor (smalllong, long).
func AppendLong(dst []byte, v int64) []byte {
	if v >= math.MinInt8 && v <= math.MaxInt8 {
		return append(dst, codeSmallLong, byte(int8(v)))
	}
	return binary.BigEndian.AppendUint64(append(dst, codeLong), uint64(v))
}

// AppendString appends a string (str8 up to 255 bytes, else str32).
func AppendString(dst []byte, v string) []byte { return appendVar(dst, codeStr8, codeStr32, v) }

// AppendSymbol appends a symbol (sym8 up to 255 bytes, else sym32).
func AppendSymbol(dst []byte, v Symbol) []byte {
	return appendVar(dst, codeSym8, codeSym32, string(v))
}

// AppendBinary appends a binary (vbin8 up to 255 bytes, else vbin32).
func AppendBinary(dst []byte, v []byte) []byte {
	if len(v) < 256 {
		return append(append(dst, codeVbin8, byte(len(v))), v...)
	}
	dst = binary.BigEndian.AppendUint32(append(dst, codeVbin32), uint32(len(v)))
	return append(dst, v...)
}

// AppendTimestamp appends a timestamp (milliseconds since the Unix epoch).
func AppendTimestamp(dst []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(append(dst, codeTimestamp), uint64(t.UnixMilli()))
}

// AppendUUID appends a uuid.
func AppendUUID(dst []byte, u UUID) []byte { return append(append(dst, codeUUID), u[:]...) }

// AppendDescriptor appends the prefix of a described value with a numeric descriptor: 0x00 and
// the code as a ulong. The described value itself follows.
func AppendDescriptor(dst []byte, code uint64) []byte {
	return AppendUlong(append(dst, codeDescribed), code)
}

func appendVar(dst []byte, c8, c32 byte, v string) []byte {
	if len(v) < 256 {
		return append(append(dst, c8, byte(len(v))), v...)
	}
	dst = binary.BigEndian.AppendUint32(append(dst, c32), uint32(len(v)))
	return append(dst, v...)
}

// Append encodes v (a Go value of the package doc's table; also int → long, uint → ulong,
// map[string]any and map[Symbol]any → map with sorted keys, []string/[]Symbol → arrays, Described
// and *Described, Map and *Map) with the smallest constructor.
func Append(dst []byte, v any) ([]byte, error) { return appendValue(dst, v, 0) }

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return AppendNull(dst), nil
	case bool:
		return AppendBool(dst, v), nil
	case uint8:
		return AppendUbyte(dst, v), nil
	case uint16:
		return AppendUshort(dst, v), nil
	case uint32:
		return AppendUint(dst, v), nil
	case uint64:
		return AppendUlong(dst, v), nil
	case uint:
		return AppendUlong(dst, uint64(v)), nil
	case int8:
		return AppendByte(dst, v), nil
	case int16:
		return AppendShort(dst, v), nil
	case int32:
		return AppendInt(dst, v), nil
	case int64:
		return AppendLong(dst, v), nil
	case int:
		return AppendLong(dst, int64(v)), nil
	case float32:
		return binary.BigEndian.AppendUint32(append(dst, codeFloat), math.Float32bits(v)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, codeDouble), math.Float64bits(v)), nil
	case Char:
		return binary.BigEndian.AppendUint32(append(dst, codeChar), uint32(v)), nil
	case time.Time:
		return AppendTimestamp(dst, v), nil
	case UUID:
		return AppendUUID(dst, v), nil
	case []byte:
		return AppendBinary(dst, v), nil
	case string:
		return AppendString(dst, v), nil
	case Symbol:
		return AppendSymbol(dst, v), nil
	case Decimal:
		return appendDecimal(dst, v)
	case Described:
		return appendDescribed(dst, &v, depth)
	case *Described:
		if v == nil {
			return AppendNull(dst), nil
		}
		return appendDescribed(dst, v, depth)
	case []any:
		return appendList(dst, v, depth, false)
	case *Map:
		if v == nil {
			return AppendNull(dst), nil
		}
		return appendMap(dst, v.Pairs, depth, false)
	case Map:
		return appendMap(dst, v.Pairs, depth, false)
	case map[string]any:
		return appendMap(dst, sortedPairs(v, func(k string) any { return k }), depth, false)
	case map[Symbol]any:
		return appendMap(dst, sortedPairs(v, func(k Symbol) any { return k }), depth, false)
	case Array:
		return appendArray(dst, v, depth, false, codeSym8)
	case []string:
		return appendArray(dst, toArray(v), depth, false, codeStr8)
	case []Symbol:
		return appendArray(dst, toArray(v), depth, false, codeSym8)
	}
	return dst, fmt.Errorf("amqp codec: cannot encode a Go %T; use one of the types in the codec package doc", v)
}

func toArray[T any](s []T) Array {
	a := make(Array, len(s))
	for i, e := range s {
		a[i] = e
	}
	return a
}

func sortedPairs[K ~string](m map[K]any, key func(K) any) []Pair {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	pairs := make([]Pair, len(keys))
	for i, k := range keys {
		pairs[i] = Pair{Key: key(k), Value: m[k]}
	}
	return pairs
}

func appendDecimal(dst []byte, d Decimal) ([]byte, error) {
	want := decimalWidth(d.Code)
	if want == 0 || len(d.Bytes) != want {
		return dst, fmt.Errorf("amqp codec: decimal with constructor 0x%02x and %d bytes is not a decimal32/64/128", d.Code, len(d.Bytes))
	}
	return append(append(dst, d.Code), d.Bytes...), nil
}

func decimalWidth(code byte) int {
	switch code {
	case codeDecimal32:
		return 4
	case codeDecimal64:
		return 8
	case codeDecimal128:
		return 16
	}
	return 0
}

var errDepth = fmt.Errorf("amqp codec: value nests deeper than %d levels", MaxDepth)

func appendDescribed(dst []byte, d *Described, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return dst, errDepth
	}
	dst, err := appendValue(append(dst, codeDescribed), d.Descriptor, depth+1)
	if err != nil {
		return dst, err
	}
	return appendValue(dst, d.Value, depth+1)
}

// compound reserves a 32-bit header (code, size, count) at the end of dst and returns its
// position; finishCompound fills it in, shrinking it to the 8-bit form when it fits.
func compound(dst []byte) ([]byte, int) {
	return append(dst, 0, 0, 0, 0, 0, 0, 0, 0, 0), len(dst)
}

func finishCompound(dst []byte, at int, c8, c32 byte, count int, force32 bool) []byte {
	body := len(dst) - at - 9
	if !force32 && body+1 <= math.MaxUint8 && count <= math.MaxUint8 {
		dst[at], dst[at+1], dst[at+2] = c8, byte(body+1), byte(count)
		copy(dst[at+3:], dst[at+9:])
		return dst[:len(dst)-6]
	}
	dst[at] = c32
	binary.BigEndian.PutUint32(dst[at+1:], uint32(body+4))
	binary.BigEndian.PutUint32(dst[at+5:], uint32(count))
	return dst
}

func appendList(dst []byte, l []any, depth int, force32 bool) ([]byte, error) {
	if depth >= MaxDepth {
		return dst, errDepth
	}
	if len(l) == 0 && !force32 {
		return append(dst, codeList0), nil
	}
	dst, at := compound(dst)
	for _, e := range l {
		var err error
		if dst, err = appendValue(dst, e, depth+1); err != nil {
			return dst, err
		}
	}
	return finishCompound(dst, at, codeList8, codeList32, len(l), force32), nil
}

func appendMap(dst []byte, pairs []Pair, depth int, force32 bool) ([]byte, error) {
	if depth >= MaxDepth {
		return dst, errDepth
	}
	dst, at := compound(dst)
	for _, p := range pairs {
		var err error
		if dst, err = appendValue(dst, p.Key, depth+1); err != nil {
			return dst, err
		}
		if dst, err = appendValue(dst, p.Value, depth+1); err != nil {
			return dst, err
		}
	}
	return finishCompound(dst, at, codeMap8, codeMap32, 2*len(pairs), force32), nil
}
