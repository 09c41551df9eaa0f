package log

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestAppendReadAcrossSegments(t *testing.T) {
	tests := []struct {
		name         string
		segmentBytes int64
		batches      int
		appendTime   int64
	}{
		{"one segment", 0, 50, -1},
		{"rolls every few batches", 2000, 60, -1},
		{"one batch per segment", 100, 10, -1},
		{"log append time", 3000, 30, 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Options{Dir: dir, SegmentBytes: tt.segmentBytes, IndexIntervalBytes: 500})
			var want [][]byte
			next := int64(0)
			for i := range tt.batches {
				b := mkBatch(i, 1+i%5, 100, int64(i))
				base, last := mustAppend(t, l, b, tt.appendTime)
				if base != next || last != base+int64(1+i%5)-1 {
					t.Fatalf("batch %d: offsets [%d, %d], want base %d", i, base, last, next)
				}
				next = last + 1
				want = append(want, b) // Append rewrote b in place
			}
			check := func(l *Log) {
				if l.EndOffset() != next || l.StartOffset() != 0 {
					t.Fatalf("range [%d, %d), want [0, %d)", l.StartOffset(), l.EndOffset(), next)
				}
				got := allBatches(t, l)
				if len(got) != len(want) {
					t.Fatalf("read %d batches, want %d", len(got), len(want))
				}
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("batch %d differs", i)
					}
					h, _ := batch.ParseHeader(got[i])
					if tt.appendTime >= 0 && (h.TimestampType() != batch.LogAppendTime || h.MaxTimestamp != tt.appendTime) {
						t.Fatalf("batch %d: header %+v, want LogAppendTime %d", i, h, tt.appendTime)
					}
				}
			}
			check(l)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			check(openLog(t, Options{Dir: dir, SegmentBytes: tt.segmentBytes, IndexIntervalBytes: 500}))
		})
	}
}

func TestReadSemantics(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir()})
	var sizes []int
	for i := range 10 {
		b := mkBatch(i, 4, 200, 1)
		sizes = append(sizes, len(b))
		mustAppend(t, l, b, -1)
	} // batch i holds offsets [4i, 4i+3]
	tests := []struct {
		name     string
		offset   int64
		maxBytes int
		wantIDs  []int
		code     errcode.Code
	}{
		{"first batch", 0, sizes[0], []int{0}, ""},
		{"middle of a batch", 6, sizes[1], []int{1}, ""},
		{"last record of a batch", 7, sizes[1] + sizes[2], []int{1, 2}, ""},
		{"maxBytes smaller than a batch still returns it", 9, 1, []int{2}, ""},
		{"maxBytes cuts at a batch boundary", 0, sizes[0] + sizes[1] + 10, []int{0, 1}, ""},
		{"to the end", 36, 1 << 20, []int{9}, ""},
		{"end offset is empty", 40, 100, nil, ""},
		{"past the end", 41, 100, nil, errcode.OffsetOutOfRange},
		{"negative", -1, 100, nil, errcode.OffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := l.Read(tt.offset, tt.maxBytes)
			if errcode.CodeOf(err) != tt.code {
				t.Fatalf("err %v, want code %q", err, tt.code)
			}
			bs, err := batch.SplitComplete(b)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for _, one := range bs {
				ids = append(ids, batchID(t, one))
			}
			if !equalInts(ids, tt.wantIDs) {
				t.Fatalf("read batches %v, want %v", ids, tt.wantIDs)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestIndexMatchesNaiveScan checks the sparse index lookup against a scan from the start of
// the segment, for every offset, before and after reopening (old segments load their index
// files, the active one is rebuilt).
func TestIndexMatchesNaiveScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentBytes: 64 << 10, IndexIntervalBytes: 1024}
	l := openLog(t, opts)
	for i := range 600 {
		mustAppend(t, l, randBatch(r, i), -1)
	}
	check := func(l *Log) {
		t.Helper()
		l.mu.RLock()
		defer l.mu.RUnlock()
		if len(l.mu.segs) < 3 {
			t.Fatalf("only %d segments; the test wants several", len(l.mu.segs))
		}
		for _, seg := range l.mu.segs {
			for off := seg.base; off < seg.next; off++ {
				_, fast, err := seekBatch(seg.f, seg.lookup(off), seg.size, off)
				if err != nil {
					t.Fatal(err)
				}
				_, slow, err := seekBatch(seg.f, 0, seg.size, off)
				if err != nil {
					t.Fatal(err)
				}
				if fast != slow {
					t.Fatalf("offset %d: indexed position %d, scanned position %d", off, fast, slow)
				}
			}
		}
	}
	check(l)
	indexes := snapshotIndexes(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, opts)
	check(l2)
	if got := snapshotIndexes(l2); !equalIndexes(got, indexes) {
		t.Fatal("indexes after reopening differ from those built by appends")
	}
	// A damaged index file is detected and rebuilt.
	_ = l2.Close()
	name := segmentName(dir, 0, indexSuffix)
	if err := os.WriteFile(name, []byte{0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	l3 := openLog(t, opts)
	check(l3)
	if got := snapshotIndexes(l3); !equalIndexes(got, indexes) {
		t.Fatal("rebuilt indexes differ from those built by appends")
	}
}

type segIndexes struct {
	index []indexEntry
	times []timeEntry
}

func snapshotIndexes(l *Log) []segIndexes {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []segIndexes
	for _, s := range l.mu.segs {
		out = append(out, segIndexes{append([]indexEntry(nil), s.index...), append([]timeEntry(nil), s.times...)})
	}
	return out
}

func equalIndexes(a, b []segIndexes) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].index) != len(b[i].index) || len(a[i].times) != len(b[i].times) {
			return false
		}
		for j := range a[i].index {
			if a[i].index[j] != b[i].index[j] {
				return false
			}
		}
		for j := range a[i].times {
			if a[i].times[j] != b[i].times[j] {
				return false
			}
		}
	}
	return true
}

