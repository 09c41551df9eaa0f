package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

var codecs = []Codec{None, Gzip, Snappy, LZ4, Zstd}

func sampleRecords(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{
			Offset:    int64(i),
			Timestamp: 1_700_000_000_000 + int64(i%3)*7 - 5,
			Key:       []byte(fmt.Sprintf("key-%d", i)),
			Value:     bytes.Repeat([]byte{byte('a' + i%26)}, 10+i*13),
		}
		if i%2 == 0 {
			out[i].Headers = []RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "empty", Value: []byte{}}}
		}
	}
	if n > 1 {
		out[1].Key = nil   // null key
		out[1].Value = nil // null value (tombstone)
	}
	return out
}

func equalRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Offset != w.Offset || g.Timestamp != w.Timestamp || !bytes.Equal(g.Key, w.Key) ||
			!bytes.Equal(g.Value, w.Value) || (g.Key == nil) != (w.Key == nil) || (g.Value == nil) != (w.Value == nil) ||
			len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
		for j := range g.Headers {
			if g.Headers[j].Key != w.Headers[j].Key || !bytes.Equal(g.Headers[j].Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: got %+v, want %+v", i, j, g.Headers[j], w.Headers[j])
			}
		}
	}
}

func TestBuildRecordsRoundTrip(t *testing.T) {
	for _, c := range codecs {
		for _, n := range []int{1, 2, 50} {
			t.Run(fmt.Sprintf("%s/%d", c, n), func(t *testing.T) {
				recs := sampleRecords(n)
				b := Build(recs, BuildOptions{Compression: c, ProducerID: 7, ProducerEpoch: 1, BaseSequence: 42})
				h, err := Validate(b)
				if err != nil {
					t.Fatal(err)
				}
				if h.Compression() != c || h.NumRecords != int32(n) || h.LastOffsetDelta != int32(n-1) ||
					h.ProducerID != 7 || h.BaseSequence != 42 || h.TimestampType() != CreateTime {
					t.Fatalf("header %+v", h)
				}
				got, err := Records(b)
				if err != nil {
					t.Fatal(err)
				}
				equalRecords(t, got, recs)
				largest, err := MaxRecordSize(b)
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				for _, r := range recs {
					want = max(want, RecordSize(r))
				}
				if largest != want {
					t.Fatalf("MaxRecordSize = %d, want %d", largest, want)
				}
			})
		}
	}
}

// kmsgBatch encodes records with franz-go, the way a franz-go producer does.
func kmsgBatch(t testing.TB, recs []Record, c Codec) []byte {
	var body []byte
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.Timestamp - recs[0].Timestamp, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		kr.TimestampDelta = int32(kr.TimestampDelta64)
		rec := kr.AppendTo(nil) // with Length 0, which takes one byte
		kr.Length = int32(len(rec) - 1)
		body = kr.AppendTo(body)
	}
	if c != None {
		comp, err := kgo.DefaultCompressor(kgoCodec(c))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		out, _ := comp.Compress(&buf, body)
		body = append([]byte(nil), out...)
	}
	maxTS := int64(0)
	for _, r := range recs {
		maxTS = max(maxTS, r.Timestamp)
	}
	rb := kmsg.RecordBatch{
		FirstOffset: 100, PartitionLeaderEpoch: 3, Magic: 2, Attributes: int16(c),
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: recs[0].Timestamp, MaxTimestamp: maxTS,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: body,
	}
	rb.Length = int32(HeaderSize - 12 + len(body))
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

// varintLen returns the size of the varint length prefix franz-go wrote at the start of rec.
func varintLen(rec []byte) int {
	_, n := binary.Varint(rec)
	return n
}

func kgoCodec(c Codec) kgo.CompressionCodec {
	switch c {
	case Gzip:
		return kgo.GzipCompression()
	case Snappy:
		return kgo.SnappyCompression()
	case LZ4:
		return kgo.Lz4Compression()
	case Zstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func TestParseFranzGoBatches(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			recs := sampleRecords(20)
			recs[0].Timestamp = 1_700_000_000_000 // first timestamp is the smallest in kmsgBatch
			for i := range recs {
				recs[i].Offset = 100 + int64(i)
				recs[i].Timestamp = max(recs[i].Timestamp, recs[0].Timestamp)
			}
			b := kmsgBatch(t, recs, c)
			h, err := Validate(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.BaseOffset != 100 || h.PartitionLeaderEpoch != 3 || h.NextOffset() != 120 {
				t.Fatalf("header %+v", h)
			}
			got, err := Records(b)
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, recs)
		})
	}
}

