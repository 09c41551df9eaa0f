package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrShort is wrapped by decode errors caused by input that ends inside a value.
var ErrShort = errors.New("amqp codec: value truncated")

// Decode decodes one value from the start of b and returns it with the number of bytes it
// used. Binary values alias b. Compound values nest at most MaxDepth levels; element counts are
// checked against the bytes left before anything is allocated, so memory stays proportional to
// len(b). It never panics on hostile input.
func Decode(b []byte) (v any, n int, err error) { return decodeValue(b, 0) }

// ListFields decodes a described list (a performative, a section, a delivery state): the
// descriptor (a ulong code; a Symbol descriptor is returned as code 0 with name set), the list's
// fields (nil for list0) and the bytes used.
func ListFields(b []byte) (code uint64, name Symbol, fields []any, n int, err error) {
	if len(b) == 0 || b[0] != codeDescribed {
		if len(b) == 0 {
			return 0, "", nil, 0, fmt.Errorf("%w: expected a described list", ErrShort)
		}
		return 0, "", nil, 0, fmt.Errorf("amqp codec: expected a described list (0x00), got constructor 0x%02x", b[0])
	}
	d, n1, err := decodeValue(b[1:], 1)
	if err != nil {
		return 0, "", nil, 0, err
	}
	switch d := d.(type) {
	case uint64:
		code = d
	case Symbol:
		name = d
	default:
		return 0, "", nil, 0, fmt.Errorf("amqp codec: descriptor is a %T; expected a ulong code or a symbol", d)
	}
	v, n2, err := decodeValue(b[1+n1:], 1)
	if err != nil {
		return 0, "", nil, 0, err
	}
	switch v := v.(type) {
	case []any:
		fields = v
	case nil:
	default:
		return 0, "", nil, 0, fmt.Errorf("amqp codec: described value 0x%x is a %T; expected a list", code, v)
	}
	return code, name, fields, 1 + n1 + n2, nil
}

func short(what string, need, have int) error {
	return fmt.Errorf("%w: %s needs %d bytes, %d left", ErrShort, what, need, have)
}

func decodeValue(b []byte, depth int) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, fmt.Errorf("%w: no constructor", ErrShort)
	}
	if b[0] != codeDescribed {
		v, n, err := decodeBody(b[0], b[1:], depth)
		return v, n + 1, err
	}
	if depth >= MaxDepth {
		return nil, 0, fmt.Errorf("amqp codec: value nests deeper than %d levels", MaxDepth)
	}
	d, n1, err := decodeValue(b[1:], depth+1)
	if err != nil {
		return nil, 0, err
	}
	v, n2, err := decodeValue(b[1+n1:], depth+1)
	if err != nil {
		return nil, 0, err
	}
	return Described{Descriptor: d, Value: v}, 1 + n1 + n2, nil
}

// fixedWidth is the body size of fixed-width constructors, -1 for variable ones.
func fixedWidth(code byte) int {
	switch code >> 4 {
	case 0x4:
		return 0
	case 0x5:
		return 1
	case 0x6:
		return 2
	case 0x7:
		return 4
	case 0x8:
		return 8
	case 0x9:
		return 16
	}
	return -1
}

func knownFixed(code byte) bool {
	switch code {
	case codeNull, codeTrue, codeFalse, codeUint0, codeUlong0, codeList0, codeUbyte, codeByte,
		codeSmallUint, codeSmallUlong, codeSmallInt, codeSmallLong, codeBool, codeUshort, codeShort,
		codeUint, codeInt, codeFloat, codeChar, codeDecimal32, codeUlong, codeLong, codeDouble,
		codeTimestamp, codeDecimal64, codeDecimal128, codeUUID:
		return true
	}
	return false
}