func TestRecoveryTruncatesBadTail(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string, lastBatch int64)
		survive int // batches that must survive out of 20
	}{
		{"clean", func(*testing.T, string, int64) {}, 20},
		{"torn last batch", func(t *testing.T, p string, _ int64) { chop(t, p, 7) }, 19},
		{"torn header", func(t *testing.T, p string, last int64) { chop(t, p, last-30) }, 19},
		{"garbage appended", func(t *testing.T, p string, _ int64) {
			appendBytes(t, p, []byte("not a batch at all, just junk bytes"))
		}, 20},
		{"zeros appended", func(t *testing.T, p string, _ int64) { appendBytes(t, p, make([]byte, 4096)) }, 20},
		{"crc mismatch in the last batch", func(t *testing.T, p string, _ int64) { flipLastByte(t, p) }, 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, IndexIntervalBytes: 256}
			l := openLog(t, opts)
			var want [][]byte
			var lastSize int64
			for i := range 20 {
				b := mkBatch(i, 3, 50, 1)
				mustAppend(t, l, b, -1)
				want = append(want, b)
				lastSize = int64(len(b))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, segmentName(dir, 0, logSuffix), lastSize)

			l = openLog(t, opts)
			got := allBatches(t, l)
			if len(got) != tt.survive {
				t.Fatalf("%d batches survived, want %d", len(got), tt.survive)
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("batch %d differs", i)
				}
			}
			// Appends continue right after the last whole batch.
			base, _ := mustAppend(t, l, mkBatch(99, 1, 10, 1), -1)
			if base != int64(tt.survive*3) {
				t.Fatalf("next append got offset %d, want %d", base, tt.survive*3)
			}
			if n := len(allBatches(t, l)); n != tt.survive+1 {
				t.Fatalf("%d batches after appending, want %d", n, tt.survive+1)
			}
		})
	}
}

func chop(t *testing.T, path string, n int64) {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()-n); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func flipLastByte(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptOldSegmentFailsOpen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentBytes: 1000}
	l := openLog(t, opts)
	for i := range 10 {
		mustAppend(t, l, mkBatch(i, 2, 100, 1), -1)
	}
	_ = l.Close()
	flipLastByte(t, segmentName(dir, 0, logSuffix))
	_ = os.Remove(segmentName(dir, 0, indexSuffix)) // force a full scan
	if _, err := Open(Options{Dir: dir, SegmentBytes: 1000, Logger: quiet}); !errcode.Is(err, errcode.CorruptData) {
		t.Fatalf("open with a corrupt old segment: %v, want CorruptData", err)
	}
}

