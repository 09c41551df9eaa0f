package spool

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// TestQuota fills a spool to its bound, checks that one more record is refused whole, and that
// acknowledging records makes room again.
func TestQuota(t *testing.T) {
	dir := t.TempDir()
	rec := bytes.Repeat([]byte{'x'}, 100)
	bound := 10 * frameLen(len(rec))
	s := openSpool(t, dir, Options{MaxBytes: bound, SegmentBytes: 300})
	for range 10 {
		if _, _, err := s.Append([][]byte{rec}); err != nil {
			t.Fatal(err)
		}
	}
	if s.Bytes() != bound {
		t.Fatalf("Bytes = %d, want the bound %d", s.Bytes(), bound)
	}
	_, _, err := s.Append([][]byte{{1}})
	wantCode(t, err, errcode.QuotaExceeded, dir, fmt.Sprint(bound), "restore the region", "raise")
	wantCode(t, s.Room(1), errcode.QuotaExceeded)

	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Room(2 * frameLen(len(rec))); err != nil {
		t.Fatalf("Room after Ack: %v", err)
	}
	_, _, err = s.Append([][]byte{rec, rec, rec}) // a batch is all or none
	wantCode(t, err, errcode.QuotaExceeded)
	if s.Len() != 8 || s.Bytes() != bound-2*frameLen(len(rec)) {
		t.Fatalf("a refused batch left Len %d Bytes %d", s.Len(), s.Bytes())
	}
	first, last, err := s.Append([][]byte{rec, rec})
	if err != nil || first != 11 || last != 12 {
		t.Fatalf("Append after Ack = %d, %d, %v; want 11, 12", first, last, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSpool(t, dir, Options{MaxBytes: bound, SegmentBytes: 300})
	recs := peekAll(t, s)
	if len(recs) != 10 || recs[0].Seq != 3 || recs[9].Seq != 12 || s.Bytes() != bound {
		t.Fatalf("after reopen: %d records from %d, Bytes %d", len(recs), recs[0].Seq, s.Bytes())
	}
	_, _, err = s.Append([][]byte{{}})
	wantCode(t, err, errcode.QuotaExceeded)
}
