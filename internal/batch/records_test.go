package batch

import "testing"

// The audit's M1(d): MaxRecordSize counted only key and value, so a record could carry any
// number of headers past the hub's max event size. Empty headers count too (2 bytes each),
// compressed or not.
func TestAuditM1d_HeadersCountTowardRecordSize(t *testing.T) {
	rec := Record{Key: []byte("k"), Value: []byte("v"), Headers: make([]RecordHeader, 300_000)}
	rec.Headers[0] = RecordHeader{Key: "trace", Value: []byte("0123456789")}
	want := 2 + 300_000*2 + len("trace") + len("0123456789")
	if got := RecordSize(rec); got != want {
		t.Fatalf("RecordSize = %d, want %d", got, want)
	}
	for _, c := range []Codec{None, Gzip, Zstd} {
		b := Build([]Record{{Value: []byte("small")}, rec}, BuildOptions{ProducerID: -1, Compression: c})
		got, err := MaxRecordSize(b)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%v: MaxRecordSize = %d, want %d (key, value and every header)", c, got, want)
		}
	}
}