func TestFsyncFailureIsUnavailable(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncAlways, FsyncInterval, FsyncBytes} {
		t.Run(modeName(mode), func(t *testing.T) {
			fsys := newFaultFS()
			l := openLog(t, Options{Dir: t.TempDir(), FS: fsys, Fsync: FsyncPolicy{Mode: mode, Bytes: 1, Interval: time.Millisecond}})
			_, last := mustAppend(t, l, mkBatch(1, 1, 10, 1), -1)
			if err := l.WaitDurable(context.Background(), last+1); err != nil {
				t.Fatal(err)
			}
			fsys.failSync.Store(true)
			_, last, err := l.Append(mkBatch(2, 1, 10, 1), -1)
			if mode == FsyncAlways && !errcode.Is(err, errcode.Unavailable) {
				t.Fatalf("append with failing fsync: %v, want Unavailable", err)
			}
			if mode != FsyncAlways && err != nil {
				t.Fatalf("append before the syncer notices: %v", err)
			}
			err = l.WaitDurable(context.Background(), last+1)
			if !errcode.Is(err, errcode.Unavailable) || !bytes.Contains([]byte(err.Error()), []byte("no space")) {
				t.Fatalf("WaitDurable: %v, want Unavailable naming the cause", err)
			}
			if _, _, err := l.Append(mkBatch(3, 1, 10, 1), -1); !errcode.Is(err, errcode.Unavailable) {
				t.Fatalf("append after failure: %v, want Unavailable", err)
			}
			if d := l.DurableOffset(); d != 1 {
				t.Fatalf("durable offset %d, want 1", d)
			}
		})
	}
}

func modeName(m FsyncMode) string {
	return map[FsyncMode]string{FsyncAlways: "always", FsyncInterval: "interval", FsyncBytes: "bytes"}[m]
}

func TestWriteFailureIsUnavailable(t *testing.T) {
	fsys := newFaultFS()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, FS: fsys})
	mustAppend(t, l, mkBatch(1, 1, 10, 1), -1)
	fsys.writeBudget.Store(20) // the disk fills up in the middle of the next batch
	if _, _, err := l.Append(mkBatch(2, 1, 100, 1), -1); !errcode.Is(err, errcode.Unavailable) {
		t.Fatalf("append on a full disk: %v, want Unavailable", err)
	}
	if l.EndOffset() != 1 {
		t.Fatalf("end offset %d after a failed write, want 1", l.EndOffset())
	}
	_ = l.Close()
	fsys.writeBudget.Store(-1)
	l = openLog(t, Options{Dir: dir, FS: fsys})
	if n := len(allBatches(t, l)); n != 1 || l.EndOffset() != 1 {
		t.Fatalf("after reopening: %d batches, end %d; want 1, 1", n, l.EndOffset())
	}
}

func TestWaitDurable(t *testing.T) {
	tests := []struct {
		name   string
		policy FsyncPolicy
	}{
		{"interval", FsyncPolicy{Mode: FsyncInterval}},
		{"bytes threshold", FsyncPolicy{Mode: FsyncBytes, Bytes: 1000}},
		{"bytes below threshold, upper bound", FsyncPolicy{Mode: FsyncBytes, Bytes: 1 << 40, Interval: time.Millisecond}},
		{"always", FsyncPolicy{Mode: FsyncAlways}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := newFaultFS()
			l := openLog(t, Options{Dir: t.TempDir(), FS: fsys, Fsync: tt.policy})
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 25 {
						_, last, err := l.Append(mkBatch(g*100+i, 2, 300, 1), -1)
						if err != nil {
							t.Error(err)
							return
						}
						if tt.policy.Mode == FsyncAlways && l.DurableOffset() <= last {
							t.Errorf("FsyncAlways: append of %d returned before it was durable (durable %d)", last, l.DurableOffset())
						}
						if err := l.WaitDurable(context.Background(), last+1); err != nil {
							t.Error(err)
							return
						}
						if d := l.DurableOffset(); d <= last {
							t.Errorf("WaitDurable(%d) returned with durable offset %d", last+1, d)
						}
					}
				})
			}
			wg.Wait()
			if fsys.syncs.Load() == 0 {
				t.Fatal("no fsync happened")
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := l.WaitDurable(ctx, l.EndOffset()+1); !errcode.Is(err, errcode.Timeout) {
				t.Fatalf("WaitDurable past the end with a done context: %v, want Timeout", err)
			}
		})
	}
}

func TestWaitDurableWakesOnClose(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir()})
	errc := make(chan error, 1)
	go func() { errc <- l.WaitDurable(context.Background(), 1000) }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errcode.Is(err, errcode.Unavailable) {
		t.Fatalf("WaitDurable across Close: %v, want Unavailable", err)
	}
}

