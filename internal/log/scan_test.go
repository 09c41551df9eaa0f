package log

import (
	"math/rand/v2"
	"testing"

	"github.com/tandem-streaming/tandem/internal/batch"
)

// TestScanHeadersMatchesAppends compares ScanHeaders from random offsets with the batches
// appended, over segments of small batches (many headers per read chunk) with batches larger
// than a chunk between them, and a segment rolled in the middle of the scan range.
func TestScanHeadersMatchesAppends(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	l := openLog(t, Options{Dir: t.TempDir(), SegmentBytes: 512 << 10})
	type want struct{ base, next int64 }
	var all []want
	for i := range 6000 {
		n, size := 1+rng.IntN(3), 5+rng.IntN(40)
		if rng.IntN(500) == 0 {
			n, size = 2, headerChunk+rng.IntN(headerChunk) // a batch larger than a read chunk
		}
		base, last := mustAppend(t, l, mkBatch(i, n, size, 1), 1)
		all = append(all, want{base, last + 1})
	}
	if l.ActiveBase() == 0 {
		t.Fatal("the log did not roll")
	}
	for range 200 {
		from := rng.Int64N(l.EndOffset() + 1)
		var got []batch.Header
		if err := l.ScanHeaders(from, func(h batch.Header) bool { got = append(got, h); return true }); err != nil {
			t.Fatal(err)
		}
		i := 0
		for i < len(all) && all[i].next <= from {
			i++
		}
		if len(got) != len(all)-i {
			t.Fatalf("scan from %d: %d headers, want %d (seed %d)", from, len(got), len(all)-i, seed)
		}
		for j, h := range got {
			if w := all[i+j]; h.BaseOffset != w.base || h.NextOffset() != w.next {
				t.Fatalf("scan from %d: header %d is [%d, %d), want [%d, %d) (seed %d)", from, j, h.BaseOffset, h.NextOffset(), w.base, w.next, seed)
			}
		}
	}
}
