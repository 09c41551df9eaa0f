package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"time"
)

// appendArray encodes an array: one element constructor for all elements, chosen from the
// first element's Go type (fixed-width constructors; str8/vbin8/sym8 when every element fits).
// Every element must have the same Go type; described elements the same descriptor. An empty
// Array is written as an empty array of symbols (the common case: capabilities), an empty
// []string as one of strings.
func appendArray(dst []byte, a Array, depth int, force32 bool, empty byte) ([]byte, error) {
	if depth >= MaxDepth {
		return dst, errDepth
	}
	code, desc, err := arrayConstructor(a)
	if err != nil {
		return dst, err
	}
	if len(a) == 0 {
		code = empty
	}
	dst, at := compound(dst)
	if desc != nil {
		if dst, err = appendValue(append(dst, codeDescribed), desc, depth+1); err != nil {
			return dst, err
		}
	}
	dst = append(dst, code)
	for _, e := range a {
		if desc != nil {
			e = describedValue(e)
		}
		if dst, err = appendBody(dst, code, e, depth+1); err != nil {
			return dst, err
		}
	}
	return finishCompound(dst, at, codeArray8, codeArray32, len(a), force32), nil
}

func describedValue(e any) any {
	switch d := e.(type) {
	case Described:
		return d.Value
	case *Described:
		return d.Value
	}
	return nil
}

// arrayConstructor returns the element constructor of a and, for arrays of described values,
// their common descriptor.
func arrayConstructor(a Array) (byte, any, error) {
	if len(a) == 0 {
		return codeSym8, nil, nil
	}
	t := reflect.TypeOf(a[0])
	for i, e := range a {
		if reflect.TypeOf(e) != t {
			return 0, nil, fmt.Errorf("amqp codec: array element %d is a %T but element 0 is a %T; array elements must have one type (use []any for a list)", i, e, a[0])
		}
	}
	var desc any
	switch a[0].(type) {
	case Described, *Described:
		inner := make(Array, len(a))
		for i, e := range a {
			var d any
			switch e := e.(type) {
			case Described:
				d, inner[i] = e.Descriptor, e.Value
			case *Described:
				if e == nil {
					return 0, nil, fmt.Errorf("amqp codec: array element %d is a nil *Described", i)
				}
				d, inner[i] = e.Descriptor, e.Value
			}
			switch d.(type) {
			case uint64, Symbol:
			default:
				return 0, nil, fmt.Errorf("amqp codec: a described array element needs a uint64 or Symbol descriptor, not %T", d)
			}
			if i == 0 {
				desc = d
			} else if d != desc {
				return 0, nil, fmt.Errorf("amqp codec: array element %d has descriptor %v but element 0 has %v", i, d, desc)
			}
		}
		code, nested, err := arrayConstructor(inner)
		if err == nil && nested != nil {
			err = fmt.Errorf("amqp codec: an array of described values cannot describe them twice")
		}
		return code, desc, err
	}
	code, err := elementCode(a)
	return code, desc, err
}

func elementCode(a Array) (byte, error) {
	switch a[0].(type) {
	case nil:
		return codeNull, nil
	case bool:
		return codeBool, nil
	case uint8:
		return codeUbyte, nil
	case uint16:
		return codeUshort, nil
	case uint32:
		return codeUint, nil
	case uint64, uint:
		return codeUlong, nil
	case int8:
		return codeByte, nil
	case int16:
		return codeShort, nil
	case int32:
		return codeInt, nil
	case int64, int:
		return codeLong, nil
	case float32:
		return codeFloat, nil
	case float64:
		return codeDouble, nil
	case Char:
		return codeChar, nil
	case time.Time:
		return codeTimestamp, nil
	case UUID:
		return codeUUID, nil
	case Decimal:
		code := a[0].(Decimal).Code
		for i, e := range a {
			if e.(Decimal).Code != code {
				return 0, fmt.Errorf("amqp codec: array element %d is a decimal of another width than element 0", i)
			}
		}
		if decimalWidth(code) == 0 {
			return 0, fmt.Errorf("amqp codec: 0x%02x is not a decimal constructor", code)
		}
		return code, nil
	case []byte, string, Symbol:
		short := true
		for _, e := range a {
			if reflect.ValueOf(e).Len() > math.MaxUint8 {
				short = false
			}
		}
		return varCode(a[0], short), nil
	case []any:
		return codeList32, nil
	case *Map, Map, map[string]any, map[Symbol]any:
		return codeMap32, nil
	case Array, []string, []Symbol:
		return codeArray32, nil
	}
	return 0, fmt.Errorf("amqp codec: cannot encode an array of Go %T", a[0])
}

func varCode(v any, short bool) byte {
	codes := [3]byte{codeVbin32, codeStr32, codeSym32}
	if short {
		codes = [3]byte{codeVbin8, codeStr8, codeSym8}
	}
	switch v.(type) {
	case []byte:
		return codes[0]
	case string:
		return codes[1]
	}
	return codes[2]
}

