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
func TestEachRecordLargeZstdWindowFallsBack(t *testing.T) {
	recs := make([]Record, 12)
	for i := range recs {
		recs[i] = Record{Offset: int64(i), Value: bytes.Repeat([]byte{byte('a' + i)}, 1<<20)}
	}
	plain := Build(recs, BuildOptions{})
	enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(32<<20))
	if err != nil {
		t.Fatal(err)
	}
	body := enc.EncodeAll(plain[HeaderSize:], nil)
	enc.Close()
	b := append(append([]byte(nil), plain[:HeaderSize]...), body...)
	binary.BigEndian.PutUint32(b[offLength:], uint32(HeaderSize-lengthOverhead+len(body)))
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(Zstd))
	if err := walkStream(mustHeader(t, b), b[HeaderSize:], func(*recordView) error { return nil }); !errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		t.Fatalf("streaming a window over 8 MiB: %v, want ErrDecoderSizeExceeded", err)
	}
	got, err := eachRecords(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Timestamp = recs[i].Timestamp
	}
	equalRecords(t, got, recs)
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