func TestFranzGoReadsOurBatches(t *testing.T) {
	dec := kgo.DefaultDecompressor()
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			recs := sampleRecords(20)
			b := Build(recs, BuildOptions{Compression: c, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(b); err != nil {
				t.Fatal(err)
			}
			if uint32(rb.CRC) != crc32.Checksum(b[offAttributes:], castagnoli) || rb.NumRecords != 20 {
				t.Fatalf("kmsg batch %+v", rb)
			}
			body := rb.Records
			if c != None {
				var err error
				if body, err = dec.Decompress(body, kgo.CompressionCodecType(c)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range recs {
				var kr kmsg.Record
				if err := kr.ReadFrom(body); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				body = body[int(kr.Length)+varintLen(body):]
				if !bytes.Equal(kr.Key, recs[i].Key) || !bytes.Equal(kr.Value, recs[i].Value) ||
					rb.FirstTimestamp+kr.TimestampDelta64 != recs[i].Timestamp || kr.OffsetDelta != int32(i) {
					t.Fatalf("record %d: %+v", i, kr)
				}
			}
			if len(body) != 0 {
				t.Fatalf("%d trailing bytes", len(body))
			}
		})
	}
}

func TestXerialSnappy(t *testing.T) {
	recs := sampleRecords(40)
	raw := Build(recs, BuildOptions{})
	plain := raw[HeaderSize:]
	framed := append([]byte(nil), xerialMagic...)
	framed = append(framed, 0, 0, 0, 1, 0, 0, 0, 1)
	for p := plain; len(p) > 0; {
		n := min(len(p), 100) // many small blocks
		blk := s2.EncodeSnappy(nil, p[:n])
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(blk)))
		framed = append(framed, blk...)
		p = p[n:]
	}
	b := append(append([]byte(nil), raw[:HeaderSize]...), framed...)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(Snappy))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	got, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, recs)
}

func TestHeaderErrors(t *testing.T) {
	good := Build(sampleRecords(3), BuildOptions{})
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		b    []byte
		code errcode.Code
		fn   func([]byte) (Header, error)
	}{
		{"short", good[:60], errcode.CorruptData, ParseHeader},
		{"magic", mut(func(b []byte) []byte { b[offMagic] = 1; return b }), errcode.UnsupportedVersion, ParseHeader},
		{"length too small", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offLength:], 48); return b }), errcode.CorruptData, ParseHeader},
		{"length beyond slice", good[:len(good)-1], errcode.CorruptData, ParseHeader},
		{"negative records", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offNumRecords:], 0xffffffff); return b }), errcode.CorruptData, ParseHeader},
		{"crc", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), errcode.CorruptData, Validate},
		{"two batches", append(append([]byte(nil), good...), good...), errcode.CorruptData, Validate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.fn(tt.b)
			if !errcode.Is(err, tt.code) {
				t.Fatalf("got %v (code %s), want code %s", err, errcode.CodeOf(err), tt.code)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	a := Build(sampleRecords(2), BuildOptions{})
	b := Build(sampleRecords(5), BuildOptions{Compression: Zstd})
	set := append(append([]byte(nil), a...), b...)
	tests := []struct {
		name      string
		in        []byte
		want      int
		completeE bool
	}{
		{"empty", nil, 0, false},
		{"one", a, 1, false},
		{"two", set, 2, false},
		{"partial header", set[:len(a)+10], 1, true},
		{"partial body", set[:len(set)-1], 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.in)
			if err != nil || len(got) != tt.want {
				t.Fatalf("Split: %d batches, %v; want %d", len(got), err, tt.want)
			}
			for _, g := range got {
				if _, err := Validate(g); err != nil {
					t.Fatal(err)
				}
			}
			_, err = SplitComplete(tt.in)
			if (err != nil) != tt.completeE {
				t.Fatalf("SplitComplete err = %v, want error %v", err, tt.completeE)
			}
		})
	}
}

func TestRewrites(t *testing.T) {
	b := Build(sampleRecords(4), BuildOptions{Compression: LZ4})
	SetBaseOffset(b, 1000)
	SetPartitionLeaderEpoch(b, 9)
	h, err := Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 1000 || h.PartitionLeaderEpoch != 9 || h.NextOffset() != 1004 {
		t.Fatalf("header %+v", h)
	}
	buf := append(append([]byte(nil), b...), 0xde, 0xad)
	SetLogAppendTime(buf, 555) // trailing bytes are ignored
	b = buf[:len(b)]
	h, err = Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.TimestampType() != LogAppendTime || h.MaxTimestamp != 555 || h.Compression() != LZ4 {
		t.Fatalf("header %+v", h)
	}
	recs, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Timestamp != 555 || r.Offset != 1000+int64(i) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
}

func TestAttributes(t *testing.T) {
	h := Header{Attributes: 0x33}
	if h.Compression() != LZ4 || !h.IsTransactional() || !h.IsControl() || h.TimestampType() != CreateTime {
		t.Fatalf("attributes decoded wrong: %+v", h)
	}
}

func BenchmarkRecords(b *testing.B) {
	recs := make([]Record, 16)
	for i := range recs {
		recs[i] = Record{Value: bytes.Repeat([]byte{'x'}, 1024), Timestamp: 1}
	}
	for _, c := range codecs {
		bt := Build(recs, BuildOptions{Compression: c})
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(16 * 1024)
			for b.Loop() {
				if _, err := Records(bt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	recs := make([]Record, 16)
	for i := range recs {
		recs[i] = Record{Value: bytes.Repeat([]byte{'x'}, 1024), Timestamp: 1}
	}
	bt := Build(recs, BuildOptions{})
	b.SetBytes(int64(len(bt)))
	for b.Loop() {
		if _, err := Validate(bt); err != nil {
			b.Fatal(err)
		}
	}
}
