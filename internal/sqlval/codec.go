package sqlval

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The binary form of a Value, for checkpoints of window and aggregate state. Unlike AppendKey it
// keeps everything that tells two values apart, not only what Equal looks at: the kind (bigint 2
// stays bigint, float 2.0 stays float), the exact float bits (NaN payloads, -0), record field
// names and order. Unlike AppendJSON it is exact for NaN and ±Inf and needs no parsing.
//
// One tag byte, the Kind, then:
//
//	null      nothing
//	bit       one byte, 0 or 1
//	bigint    zigzag varint
//	float     8 bytes, the IEEE 754 bits, little endian
//	datetime  zigzag varint of the ticks
//	string    uvarint length, bytes
//	record    uvarint field count, then per field: uvarint name length, name bytes, value
//	array     uvarint element count, then the elements
//
// The encoding is canonical: DecodeBinary rejects anything AppendBinary would not write (an
// overlong varint, a bit byte other than 0 or 1), so a value that decodes re-encodes to exactly
// the bytes it came from. The format is stored in checkpoints: change it only with a version
// bump in the checkpoint that holds it.

// ErrCorrupt is wrapped by every DecodeBinary failure: the bytes are not a value this package
// wrote (a truncated or damaged checkpoint, or one from an incompatible version).
var ErrCorrupt = errors.New("corrupt binary value")

// MaxBinaryDepth bounds the nesting of records and arrays that DecodeBinary accepts, so that
// hostile bytes cannot exhaust the stack. It is twice ParseJSON's limit: every parsed event, and
// the arrays and records the engine builds around events (Collect, TopOne, nested steps), still
// decode. AppendBinary encodes deeper values, which DecodeBinary then rejects.
const MaxBinaryDepth = 2 * maxDepth

// AppendBinary appends the binary form of v to dst (see the format above) and returns the
// extended slice.
func (v Value) AppendBinary(dst []byte) []byte {
	dst = append(dst, byte(v.kind))
	switch v.kind {
	case KindBit:
		return append(dst, byte(v.n))
	case KindBigint, KindDatetime:
		return binary.AppendVarint(dst, int64(v.n))
	case KindFloat:
		return binary.LittleEndian.AppendUint64(dst, v.n)
	case KindString:
		dst = binary.AppendUvarint(dst, uint64(len(v.s)))
		return append(dst, v.s...)
	case KindRecord:
		dst = binary.AppendUvarint(dst, uint64(len(v.c.fields)))
		for _, f := range v.c.fields {
			dst = binary.AppendUvarint(dst, uint64(len(f.Name)))
			dst = append(dst, f.Name...)
			dst = f.Value.AppendBinary(dst)
		}
		return dst
	case KindArray:
		dst = binary.AppendUvarint(dst, uint64(len(v.c.elems)))
		for _, e := range v.c.elems {
			dst = e.AppendBinary(dst)
		}
		return dst
	}
	return dst
}

// DecodeBinary decodes one value written by AppendBinary from the front of b and returns it with
// the rest of b. Strings are copied: the value does not share memory with b. It never panics on
// bad input; allocations are bounded by the input length (a count or length larger than the
// bytes left is an error before anything is allocated). Errors wrap ErrCorrupt.
func DecodeBinary(b []byte) (Value, []byte, error) {
	d := binDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return Null, b, err
	}
	return v, d.b[d.pos:], nil
}

type binDecoder struct {
	b   []byte
	pos int
}

type binError struct {
	off int
	msg string
}

func (e *binError) Error() string {
	return fmt.Sprintf("sqlval: checkpoint value: %s (at byte %d)", e.msg, e.off)
}

func (e *binError) Unwrap() error { return ErrCorrupt }

func (d *binDecoder) errorf(format string, args ...any) error {
	return &binError{off: d.pos, msg: fmt.Sprintf(format, args...)}
}

func (d *binDecoder) remaining() int { return len(d.b) - d.pos }

