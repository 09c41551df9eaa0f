package batch

import (
	"bytes"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, c := range codecs {
		f.Add(Build(sampleRecords(3), BuildOptions{Compression: c}))
	}
	two := append(Build(sampleRecords(1), BuildOptions{}), Build(sampleRecords(2), BuildOptions{Compression: Gzip})...)
	f.Add(two)
	f.Add(two[:len(two)-3])
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
}

func FuzzParseHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ph, perr := PeekHeader(b)
		h, err := ParseHeader(b)
		if err == nil && (perr != nil || ph != h || h.Size() > len(b)) {
			t.Fatalf("ParseHeader accepted what PeekHeader did not: %v %+v %+v", perr, ph, h)
		}
		vh, err := Validate(b)
		if err != nil {
			return
		}
		if vh.Size() != len(b) {
			t.Fatalf("Validate accepted %d bytes for a %d-byte batch", len(b), vh.Size())
		}
		// Rewrites keep a valid batch valid.
		c := append([]byte(nil), b...)
		SetBaseOffset(c, 77)
		SetLogAppendTime(c, 1234)
		if h2, err := Validate(c); err != nil || h2.BaseOffset != 77 || h2.MaxTimestamp != 1234 || h2.TimestampType() != LogAppendTime {
			t.Fatalf("rewritten batch invalid: %v %+v", err, h2)
		}
	})
}

func FuzzRecords(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Records(b)
		largest, err2 := MaxRecordSize(b)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Records err %v, MaxRecordSize err %v", err, err2)
		}
		if err != nil {
			return
		}
		want := 0
		for _, r := range recs {
			want = max(want, RecordSize(r))
		}
		if want != largest {
			t.Fatalf("MaxRecordSize %d, want %d", largest, want)
		}
		h, _ := ParseHeader(b)
		if h.TimestampType() == LogAppendTime || len(recs) == 0 {
			return
		}
		// Valid records round-trip through Build (offset deltas become 0..n-1).
		for i := range recs {
			if recs[i].Timestamp == 0 {
				return // Build reads 0 as "use the default timestamp"
			}
		}
		rebuilt := Build(recs, BuildOptions{Compression: None, ProducerID: -1})
		got, err := Records(rebuilt)
		if err != nil {
			t.Fatalf("rebuilt batch does not decode: %v", err)
		}
		if len(got) != len(recs) {
			t.Fatalf("rebuilt %d records, want %d", len(got), len(recs))
		}
		for i := range got {
			if got[i].Timestamp != recs[i].Timestamp || !bytes.Equal(got[i].Key, recs[i].Key) ||
				!bytes.Equal(got[i].Value, recs[i].Value) || len(got[i].Headers) != len(recs[i].Headers) {
				t.Fatalf("record %d: got %+v, want %+v", i, got[i], recs[i])
			}
		}
	})
}

func FuzzSplit(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		parts, err := Split(b)
		n := 0
		for _, p := range parts {
			if !bytes.Equal(p, b[n:n+len(p)]) {
				t.Fatal("Split output is not a prefix of its input")
			}
			if _, err := ParseHeader(p); err != nil {
				t.Fatalf("Split returned a batch ParseHeader rejects: %v", err)
			}
			n += len(p)
		}
		whole, cerr := SplitComplete(b)
		if cerr == nil && (err != nil || n != len(b) || len(whole) != len(parts)) {
			t.Fatalf("SplitComplete accepted %d of %d bytes", n, len(b))
		}
	})
}