func TestRetentionByTime(t *testing.T) {
	now := time.UnixMilli(time.Hour.Milliseconds()) // cutoff 0: nothing expired
	clock := func() time.Time { return now }
	l := openLog(t, Options{Dir: t.TempDir(), SegmentBytes: 600, RetentionTime: time.Hour, Now: clock})
	// Timestamps 1000s apart; each batch fills a segment.
	for i := range 6 {
		mustAppend(t, l, mkBatch(i, 1, 500, int64(i)*1_000_000), -1)
	}
	if n, err := l.ApplyRetention(); err != nil || n != 0 {
		t.Fatalf("retention with nothing expired deleted %d, %v", n, err)
	}
	now = time.UnixMilli(2_500_000 + time.Hour.Milliseconds()) // batches 0, 1 and 2 are older than an hour
	n, err := l.ApplyRetention()
	if err != nil || n != 3 {
		t.Fatalf("retention deleted %d segments, %v; want 3", n, err)
	}
	if l.StartOffset() != 3 {
		t.Fatalf("start offset %d, want 3", l.StartOffset())
	}
	if _, err := l.Read(2, 100); !errcode.Is(err, errcode.OffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	now = time.UnixMilli(1 << 50) // everything expired: the active segment stays
	if n, _ := l.ApplyRetention(); n != 2 || l.StartOffset() != 5 || l.EndOffset() != 6 {
		t.Fatalf("deleted %d, range [%d, %d); want 2, [5, 6)", n, l.StartOffset(), l.EndOffset())
	}
}

func TestRetentionBySize(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, SegmentBytes: 600, RetentionBytes: 1700})
	for i := range 8 {
		mustAppend(t, l, mkBatch(i, 1, 500, 1), -1)
	}
	n, err := l.ApplyRetention()
	if err != nil {
		t.Fatal(err)
	}
	if size := l.Size(); size < 1700 || n == 0 || l.StartOffset() != int64(n) {
		t.Fatalf("deleted %d, size %d, start %d", n, size, l.StartOffset())
	}
	if size := l.Size(); size-573 >= 1700 { // one segment less would still be over the limit
		t.Fatalf("size %d: retention stopped early", size)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != (8-n)*3-2 { // .log for each segment, indexes for all but the active one
		t.Fatalf("%d files left in the directory, want %d", len(entries), (8-n)*3-2)
	}
	if d, err := l.DeleteBefore(l.EndOffset()); err != nil || l.StartOffset() != 7 {
		t.Fatalf("DeleteBefore(end) deleted %d, %v, start %d; want start 7", d, err, l.StartOffset())
	}
}

func TestTruncateTo(t *testing.T) {
	tests := []struct {
		name   string
		offset int64
		code   errcode.Code
		end    int64
	}{
		{"inside the active segment", 27, "", 27},
		{"at a segment base", 15, "", 15},
		{"inside an old segment", 6, "", 6},
		{"everything", 0, "", 0},
		{"at the end", 30, "", 30},
		{"past the end", 99, "", 30},
		{"mid-batch", 7, errcode.InvalidArgument, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, SegmentBytes: 800, IndexIntervalBytes: 100}
			l := openLog(t, opts)
			var want [][]byte
			for i := range 10 {
				b := mkBatch(i, 3, 100, int64(i))
				mustAppend(t, l, b, -1) // batch i: offsets [3i, 3i+2]
				want = append(want, b)
			}
			err := l.TruncateTo(tt.offset)
			if errcode.CodeOf(err) != tt.code {
				t.Fatalf("TruncateTo(%d): %v, want code %q", tt.offset, err, tt.code)
			}
			if l.EndOffset() != tt.end {
				t.Fatalf("end %d, want %d", l.EndOffset(), tt.end)
			}
			b := mkBatch(50, 2, 100, 1)
			if base, _ := mustAppend(t, l, b, -1); base != tt.end {
				t.Fatalf("append after truncate got %d, want %d", base, tt.end)
			}
			want = append(want[:tt.end/3], b)
			for _, reopened := range []bool{false, true} {
				if reopened {
					l = reopen(t, l, opts)
				}
				got := allBatches(t, l)
				if len(got) != len(want) {
					t.Fatalf("%d batches, want %d", len(got), len(want))
				}
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("batch %d differs", i)
					}
				}
			}
		})
	}
}

func reopen(t *testing.T, l *Log, opts Options) *Log {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return openLog(t, opts)
}

