package spool

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestReopenKeepsOrderAndSeq(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{})
	fill(t, s, 1, 100, 7)
	checkHeld(t, s, 1, 100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSpool(t, dir, Options{})
	checkRecords(t, peekAll(t, s), 1, 100)
	fill(t, s, 101, 150, 3) // seqs go on after a reopen
	if err := s.Ack(40); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Peek(10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs, 41, 50)
	if err := s.Ack(45); err != nil { // part of what Peek returned
		t.Fatal(err)
	}
	checkRecords(t, peekAll(t, s), 46, 150)
	checkHeld(t, s, 46, 150)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSpool(t, dir, Options{})
	checkHeld(t, s, 46, 150)
	checkRecords(t, peekAll(t, s), 46, 150)
}

func TestPeekBounds(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	fill(t, s, 1, 20, 20)
	for _, tc := range []struct {
		name               string
		maxRecords         int
		maxBytes, wantLast int
	}{
		{"records bound", 5, 1 << 20, 5},
		{"bytes bound", 100, len(payload(1)) + len(payload(2)) + len(payload(3)), 3},
		{"one byte short", 100, len(payload(1)) + len(payload(2)) - 1, 1},
		{"at least one record", 100, 1, 1},
		{"zero bytes", 100, 0, 1},
	} {
		recs, err := s.Peek(tc.maxRecords, tc.maxBytes)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		checkRecords(t, recs, 1, uint64(tc.wantLast))
	}
	_, err := s.Peek(0, 100)
	wantCode(t, err, errcode.InvalidArgument)
}

func TestAck(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{})
	fill(t, s, 1, 10, 4)
	wantCode(t, s.Ack(11), errcode.InvalidArgument, "11", "10")
	for _, seq := range []uint64{0, 4, 4, 2} { // 0 and already-acknowledged seqs do nothing
		if err := s.Ack(seq); err != nil {
			t.Fatalf("Ack(%d): %v", seq, err)
		}
	}
	checkRecords(t, peekAll(t, s), 5, 10)
	if err := s.Ack(10); err != nil {
		t.Fatal(err)
	}
	checkHeld(t, s, 11, 10)
	if recs := peekAll(t, s); len(recs) != 0 {
		t.Fatalf("empty spool peeked %d records", len(recs))
	}
	if files := segFiles(t, dir); len(files) != 0 {
		t.Fatalf("acknowledged segment files left: %v", files)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSpool(t, dir, Options{})
	checkHeld(t, s, 11, 10)
	fill(t, s, 11, 12, 2) // a seq is never reused, even once every file is gone
	checkRecords(t, peekAll(t, s), 11, 12)
}

// TestAckAfterAppendBetween checks Ack when records were appended between the Peek that drained
// the spool and the Ack of what it returned: Ack must find the next record where it was written.
func TestAckAfterAppendBetween(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	fill(t, s, 1, 5, 2)
	checkRecords(t, peekAll(t, s), 1, 5)
	fill(t, s, 6, 8, 3)
	if err := s.Ack(5); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, peekAll(t, s), 6, 8)
	checkHeld(t, s, 6, 8)
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{})
	_, err := Open(dir, Options{})
	wantCode(t, err, errcode.Conflict, dir, "in use")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSpool(t, dir, Options{}) // free again once closed
	fill(t, s, 1, 1, 1)
}

func TestArgumentsAndClose(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, Options{MaxBytes: -1})
	wantCode(t, err, errcode.InvalidArgument, "negative")
	s := openSpool(t, dir, Options{})
	if first, last, err := s.Append(nil); first != 0 || last != 0 || err != nil {
		t.Fatalf("empty Append = %d, %d, %v; want a no-op", first, last, err)
	}
	_, _, err = s.Append([][]byte{{1}, make([]byte, maxRecordBytes+1)})
	wantCode(t, err, errcode.InvalidArgument, "record 1", "limit")
	checkHeld(t, s, 1, 0)
	fill(t, s, 1, 1, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, _, err = s.Append([][]byte{{1}})
	wantCode(t, err, errcode.Unavailable, "closed")
	_, err = s.Peek(1, 1)
	wantCode(t, err, errcode.Unavailable, "closed")
	wantCode(t, s.Ack(1), errcode.Unavailable, "closed")
}