// decodeBody decodes the body of a value whose constructor is code; b starts after it.
func decodeBody(code byte, b []byte, depth int) (any, int, error) {
	w := fixedWidth(code)
	if w < 0 {
		return decodeVariable(code, b, depth)
	}
	if !knownFixed(code) {
		return nil, 0, fmt.Errorf("amqp codec: unknown constructor 0x%02x", code)
	}
	if len(b) < w {
		return nil, 0, short(fmt.Sprintf("constructor 0x%02x", code), w, len(b))
	}
	be := binary.BigEndian
	var v any
	switch code {
	case codeNull:
		v = nil
	case codeTrue:
		v = true
	case codeFalse:
		v = false
	case codeUint0:
		v = uint32(0)
	case codeUlong0:
		v = uint64(0)
	case codeList0:
		v = []any{}
	case codeBool:
		if b[0] > 1 {
			return nil, 0, fmt.Errorf("amqp codec: boolean byte is 0x%02x; expected 0x00 or 0x01", b[0])
		}
		v = b[0] == 1
	case codeUbyte:
		v = b[0]
	case codeByte:
		v = int8(b[0])
	case codeSmallUint:
		v = uint32(b[0])
	case codeSmallUlong:
		v = uint64(b[0])
	case codeSmallInt:
		v = int32(int8(b[0]))
	case codeSmallLong:
		v = int64(int8(b[0]))
	case codeUshort:
		v = be.Uint16(b)
	case codeShort:
		v = int16(be.Uint16(b))
	case codeUint:
		v = be.Uint32(b)
	case codeInt:
		v = int32(be.Uint32(b))
	case codeFloat:
		v = math.Float32frombits(be.Uint32(b))
	case codeChar:
		v = Char(be.Uint32(b))
	case codeUlong:
		v = be.Uint64(b)
	case codeLong:
		v = int64(be.Uint64(b))
	case codeDouble:
		v = math.Float64frombits(be.Uint64(b))
	case codeTimestamp:
		v = time.UnixMilli(int64(be.Uint64(b))).UTC()
	case codeUUID:
		var u UUID
		copy(u[:], b)
		v = u
	case codeDecimal32, codeDecimal64, codeDecimal128:
		v = Decimal{Code: code, Bytes: b[:w:w]}
	default:
		return nil, 0, fmt.Errorf("amqp codec: unknown constructor 0x%02x", code)
	}
	return v, w, nil
}

func decodeVariable(code byte, b []byte, depth int) (any, int, error) {
	switch code {
	case codeVbin8, codeStr8, codeSym8, codeVbin32, codeStr32, codeSym32:
		return decodeBytes(code, b)
	case codeList8, codeList32, codeMap8, codeMap32, codeArray8, codeArray32:
		if depth >= MaxDepth {
			return nil, 0, fmt.Errorf("amqp codec: value nests deeper than %d levels", MaxDepth)
		}
		body, count, n, err := compoundHeader(code, b)
		if err != nil {
			return nil, 0, err
		}
		switch code {
		case codeList8, codeList32:
			v, err := decodeList(body, count, depth)
			return v, n, err
		case codeMap8, codeMap32:
			v, err := decodeMap(body, count, depth)
			return v, n, err
		}
		v, err := decodeArray(body, count, depth)
		return v, n, err
	}
	return nil, 0, fmt.Errorf("amqp codec: unknown constructor 0x%02x", code)
}

func decodeBytes(code byte, b []byte) (any, int, error) {
	var l uint64
	hdr := 1
	if code&0xf0 == 0xa0 {
		if len(b) < 1 {
			return nil, 0, short("a length", 1, len(b))
		}
		l = uint64(b[0])
	} else {
		if len(b) < 4 {
			return nil, 0, short("a length", 4, len(b))
		}
		l, hdr = uint64(binary.BigEndian.Uint32(b)), 4
	}
	if l > uint64(len(b)-hdr) {
		return nil, 0, short(fmt.Sprintf("constructor 0x%02x", code), int(l), len(b)-hdr)
	}
	end := hdr + int(l)
	s := b[hdr:end:end]
	switch code {
	case codeVbin8, codeVbin32:
		return s, end, nil
	case codeStr8, codeStr32:
		return string(s), end, nil
	}
	return Symbol(s), end, nil
}

