package log

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// readCountFS counts the bytes read from .log files.
type readCountFS struct {
	OSFS
	read atomic.Int64
}

func (c *readCountFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, logSuffix) {
		return f, err
	}
	return &readCountFile{File: f, n: &c.read}, nil
}

type readCountFile struct {
	File
	n *atomic.Int64
}

func (f *readCountFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.n.Add(int64(n))
	return n, err
}

// activeState is the in-memory state of the active segment, without its file.
func activeState(l *Log) segment {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := *l.mu.segs[len(l.mu.segs)-1]
	s.f = nil
	return s
}

// TestCleanCloseSkipsActiveScan checks that an open after a clean close reads a bounded
// part of the active segment and rebuilds the same state as a full scan; that the mark is
// consumed by the open (a crash after it scans again); and that a mark naming another size
// or a damaged mark is ignored.
func TestCleanCloseSkipsActiveScan(t *testing.T) {
	old := cleanCloseMinBytes
	cleanCloseMinBytes = 0
	t.Cleanup(func() { cleanCloseMinBytes = old })
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	dir := t.TempDir()
	fsys := &readCountFS{}
	opts := Options{Dir: dir, FS: fsys, SegmentBytes: 1 << 30, Logger: quiet}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		ts := int64(1000 + i + rng.IntN(200) - 100) // timestamps that sometimes go back
		mustAppend(t, l, mkBatch(i, 1+rng.IntN(3), 10+rng.IntN(100), ts), ts)
	}
	want := allBatches(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(dir, cleanFile)
	good, err := os.ReadFile(mark)
	if err != nil {
		t.Fatalf("a clean close left no mark: %v", err)
	}
	segFile := segmentName(dir, 0, logSuffix)
	st, err := os.Stat(segFile)
	if err != nil {
		t.Fatal(err)
	}

	// The full-scan reference: the same directory opened without the mark.
	full := func(t *testing.T) segment {
		t.Helper()
		os.Remove(mark)
		l := openLog(t, Options{Dir: dir, SegmentBytes: 1 << 30})
		s := activeState(l)
		l.Close()
		os.Remove(mark)
		return s
	}
	ref := full(t)

	writeMark := func(b []byte) {
		if err := os.WriteFile(mark, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeMark(good)
	fsys.read.Store(0)
	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := fsys.read.Load(); n > 64<<10 {
		t.Fatalf("the open after a clean close read %d bytes of a %d-byte active segment", n, st.Size())
	}
	if got := activeState(l); !reflect.DeepEqual(got, ref) {
		t.Fatalf("state loaded from the indexes differs from a full scan:\n got %+v\nwant %+v", got, ref)
	}
	if _, err := os.Stat(mark); !os.IsNotExist(err) {
		t.Fatalf("the open left the clean-close mark in place: %v", err)
	}
	if got := allBatches(t, l); !reflect.DeepEqual(got, want) {
		t.Fatal("the batches read after the clean open differ")
	}
	mustAppend(t, l, mkBatch(9999, 2, 50, 9999), 9999)
	// A crash now (no Close): the mark is gone, so the next open scans.
	l.stopSyncerLocked()
	l.closeFiles()
	fsys.read.Store(0)
	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, size := fsys.read.Load(), st.Size(); n < size {
		t.Fatalf("the open after a crash read %d bytes of a %d-byte active segment; want a full scan", n, size)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ref = full(t)

	good, err = os.ReadFile(segFile)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(good))
	for _, c := range []struct {
		name string
		mark []byte
	}{
		{"mark of another size", cleanMark{0, size - 1}.encode()},
		{"mark of another segment", cleanMark{7, size}.encode()},
		{"damaged mark", append(cleanMark{0, size}.encode()[:cleanMarkSize-1], 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			writeMark(c.mark)
			fsys.read.Store(0)
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if n := fsys.read.Load(); n < size {
				t.Fatalf("the open read %d bytes of a %d-byte active segment; want a full scan", n, size)
			}
			if got := activeState(l); !reflect.DeepEqual(got, ref) {
				t.Fatalf("state differs from a full scan:\n got %+v\nwant %+v", got, ref)
			}
		})
	}
}