// appendBody appends v's encoding for constructor code without the constructor byte.
func appendBody(dst []byte, code byte, v any, depth int) ([]byte, error) {
	be := binary.BigEndian
	ok := true
	switch code {
	case codeNull:
	case codeBool:
		var b bool
		b, ok = v.(bool)
		if b {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	case codeUbyte:
		var x uint8
		x, ok = v.(uint8)
		dst = append(dst, x)
	case codeUshort:
		var x uint16
		x, ok = v.(uint16)
		dst = be.AppendUint16(dst, x)
	case codeUint:
		var x uint32
		x, ok = v.(uint32)
		dst = be.AppendUint32(dst, x)
	case codeUlong:
		switch x := v.(type) {
		case uint64:
			dst = be.AppendUint64(dst, x)
		case uint:
			dst = be.AppendUint64(dst, uint64(x))
		default:
			ok = false
		}
	case codeByte:
		var x int8
		x, ok = v.(int8)
		dst = append(dst, byte(x))
	case codeShort:
		var x int16
		x, ok = v.(int16)
		dst = be.AppendUint16(dst, uint16(x))
	case codeInt:
		var x int32
		x, ok = v.(int32)
		dst = be.AppendUint32(dst, uint32(x))
	case codeLong:
		switch x := v.(type) {
		case int64:
			dst = be.AppendUint64(dst, uint64(x))
		case int:
			dst = be.AppendUint64(dst, uint64(x))
		default:
			ok = false
		}
	case codeFloat:
		var x float32
		x, ok = v.(float32)
		dst = be.AppendUint32(dst, math.Float32bits(x))
	case codeDouble:
		var x float64
		x, ok = v.(float64)
		dst = be.AppendUint64(dst, math.Float64bits(x))
	case codeChar:
		var x Char
		x, ok = v.(Char)
		dst = be.AppendUint32(dst, uint32(x))
	case codeTimestamp:
		var x time.Time
		x, ok = v.(time.Time)
		dst = be.AppendUint64(dst, uint64(x.UnixMilli()))
	case codeUUID:
		var x UUID
		x, ok = v.(UUID)
		dst = append(dst, x[:]...)
	case codeDecimal32, codeDecimal64, codeDecimal128:
		var x Decimal
		x, ok = v.(Decimal)
		dst = append(dst, x.Bytes...)
	case codeVbin8, codeStr8, codeSym8, codeVbin32, codeStr32, codeSym32:
		return appendVarBody(dst, code, v)
	case codeList32, codeMap32, codeArray32:
		return appendCompoundBody(dst, code, v, depth)
	default:
		ok = false
	}
	if !ok {
		return dst, fmt.Errorf("amqp codec: cannot encode a Go %T with constructor 0x%02x", v, code)
	}
	return dst, nil
}

func appendVarBody(dst []byte, code byte, v any) ([]byte, error) {
	var s []byte
	switch x := v.(type) {
	case []byte:
		s = x
	case string:
		s = []byte(x)
	case Symbol:
		s = []byte(x)
	default:
		return dst, fmt.Errorf("amqp codec: cannot encode a Go %T with constructor 0x%02x", v, code)
	}
	if code&0xf0 == 0xa0 {
		dst = append(dst, byte(len(s)))
	} else {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	}
	return append(dst, s...), nil
}

// appendCompoundBody writes a list32/map32/array32 body: the whole value in its 32-bit form,
// then the constructor byte removed.
func appendCompoundBody(dst []byte, code byte, v any, depth int) ([]byte, error) {
	start := len(dst)
	var err error
	switch x := v.(type) {
	case []any:
		dst, err = appendList(dst, x, depth, true)
	case *Map:
		if x == nil {
			x = &Map{}
		}
		dst, err = appendMap(dst, x.Pairs, depth, true)
	case Map:
		dst, err = appendMap(dst, x.Pairs, depth, true)
	case map[string]any:
		dst, err = appendMap(dst, sortedPairs(x, func(k string) any { return k }), depth, true)
	case map[Symbol]any:
		dst, err = appendMap(dst, sortedPairs(x, func(k Symbol) any { return k }), depth, true)
	case Array:
		dst, err = appendArray(dst, x, depth, true, codeSym8)
	case []string:
		dst, err = appendArray(dst, toArray(x), depth, true, codeStr8)
	case []Symbol:
		dst, err = appendArray(dst, toArray(x), depth, true, codeSym8)
	default:
		return dst, fmt.Errorf("amqp codec: cannot encode a Go %T with constructor 0x%02x", v, code)
	}
	if err != nil {
		return dst, err
	}
	if dst[start] != code {
		return dst, fmt.Errorf("amqp codec: array element encoded as 0x%02x, not 0x%02x", dst[start], code)
	}
	copy(dst[start:], dst[start+1:])
	return dst[:len(dst)-1], nil
}