// compoundHeader reads size and count of a list, map or array and returns the bytes the size
// covers after the count, the count, and the bytes used by the whole value after its
// constructor.
func compoundHeader(code byte, b []byte) (body []byte, count uint64, n int, err error) {
	w := 1
	if code&0xf0 != 0xc0 && code&0xf0 != 0xe0 {
		w = 4
	}
	if len(b) < 2*w {
		return nil, 0, 0, short(fmt.Sprintf("the size and count of constructor 0x%02x", code), 2*w, len(b))
	}
	var size uint64
	if w == 1 {
		size, count = uint64(b[0]), uint64(b[1])
	} else {
		size, count = uint64(binary.BigEndian.Uint32(b)), uint64(binary.BigEndian.Uint32(b[4:]))
	}
	if size < uint64(w) {
		return nil, 0, 0, fmt.Errorf("amqp codec: constructor 0x%02x has size %d, smaller than its count field", code, size)
	}
	if size > uint64(len(b)-w) {
		return nil, 0, 0, short(fmt.Sprintf("constructor 0x%02x", code), int(size), len(b)-w)
	}
	end := w + int(size)
	return b[2*w : end : end], count, end, nil
}

func decodeList(body []byte, count uint64, depth int) ([]any, error) {
	if count > uint64(len(body)) {
		return nil, fmt.Errorf("amqp codec: list claims %d elements in %d bytes", count, len(body))
	}
	l := make([]any, 0, count)
	off := 0
	for i := uint64(0); i < count; i++ {
		v, n, err := decodeValue(body[off:], depth+1)
		if err != nil {
			return nil, fmt.Errorf("list element %d: %w", i, err)
		}
		l = append(l, v)
		off += n
	}
	if off != len(body) {
		return nil, fmt.Errorf("amqp codec: list size says %d bytes but its %d elements use %d", len(body), count, off)
	}
	return l, nil
}

func decodeMap(body []byte, count uint64, depth int) (*Map, error) {
	if count%2 != 0 {
		return nil, fmt.Errorf("amqp codec: map has an odd element count %d", count)
	}
	if count > uint64(len(body)) {
		return nil, fmt.Errorf("amqp codec: map claims %d elements in %d bytes", count, len(body))
	}
	m := &Map{Pairs: make([]Pair, 0, count/2)}
	off := 0
	for i := uint64(0); i < count/2; i++ {
		k, n, err := decodeValue(body[off:], depth+1)
		if err != nil {
			return nil, fmt.Errorf("map key %d: %w", i, err)
		}
		off += n
		v, n, err := decodeValue(body[off:], depth+1)
		if err != nil {
			return nil, fmt.Errorf("map value %d (key %v): %w", i, k, err)
		}
		off += n
		m.Pairs = append(m.Pairs, Pair{Key: k, Value: v})
	}
	if off != len(body) {
		return nil, fmt.Errorf("amqp codec: map size says %d bytes but its %d elements use %d", len(body), count, off)
	}
	return m, nil
}

// maxZeroWidth bounds arrays of zero-width elements (null, true, uint0 …), whose count the
// bytes cannot bound.
const maxZeroWidth = 256

func decodeArray(body []byte, count uint64, depth int) (Array, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: array has no element constructor", ErrShort)
	}
	off := 0
	var desc any
	described := body[0] == codeDescribed
	if described {
		d, n, err := decodeValue(body[1:], depth+1)
		if err != nil {
			return nil, fmt.Errorf("array descriptor: %w", err)
		}
		desc, off = d, 1+n
	}
	if off >= len(body) {
		return nil, fmt.Errorf("%w: array has no element constructor", ErrShort)
	}
	code := body[off]
	off++
	if code == codeDescribed {
		return nil, fmt.Errorf("amqp codec: array element constructor is described twice")
	}
	rest := uint64(len(body) - off)
	if count > rest && !(fixedWidth(code) == 0 && count <= maxZeroWidth) {
		return nil, fmt.Errorf("amqp codec: array claims %d elements of constructor 0x%02x in %d bytes", count, code, rest)
	}
	a := make(Array, 0, count)
	for i := uint64(0); i < count; i++ {
		v, n, err := decodeBody(code, body[off:], depth+1)
		if err != nil {
			return nil, fmt.Errorf("array element %d: %w", i, err)
		}
		off += n
		if described {
			v = Described{Descriptor: desc, Value: v}
		}
		a = append(a, v)
	}
	if off != len(body) {
		return nil, fmt.Errorf("amqp codec: array size says %d bytes but its %d elements use %d", len(body), count, off)
	}
	return a, nil
}
