package spool

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // never returns
	}
	goleak.VerifyTestMain(m)
}

// payload is the data test record seq carries: it names seq and has a length that varies with it.
func payload(seq uint64) []byte {
	p := fmt.Appendf(nil, "record %d:", seq)
	return append(p, bytes.Repeat([]byte{byte(seq)}, int(seq*37%200))...)
}

func openSpool(t testing.TB, dir string, o Options) *Spool {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fill appends the records from … to in Appends of batch records, and checks their seqs.
func fill(t testing.TB, s *Spool, from, to uint64, batch int) {
	t.Helper()
	for seq := from; seq <= to; {
		var recs [][]byte
		for ; seq <= to && len(recs) < batch; seq++ {
			recs = append(recs, payload(seq))
		}
		first, last, err := s.Append(recs)
		if err != nil {
			t.Fatalf("Append of %d..%d: %v", seq-uint64(len(recs)), seq-1, err)
		}
		if first != seq-uint64(len(recs)) || last != seq-1 {
			t.Fatalf("Append gave seqs %d..%d, want %d..%d", first, last, seq-uint64(len(recs)), seq-1)
		}
	}
}

func peekAll(t testing.TB, s *Spool) []Record {
	t.Helper()
	recs, err := s.Peek(math.MaxInt, math.MaxInt)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	return recs
}

// checkRecords checks that recs are the test records from … to, in order.
func checkRecords(t testing.TB, recs []Record, from, to uint64) {
	t.Helper()
	if want := int(to + 1 - from); len(recs) != want {
		t.Fatalf("got %d records, want %d (%d..%d)", len(recs), want, from, to)
	}
	for i, r := range recs {
		seq := from + uint64(i)
		if r.Seq != seq || !bytes.Equal(r.Data, payload(seq)) {
			t.Fatalf("record %d: got seq %d data %.20q, want seq %d data %.20q", i, r.Seq, r.Data, seq, payload(seq))
		}
	}
}

// checkHeld checks Len and Bytes against the test records from … to.
func checkHeld(t testing.TB, s *Spool, from, to uint64) {
	t.Helper()
	var want int64
	for seq := from; seq <= to; seq++ {
		want += frameLen(len(payload(seq)))
	}
	if got := s.Len(); got != int64(to+1-from) {
		t.Errorf("Len = %d, want %d", got, to+1-from)
	}
	if got := s.Bytes(); got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func wantCode(t testing.TB, err error, code errcode.Code, says ...string) {
	t.Helper()
	if !errcode.Is(err, code) {
		t.Fatalf("got error %v, want code %s", err, code)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}