func (d *binDecoder) value(depth int) (Value, error) {
	if d.remaining() < 1 {
		return Null, d.errorf("value missing: input ends")
	}
	kind := Kind(d.b[d.pos])
	d.pos++
	switch kind {
	case KindNull:
		return Null, nil
	case KindBit:
		if d.remaining() < 1 {
			return Null, d.errorf("bit value missing: input ends")
		}
		bit := d.b[d.pos]
		if bit > 1 {
			return Null, d.errorf("bit value %d is neither 0 nor 1", bit)
		}
		d.pos++
		return Value{kind: KindBit, n: uint64(bit)}, nil
	case KindBigint, KindDatetime:
		u, err := d.uvarint(kind.String())
		if err != nil {
			return Null, err
		}
		// Zigzag, as binary.AppendVarint writes it.
		return Value{kind: kind, n: uint64(int64(u>>1) ^ -int64(u&1))}, nil
	case KindFloat:
		if d.remaining() < 8 {
			return Null, d.errorf("float needs 8 bytes, %d remain", d.remaining())
		}
		bits := binary.LittleEndian.Uint64(d.b[d.pos:])
		d.pos += 8
		// Built from the bits directly: a NaN payload survives unchanged.
		return Value{kind: KindFloat, n: bits}, nil
	case KindString:
		s, err := d.str("string")
		if err != nil {
			return Null, err
		}
		return String(s), nil
	case KindRecord, KindArray:
		if depth >= MaxBinaryDepth {
			return Null, d.errorf("nesting deeper than %d records and arrays", MaxBinaryDepth)
		}
		if kind == KindRecord {
			return d.record(depth)
		}
		return d.array(depth)
	}
	d.pos--
	return Null, d.errorf("unknown kind tag %d", byte(kind))
}

func (d *binDecoder) record(depth int) (Value, error) {
	n, err := d.count("record field", 2) // a field takes at least a name length and a tag
	if err != nil {
		return Null, err
	}
	fields := make([]Field, n)
	for i := range fields {
		if fields[i].Name, err = d.str("field name"); err != nil {
			return Null, err
		}
		if fields[i].Value, err = d.value(depth + 1); err != nil {
			return Null, err
		}
	}
	return Record(fields), nil
}

func (d *binDecoder) array(depth int) (Value, error) {
	n, err := d.count("array element", 1) // an element takes at least its tag
	if err != nil {
		return Null, err
	}
	elems := make([]Value, n)
	for i := range elems {
		if elems[i], err = d.value(depth + 1); err != nil {
			return Null, err
		}
	}
	return Array(elems), nil
}

// count reads a count of items that take at least minSize bytes each, and rejects one that the
// rest of the input cannot hold, before anything is allocated for it.
func (d *binDecoder) count(what string, minSize int) (int, error) {
	start := d.pos
	u, err := d.uvarint(what + " count")
	if err != nil {
		return 0, err
	}
	if u > uint64(d.remaining()/minSize) {
		rest := d.remaining()
		d.pos = start
		return 0, d.errorf("%s count %d exceeds remaining %d bytes", what, u, rest)
	}
	return int(u), nil
}

// str reads a uvarint length and that many bytes, copied into a new string.
func (d *binDecoder) str(what string) (string, error) {
	start := d.pos
	u, err := d.uvarint(what + " length")
	if err != nil {
		return "", err
	}
	if u > uint64(d.remaining()) {
		rest := d.remaining()
		d.pos = start
		return "", d.errorf("%s length %d exceeds remaining %d bytes", what, u, rest)
	}
	s := string(d.b[d.pos : d.pos+int(u)])
	d.pos += int(u)
	return s, nil
}

// uvarint reads a canonical (shortest form) uvarint.
func (d *binDecoder) uvarint(what string) (uint64, error) {
	u, n, err := CanonicalUvarint(d.b[d.pos:])
	if errors.Is(err, ErrVarintTruncated) {
		return 0, d.errorf("%s: input ends inside a varint", what)
	} else if err != nil {
		return 0, d.errorf("%s: %v", what, err)
	}
	d.pos += n
	return u, nil
}

// ErrVarintTruncated is CanonicalUvarint's error when the bytes end inside the varint.
var ErrVarintTruncated = errors.New("ends inside a varint")

// CanonicalUvarint reads a uvarint in its shortest form, as checkpoint decoders require so that
// what they accept re-encodes to the same bytes. n is the number of bytes read.
func CanonicalUvarint(b []byte) (u uint64, n int, err error) {
	u, n = binary.Uvarint(b)
	switch {
	case n == 0:
		return 0, 0, ErrVarintTruncated
	case n < 0:
		return 0, 0, errors.New("varint overflows 64 bits")
	case n > 1 && b[n-1] == 0:
		return 0, 0, errors.New("overlong varint")
	}
	return u, n, nil
}
