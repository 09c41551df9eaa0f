// Package batch owns the byte layout of Kafka v2 (magic 2) record batches: parsing and
// validating batch headers, splitting record sets into batches, the in-place header rewrites
// the produce path needs (base offset, LogAppendTime, leader epoch), decoding records (with
// decompression) and building new batches.
//
// It is the only package that knows the layout. It is pure: no I/O, no clock, no state, and it
// must not import any other Tandem package except internal/errcode. Records are never
// re-encoded on the produce path; the broker stores batches verbatim.
package batch

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// HeaderSize is the size of a v2 record batch header, from BaseOffset to NumRecords.
const HeaderSize = 61

// Byte positions of the header fields.
const (
	offBaseOffset   = 0
	offLength       = 8
	offLeaderEpoch  = 12
	offMagic        = 16
	offCRC          = 17
	offAttributes   = 21
	offLastDelta    = 23
	offFirstTS      = 27
	offMaxTS        = 35
	offProducerID   = 43
	offProducerEp   = 51
	offBaseSequence = 53
	offNumRecords   = 57

	// lengthOverhead is the number of bytes before and including the Length field; a batch
	// occupies lengthOverhead+Length bytes.
	lengthOverhead = 12
	// minLength is the smallest Length of a valid batch (a header and no records).
	minLength = HeaderSize - lengthOverhead
)

// Attribute bits.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Codec is a batch compression codec (attributes bits 0-2).
type Codec int8

// The codecs Kafka defines.
const (
	None Codec = iota
	Gzip
	Snappy
	LZ4
	Zstd
)

func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return "unknown"
}

// TimestampType says whether record timestamps were set by the producer or the broker.
type TimestampType int8

// Timestamp types.
const (
	CreateTime    TimestampType = 0
	LogAppendTime TimestampType = 1
)

// Header is a decoded v2 record batch header.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field; the batch is Length+12 bytes
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Compression returns the codec of the batch's records.
func (h Header) Compression() Codec { return Codec(h.Attributes & attrCodecMask) }

// IsTransactional reports whether the batch belongs to a transaction.
func (h Header) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch is a control batch (transaction markers).
func (h Header) IsControl() bool { return h.Attributes&attrControl != 0 }

// TimestampType returns CreateTime or LogAppendTime.
func (h Header) TimestampType() TimestampType {
	if h.Attributes&attrLogAppendTime != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// NextOffset is the offset following the batch's last record.
func (h Header) NextOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) + 1 }

// Size is the number of bytes the batch occupies.
func (h Header) Size() int { return int(h.Length) + lengthOverhead }

// PeekHeader decodes and checks the header at the start of b without requiring the rest of the
// batch to be present. b must hold at least HeaderSize bytes. It is what a log uses to walk
// batch headers on disk; ParseHeader also checks that the whole batch is in b.
func PeekHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, errcode.New(errcode.CorruptData,
			"record batch is %d bytes, shorter than the %d-byte v2 batch header; send whole record batches", len(b), HeaderSize)
	}
	h := decodeHeader(b)
	if h.Magic != 2 {
		return h, errcode.New(errcode.UnsupportedVersion,
			"record batch has magic %d; only magic 2 (Kafka 0.11+ record batches) is supported, upgrade the client", h.Magic)
	}
	if h.Length < minLength {
		return h, errcode.New(errcode.CorruptData,
			"record batch length field is %d, below the minimum %d; the batch is malformed", h.Length, minLength)
	}
	if h.NumRecords < 0 {
		return h, errcode.New(errcode.CorruptData, "record batch claims %d records; the count must not be negative", h.NumRecords)
	}
	if h.LastOffsetDelta < 0 {
		return h, errcode.New(errcode.CorruptData,
			"record batch has last offset delta %d; it must not be negative", h.LastOffsetDelta)
	}
	return h, nil
}

// ParseHeader decodes the header of the batch at the start of b and checks that the magic is 2,
// the length is sane and the whole batch is present in b. It does not check the CRC.
func ParseHeader(b []byte) (Header, error) {
	h, err := PeekHeader(b)
	if err != nil {
		return h, err
	}
	if h.Size() > len(b) {
		return h, errcode.New(errcode.CorruptData,
			"record batch length field says %d bytes but only %d are present; the batch is truncated", h.Size(), len(b))
	}
	return h, nil
}

// Validate checks that b is exactly one well-formed batch with a correct CRC-32C.
func Validate(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if h.Size() != len(b) {
		return h, errcode.New(errcode.CorruptData,
			"record batch is %d bytes but its length field says %d; expected exactly one batch", len(b), h.Size())
	}
	if got := crc32.Checksum(b[offAttributes:], castagnoli); got != h.CRC {
		return h, errcode.New(errcode.CorruptData,
			"record batch at offset %d failed its CRC check (stored %#08x, computed %#08x); the data is corrupt, resend it",
			h.BaseOffset, h.CRC, got)
	}
	return h, nil
}

func decodeHeader(b []byte) Header {
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTS:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTS:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEp:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
}

// Split splits a record set (concatenated batches, as in a Produce or Fetch) into whole
// batches. A trailing partial batch, as a Fetch response may end with, is dropped. Each batch's
// header is checked with ParseHeader; CRCs are not checked. The returned slices alias b.
func Split(b []byte) ([][]byte, error) {
	out, _, err := split(b)
	return out, err
}

// SplitComplete is Split but returns an error if b ends with a partial batch.
func SplitComplete(b []byte) ([][]byte, error) {
	out, rest, err := split(b)
	if err == nil && rest > 0 {
		err = errcode.New(errcode.CorruptData,
			"record set ends with a truncated batch (%d trailing bytes after %d whole batches); send whole batches", rest, len(out))
	}
	return out, err
}

func split(b []byte) (out [][]byte, rest int, err error) {
	for len(b) > 0 {
		if len(b) < HeaderSize {
			return out, len(b), nil
		}
		h, err := PeekHeader(b)
		if err != nil {
			return out, len(b), err
		}
		if h.Size() > len(b) {
			return out, len(b), nil
		}
		out = append(out, b[:h.Size():h.Size()])
		b = b[h.Size():]
	}
	return out, 0, nil
}

// SetBaseOffset rewrites the batch's base offset in place. The base offset is outside the CRC.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch rewrites the batch's partition leader epoch in place (outside the CRC).
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime with MaxTimestamp = ts and recomputes the
// CRC, in place, the way Kafka brokers do; records are not touched. b must hold one whole batch
// (as checked by ParseHeader); bytes after it are ignored.
func SetLogAppendTime(b []byte, ts int64) {
	n := int(binary.BigEndian.Uint32(b[offLength:])) + lengthOverhead
	b = b[:n]
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | attrLogAppendTime
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTS:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}
