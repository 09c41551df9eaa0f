package agg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// The state layout: a tag byte (one per function, see the tag constants), then the payload of
// the accumulator's type, built from these pieces:
//
//	count     uvarint
//	int64     zigzag varint
//	float64   8 bytes, the IEEE 754 bits, little endian (exact: NaN payloads, -0)
//	flag      one byte, 0 or 1
//	value     sqlval's binary form (Value.AppendBinary)
//
// Decoding is canonical (no overlong varints, flags 0 or 1, no trailing bytes, no duplicate
// DISTINCT values), so a state that restores re-encodes to the same bytes.

func appendCount(dst []byte, n int64) []byte { return binary.AppendUvarint(dst, uint64(n)) }

func appendInt(dst []byte, i int64) []byte { return binary.AppendVarint(dst, i) }

func appendFloat(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendFlag(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// stateReader decodes a state; every error wraps sqlval.ErrCorrupt and names the aggregate and
// the byte offset.
type stateReader struct {
	b    []byte
	pos  int
	what string // the aggregate, for messages
}

func (r *stateReader) errorf(format string, args ...any) error {
	return fmt.Errorf("agg: %s state: %s (at byte %d): %w", r.what, fmt.Sprintf(format, args...), r.pos, sqlval.ErrCorrupt)
}

func (r *stateReader) remaining() int { return len(r.b) - r.pos }

func (r *stateReader) end() error {
	if r.remaining() != 0 {
		return r.errorf("%d unexpected bytes after the state", r.remaining())
	}
	return nil
}

func (r *stateReader) byte(what string) (byte, error) {
	if r.remaining() < 1 {
		return 0, r.errorf("%s missing: state ends", what)
	}
	b := r.b[r.pos]
	r.pos++
	return b, nil
}

func (r *stateReader) flag(what string) (bool, error) {
	b, err := r.byte(what)
	if err != nil {
		return false, err
	}
	if b > 1 {
		r.pos--
		return false, r.errorf("%s flag %d is neither 0 nor 1", what, b)
	}
	return b == 1, nil
}

func (r *stateReader) uvarint(what string) (uint64, error) {
	u, n, err := sqlval.CanonicalUvarint(r.b[r.pos:])
	if errors.Is(err, sqlval.ErrVarintTruncated) {
		return 0, r.errorf("%s: state ends inside a varint", what)
	} else if err != nil {
		return 0, r.errorf("%s: %v", what, err)
	}
	r.pos += n
	return u, nil
}

// count reads a non-negative count that fits int64.
func (r *stateReader) count(what string) (int64, error) {
	start := r.pos
	u, err := r.uvarint(what)
	if err != nil {
		return 0, err
	}
	if u > math.MaxInt64 {
		r.pos = start
		return 0, r.errorf("%s %d is out of range", what, u)
	}
	return int64(u), nil
}

// items reads the count of a list whose items take at least one byte each, refusing one the
// rest of the state cannot hold before anything is allocated for it.
func (r *stateReader) items(what string) (int, error) {
	start := r.pos
	u, err := r.uvarint(what)
	if err != nil {
		return 0, err
	}
	if u > uint64(r.remaining()) {
		rest := r.remaining()
		r.pos = start
		return 0, r.errorf("%s %d exceeds remaining %d bytes", what, u, rest)
	}
	return int(u), nil
}

func (r *stateReader) int64(what string) (int64, error) {
	u, err := r.uvarint(what)
	if err != nil {
		return 0, err
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func (r *stateReader) float64(what string) (float64, error) {
	if r.remaining() < 8 {
		return 0, r.errorf("%s needs 8 bytes, %d remain", what, r.remaining())
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.pos:]))
	r.pos += 8
	return f, nil
}

func (r *stateReader) value(what string) (sqlval.Value, error) {
	v, rest, err := sqlval.DecodeBinary(r.b[r.pos:])
	if err != nil {
		return sqlval.Null, fmt.Errorf("agg: %s state: %s (at byte %d): %w", r.what, what, r.pos, err)
	}
	r.pos = len(r.b) - len(rest)
	return v, nil
}
