package batch

import (
	"encoding/binary"
	"hash/crc32"
)

// BuildOptions sets the batch-level fields of Build.
type BuildOptions struct {
	Compression   Codec
	ProducerID    int64 // -1 for a non-idempotent producer
	ProducerEpoch int16 // -1 with ProducerID -1
	BaseSequence  int32 // -1 with ProducerID -1
	// Timestamp is used for records whose Timestamp is 0.
	Timestamp int64
}

// Build encodes records as one v2 batch with base offset 0 and CreateTime timestamps. Record
// offsets are ignored: the i-th record gets offset delta i. Records with Timestamp 0 take
// opts.Timestamp. An empty records slice builds a batch with no records (which a log refuses).
func Build(records []Record, opts BuildOptions) []byte {
	first, maxTS := int64(0), int64(-1)
	for i := range records {
		ts := recordTimestamp(&records[i], opts)
		if i == 0 || ts < first {
			first = ts
		}
		maxTS = max(maxTS, ts)
	}
	if len(records) == 0 {
		first, maxTS = opts.Timestamp, opts.Timestamp
	}
	// The records are encoded once into a buffer sized for them: after the header when the
	// batch is not compressed (no second copy), else into the body to compress.
	est := 0
	for i := range records {
		est += recordEstimate(&records[i])
	}
	var b, body []byte
	if opts.Compression == None {
		b = appendRecords(make([]byte, HeaderSize, HeaderSize+est), records, opts, first)
		body = b[HeaderSize:]
	} else {
		body = compress(opts.Compression, appendRecords(make([]byte, 0, est), records, opts, first))
		b = make([]byte, HeaderSize, HeaderSize+len(body))
	}
	be := binary.BigEndian
	be.PutUint32(b[offLength:], uint32(HeaderSize-lengthOverhead+len(body)))
	be.PutUint32(b[offLeaderEpoch:], 0xffffffff) // -1: unknown, set by the broker
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], uint16(opts.Compression)&attrCodecMask)
	be.PutUint32(b[offLastDelta:], uint32(max(len(records)-1, 0)))
	be.PutUint64(b[offFirstTS:], uint64(first))
	be.PutUint64(b[offMaxTS:], uint64(maxTS))
	be.PutUint64(b[offProducerID:], uint64(opts.ProducerID))
	be.PutUint16(b[offProducerEp:], uint16(opts.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(opts.BaseSequence))
	be.PutUint32(b[offNumRecords:], uint32(len(records)))
	if opts.Compression != None {
		b = append(b, body...)
	}
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

// appendRecords appends the records, each prefixed with its length, to dst.
func appendRecords(dst []byte, records []Record, opts BuildOptions, first int64) []byte {
	var scratch []byte
	for i := range records {
		scratch = appendRecord(scratch[:0], &records[i], int32(i), recordTimestamp(&records[i], opts)-first)
		dst = binary.AppendVarint(dst, int64(len(scratch)))
		dst = append(dst, scratch...)
	}
	return dst
}

// recordEstimate is at least the encoded size of r with its length prefix: the varints of
// the length, attributes, timestamp and offset deltas, key, value and header count take at
// most 10 bytes each.
func recordEstimate(r *Record) int {
	n := 7*binary.MaxVarintLen64 + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	return n
}

func recordTimestamp(r *Record, opts BuildOptions) int64 {
	if r.Timestamp == 0 {
		return opts.Timestamp
	}
	return r.Timestamp
}

func appendRecord(dst []byte, r *Record, offsetDelta int32, tsDelta int64) []byte {
	dst = append(dst, 0) // attributes
	dst = binary.AppendVarint(dst, tsDelta)
	dst = binary.AppendVarint(dst, int64(offsetDelta))
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendBytes(dst, h.Value)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}