func TestOffsetForTime(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir(), SegmentBytes: 2000, IndexIntervalBytes: 200})
	// Batch i has 2 records at offsets [2i, 2i+1]; timestamps rise except a late batch 5.
	ts := []int64{10, 20, 30, 40, 50, 15, 60, 70, 80, 90, 100, 110}
	for i, t0 := range ts {
		mustAppend(t, l, mkBatch(i, 2, 150, t0), -1)
	}
	tests := []struct{ ts, want int64 }{
		{0, 0}, {10, 0}, {11, 2}, {15, 2}, {41, 8}, {55, 12}, {60, 12}, {61, 14}, {110, 22}, {111, 24},
	}
	naive := func(target int64) int64 {
		for i, t0 := range ts {
			if t0 >= target {
				return int64(2 * i)
			}
		}
		return int64(2 * len(ts))
	}
	for _, tt := range tests {
		got, err := l.OffsetForTime(tt.ts)
		if err != nil || got != tt.want || got != naive(tt.ts) {
			t.Errorf("OffsetForTime(%d) = %d, %v; want %d", tt.ts, got, err, tt.want)
		}
	}
	// With LogAppendTime, the append time decides.
	base, _ := mustAppend(t, l, mkBatch(20, 1, 10, 5), 500)
	if got, _ := l.OffsetForTime(200); got != base {
		t.Fatalf("OffsetForTime(200) = %d, want the LogAppendTime batch at %d", got, base)
	}
}

func TestScanHeaders(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir(), SegmentBytes: 1000})
	for i := range 40 {
		mustAppend(t, l, mkBatch(i, 2, 100, 1), -1)
	}
	var bases []int64
	err := l.ScanHeaders(33, func(h batch.Header) bool {
		bases = append(bases, h.BaseOffset)
		return len(bases) < 10
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{32, 34, 36, 38, 40, 42, 44, 46, 48, 50}
	for i := range want {
		if i >= len(bases) || bases[i] != want[i] {
			t.Fatalf("scanned %v, want %v", bases, want)
		}
	}
	n := 0
	if err := l.ScanHeaders(0, func(batch.Header) bool { n++; return true }); err != nil || n != 40 {
		t.Fatalf("full scan saw %d batches, %v", n, err)
	}
}

func TestConcurrentAppendAndRead(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir(), SegmentBytes: 8 << 10, IndexIntervalBytes: 512})
	const writers, perWriter = 3, 150
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	for range 3 {
		readers.Go(func() {
			for ctx.Err() == nil {
				end := l.EndOffset()
				start := l.StartOffset()
				if end == start {
					continue
				}
				off := start + rand.Int64N(end-start)
				b, err := l.Read(off, 4096)
				if err != nil {
					t.Error(err)
					return
				}
				bs, err := batch.SplitComplete(b)
				if err != nil || len(bs) == 0 {
					t.Errorf("read %d: %d batches, %v", off, len(bs), err)
					return
				}
				for _, one := range bs {
					if _, err := batch.Validate(one); err != nil {
						t.Errorf("read a bad batch at %d: %v", off, err)
						return
					}
				}
			}
		})
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if _, _, err := l.Append(mkBatch(w*1000+i, 3, 64, 1), -1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	readers.Wait()
	if got := len(allBatches(t, l)); got != writers*perWriter {
		t.Fatalf("%d batches, want %d", got, writers*perWriter)
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir()})
	good := mkBatch(1, 1, 10, 1)
	tests := []struct {
		name string
		b    []byte
	}{
		{"two batches", append(append([]byte(nil), good...), good...)},
		{"truncated", good[:len(good)-1]},
		{"empty batch", batch.Build(nil, batch.BuildOptions{})},
	}
	for _, tt := range tests {
		if _, _, err := l.Append(tt.b, -1); !errcode.Is(err, errcode.CorruptData) {
			t.Errorf("%s: %v, want CorruptData", tt.name, err)
		}
	}
	if l.EndOffset() != 0 {
		t.Fatalf("end offset %d after rejected appends", l.EndOffset())
	}
}

func TestStaleFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"00000000000000000500.index", "00000000000000000000.index.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	openLog(t, Options{Dir: dir})
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "00000000000000000000.log" {
		t.Fatalf("directory holds %v", entries)
	}
}

func TestReadAppendReusesBuffer(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir()})
	mustAppend(t, l, mkBatch(1, 2, 50, 1), -1)
	want, err := l.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	dst := append(make([]byte, 0, 4096), "prefix"...)
	got, err := l.ReadAppend(dst, 1, 1<<20)
	if err != nil || string(got[:6]) != "prefix" || !bytes.Equal(got[6:], want) || &got[0] != &dst[:1][0] {
		t.Fatalf("ReadAppend returned %d bytes, %v; want the prefix then the batch, in dst", len(got), err)
	}
}
