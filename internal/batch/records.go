package batch

import (
	"encoding/binary"
	"math"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// RecordHeader is a record's application header (an Event Hubs property).
type RecordHeader struct {
	Key   string
	Value []byte
}

// Record is one decoded record with absolute offset and timestamp. A nil Key or Value is a
// Kafka null (length -1); an empty non-nil one has length 0.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []RecordHeader
}

// Records decodes every record of the batch at the start of b, decompressing if needed. With
// LogAppendTime, every record's Timestamp is the batch's MaxTimestamp. For uncompressed batches
// Key, Value and header values alias b. The CRC is not checked (use Validate).
func Records(b []byte) ([]Record, error) {
	h, body, err := body(b)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, min(int(h.NumRecords), len(body)/7+1))
	err = walk(h, body, func(r *recordView) error {
		rec := Record{Offset: h.BaseOffset + int64(r.offsetDelta), Key: r.key, Value: r.value}
		if h.TimestampType() == LogAppendTime {
			rec.Timestamp = h.MaxTimestamp
		} else {
			rec.Timestamp = h.FirstTimestamp + r.timestampDelta
		}
		if r.numHeaders > 0 {
			rec.Headers = make([]RecordHeader, 0, r.numHeaders)
			if err := r.headers(func(k, v []byte) { rec.Headers = append(rec.Headers, RecordHeader{string(k), v}) }); err != nil {
				return err
			}
		}
		out = append(out, rec)
		return nil
	})
	return out, err
}

// MaxRecordSize returns the size of the largest of the batch's records, decompressing if
// needed; the broker compares it with the hub's max event size. A record's size is its key, its
// value and its headers (Event Hubs properties) as encoded: every header's key and value and
// their two varint lengths, so even empty headers count (at least 2 bytes each) and a record
// cannot carry an unbounded number of them. RecordSize gives the same size for a Record.
func MaxRecordSize(b []byte) (int, error) {
	h, body, err := body(b)
	if err != nil {
		return 0, err
	}
	largest := 0
	err = walk(h, body, func(r *recordView) error {
		largest = max(largest, len(r.key)+len(r.value)+len(r.rawHeaders))
		return nil
	})
	return largest, err
}

// RecordSize returns r's size as MaxRecordSize counts it once r is encoded.
func RecordSize(r Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += varintSize(int64(len(h.Key))) + len(h.Key) + len(h.Value)
		if h.Value == nil {
			n += varintSize(-1)
		} else {
			n += varintSize(int64(len(h.Value)))
		}
	}
	return n
}

func varintSize(v int64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutVarint(buf[:], v)
}

func body(b []byte) (Header, []byte, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, nil, err
	}
	body, err := decompress(h.Compression(), b[HeaderSize:h.Size()])
	return h, body, err
}

// recordView is a record decoded in place; its slices alias the batch body.
type recordView struct {
	timestampDelta int64
	offsetDelta    int32
	key, value     []byte
	numHeaders     int
	rawHeaders     []byte
}

func errRecord(h Header, i int, what string) error {
	return errcode.New(errcode.CorruptData,
		"record %d of the batch at offset %d is malformed: %s; the batch is corrupt, resend it", i, h.BaseOffset, what)
}

// walk decodes the h.NumRecords records in body and calls fn for each.
func walk(h Header, body []byte, fn func(*recordView) error) error {
	var r recordView
	for i := 0; i < int(h.NumRecords); i++ {
		n, ok := varint(&body)
		if !ok || n < 0 || n > int64(len(body)) {
			return errRecord(h, i, "bad record length")
		}
		rec := body[:n]
		body = body[n:]
		if err := parseRecord(rec, &r); err != "" {
			return errRecord(h, i, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if len(body) != 0 {
		return errcode.New(errcode.CorruptData,
			"record batch at offset %d has %d bytes after its %d records; the batch is corrupt, resend it",
			h.BaseOffset, len(body), h.NumRecords)
	}
	return nil
}

func parseRecord(p []byte, r *recordView) string {
	if len(p) < 1 {
		return "empty record"
	}
	p = p[1:] // attributes, unused
	var ok bool
	if r.timestampDelta, ok = varint(&p); !ok {
		return "bad timestamp delta"
	}
	od, ok := varint(&p)
	if !ok || od < 0 || od > math.MaxInt32 {
		return "bad offset delta"
	}
	r.offsetDelta = int32(od)
	if r.key, ok = bytesField(&p); !ok {
		return "bad key"
	}
	if r.value, ok = bytesField(&p); !ok {
		return "bad value"
	}
	nh, ok := varint(&p)
	if !ok || nh < 0 || nh > int64(len(p)) {
		return "bad header count"
	}
	r.numHeaders, r.rawHeaders = int(nh), p
	// Check the headers now so the record's length is verified even if fn skips them.
	if err := r.headers(nil); err != nil {
		return "bad headers"
	}
	return ""
}

var errBadHeaders = errcode.New(errcode.CorruptData, "record headers are malformed; the batch is corrupt, resend it")

// headers calls fn (if not nil) for each header and checks the record ends after them.
func (r *recordView) headers(fn func(k, v []byte)) error {
	p := r.rawHeaders
	for i := 0; i < r.numHeaders; i++ {
		k, ok := bytesField(&p)
		if !ok || k == nil {
			return errBadHeaders
		}
		v, ok := bytesField(&p)
		if !ok {
			return errBadHeaders
		}
		if fn != nil {
			fn(k, v)
		}
	}
	if len(p) != 0 {
		return errBadHeaders
	}
	return nil
}

// varint reads a zig-zag varint and advances p.
func varint(p *[]byte) (int64, bool) {
	v, n := binary.Varint(*p)
	if n <= 0 {
		return 0, false
	}
	*p = (*p)[n:]
	return v, true
}

// bytesField reads a varint length (-1 = null) and that many bytes.
func bytesField(p *[]byte) ([]byte, bool) {
	n, ok := varint(p)
	if !ok || n < -1 || n > int64(len(*p)) {
		return nil, false
	}
	if n == -1 {
		return nil, true
	}
	b := (*p)[:n:n]
	*p = (*p)[n:]
	return b, true
}
