package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// eachRecords collects the records EachRecord passes, stopping after stop (0: all).
func eachRecords(b []byte, stop int) ([]Record, error) {
	var out []Record
	err := EachRecord(b, func(r Record) (bool, error) {
		out = append(out, r)
		return stop == 0 || len(out) < stop, nil
	})
	return out, err
}

func TestEachRecordMatchesRecords(t *testing.T) {
	want := sampleRecords(50)
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			b := Build(want, BuildOptions{Compression: c})
			got, err := eachRecords(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, want)
			got, err = eachRecords(b, 7)
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, want[:7])
			// Corrupt compressed data is an error, not a short batch.
			if c != None {
				bad := append([]byte(nil), b...)
				for i := HeaderSize + 4; i < len(bad); i++ {
					bad[i] ^= 0x5a
				}
				if _, err := eachRecords(bad, 0); err == nil {
					t.Fatal("corrupt batch decoded without an error")
				}
			}
		})
	}
}

// The point of EachRecord: a reader that stops early does not decompress the whole batch.
func TestEachRecordStopsWithoutDecompressingTheRest(t *testing.T) {
	recs := make([]Record, 100)
	for i := range recs {
		recs[i] = Record{Value: bytes.Repeat([]byte("A"), 1_000_000)}
	}
	for _, c := range []Codec{Gzip, LZ4, Zstd} {
		b := Build(recs, BuildOptions{Compression: c})
		var got int
		before := memStats()
		err := EachRecord(b, func(r Record) (bool, error) {
			got++
			return got < 2, nil
		})
		after := memStats()
		if err != nil || got != 2 {
			t.Fatalf("%s: %d records, %v", c, got, err)
		}
		t.Logf("%s: %.1f MB", c, (after-before)/(1<<20))
		if mb := (after - before) / (1 << 20); mb > 24 {
			t.Errorf("%s: reading 2 of 100 records of 1 MB allocated %.0f MB; want about the 2 MB read", c, mb)
		}
	}
}

// A zstd frame whose window is over the streaming limit is still read, decoded whole.
// largeWindowZstd is recs as a zstd batch whose frame declares a window of window bytes.
func largeWindowZstd(t testing.TB, recs []Record, window int) []byte {
	plain := Build(recs, BuildOptions{})
	enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(window))
	if err != nil {
		t.Fatal(err)
	}
	body := enc.EncodeAll(plain[HeaderSize:], nil)
	enc.Close()
	b := append(append([]byte(nil), plain[:HeaderSize]...), body...)
	binary.BigEndian.PutUint32(b[offLength:], uint32(HeaderSize-lengthOverhead+len(body)))
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(Zstd))
	return b
}

// countingMemory is a Memory that records what is reserved and held.
type countingMemory struct {
	held, peak int64
	reserved   []int64
	refuse     error
}

func (m *countingMemory) Reserve(n int64) (func(), error) {
	if m.refuse != nil {
		return nil, m.refuse
	}
	m.reserved = append(m.reserved, n)
	m.held += n
	m.peak = max(m.peak, m.held)
	return func() { m.held -= n }, nil
}

func TestEachRecordLargeZstdWindowIsReserved(t *testing.T) {
	recs := make([]Record, 12)
	for i := range recs {
		recs[i] = Record{Offset: int64(i), Value: bytes.Repeat([]byte{byte('a' + i)}, 1<<20)}
	}
	b := largeWindowZstd(t, recs, 32<<20)
	mem := &countingMemory{}
	var got []Record
	err := EachRecordIn(b, mem, func(r Record) (bool, error) {
		got = append(got, r)
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Timestamp = recs[i].Timestamp
	}
	equalRecords(t, got, recs)
	// EncodeAll writes a single-segment frame: its window is its content (12 MiB and the
	// record framing), reserved with the decoder's overhead, and given back.
	if len(mem.reserved) != 1 || mem.reserved[0] < 12<<20 || mem.reserved[0] > 32<<20+zstdStreamOverhead || mem.held != 0 {
		t.Fatalf("reserved %v, held %d after the walk", mem.reserved, mem.held)
	}
	// Refused memory is the walk's error, before any record.
	refused := errors.New("no memory")
	calls := 0
	err = EachRecordIn(b, &countingMemory{refuse: refused}, func(Record) (bool, error) { calls++; return true, nil })
	if !errors.Is(err, refused) || calls != 0 {
		t.Fatalf("refused reservation: err %v after %d records", err, calls)
	}
}

func TestEachRecordSnappyIsReserved(t *testing.T) {
	recs := []Record{{Offset: 0, Value: bytes.Repeat([]byte("s"), 3<<20)}, {Offset: 1, Value: []byte("x")}}
	b := Build(recs, BuildOptions{Compression: Snappy})
	mem := &countingMemory{}
	got, err := eachRecordsIn(b, mem)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0].Value) != 3<<20 {
		t.Fatalf("got %d records", len(got))
	}
	if len(mem.reserved) != 1 || mem.reserved[0] < 3<<20 || mem.reserved[0] > 3<<20+100 || mem.held != 0 {
		t.Fatalf("reserved %v, held %d", mem.reserved, mem.held)
	}
}

func eachRecordsIn(b []byte, mem Memory) ([]Record, error) {
	var out []Record
	err := EachRecordIn(b, mem, func(r Record) (bool, error) {
		out = append(out, r)
		return true, nil
	})
	return out, err
}

func mustHeader(t *testing.T, b []byte) Header {
	t.Helper()
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func FuzzEachRecord(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		want, err := Records(b)
		got, err2 := eachRecords(b, 0)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Records err %v, EachRecord err %v", err, err2)
		}
		if err == nil {
			equalRecords(t, got, want)
		}
	})
}

// memStats returns the bytes allocated so far.
func memStats() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.TotalAlloc)
}
