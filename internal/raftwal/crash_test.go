package raftwal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

// entryData is the payload of entry index of group g in the crash tests, so that any entry read
// back can be checked.
func entryData(g, index uint64) []byte {
	n := int((g*7919 + index*104729) % 900)
	return bytes.Repeat([]byte{byte(g), byte(index)}, n/2+1)
}

type crashPoint struct {
	fs    *crashfs.FS
	acked []uint64 // per group: the last index whose Save had returned before the clone
	rel   []uint64 // per group: an upper bound of what was released before the clone
}

// TestCrashKeepsEverySavedEntry saves from several goroutines at once (one group each), takes
// crash clones of the filesystem at random moments (some with torn unsynced tails), and checks
// that each clone opens without error and holds every entry whose Save had returned, with the
// right bytes, and nothing that was never written.
func TestCrashKeepsEverySavedEntry(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	for seed := range uint64(seeds) {
		runCrash(t, seed)
	}
}

func runCrash(t *testing.T, seed uint64) {
	const groups, saves = 6, 120
	rnd := rand.New(rand.NewPCG(seed, 99))
	fsys := crashfs.New()
	opts := Options{Dir: "/node/wal", FS: fsys, SegmentBytes: int64(4096 + rnd.IntN(16384)), CacheBytes: 4096}
	w, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	thresholds := map[int64]bool{}
	for range 8 {
		thresholds[1+rnd.Int64N(groups*saves)] = true
	}
	var (
		acked, released [groups]atomic.Uint64
		count           atomic.Int64
		mu              sync.Mutex
		points          []crashPoint
		wg              sync.WaitGroup
	)
	clone := func(r *rand.Rand) {
		p := crashPoint{acked: make([]uint64, groups), rel: make([]uint64, groups)}
		for g := range groups { // a lower bound: read before the clone
			p.acked[g] = acked[g].Load()
		}
		co := crashfs.CrashOptions{}
		if r.IntN(2) == 0 {
			co.Rand = r
		}
		p.fs = fsys.CrashClone(co)
		for g := range groups { // an upper bound: read after
			p.rel[g] = released[g].Load()
		}
		mu.Lock()
		points = append(points, p)
		mu.Unlock()
	}
	errs := make(chan error, groups)
	for g := range groups {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			gid := uint64(g + 1)
			next := uint64(1)
			for range saves {
				n := 1 + r.IntN(3)
				u := Update{Group: gid, HardState: hardState(1, 1, next-1)}
				for i := range n {
					u.Entries = append(u.Entries, newEntry(next+uint64(i), 1, raftpb.EntryType_EntryNormal, entryData(gid, next+uint64(i))))
				}
				if err := w.Save([]Update{u}); err != nil {
					errs <- fmt.Errorf("group %d: Save: %w", gid, err)
					return
				}
				next += uint64(n)
				acked[g].Store(next - 1)
				if r.IntN(5) == 0 && next > 5 {
					rel := next - 1 - uint64(r.IntN(4))
					// Recorded before the call: a clone taken meanwhile may already hold it.
					released[g].Store(max(released[g].Load(), rel))
					w.Release(gid, rel)
				}
				if thresholds[count.Add(1)] {
					clone(r)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("seed %d: Close: %v", seed, err)
	}
	clone(rnd) // after Close: everything is durable
	for i, p := range points {
		checkCrashPoint(t, fmt.Sprintf("seed %d crash %d", seed, i), opts, p)
	}
}

func checkCrashPoint(t *testing.T, name string, opts Options, p crashPoint) {
	t.Helper()
	opts.FS = p.fs
	w, err := Open(opts)
	if err != nil {
		t.Fatalf("%s: Open after the crash: %v\n%s", name, err, dumpWAL(p.fs, opts.Dir))
	}
	defer w.Close()
	for g := range p.acked {
		gid := uint64(g + 1)
		st := w.Storage(gid)
		first, _ := st.FirstIndex()
		last, _ := st.LastIndex()
		if last < p.acked[g] {
			t.Fatalf("%s: group %d: last index %d after the crash, but Save had returned for %d", name, gid, last, p.acked[g])
		}
		if first > p.acked[g]+1 && first > p.rel[g]+1 {
			t.Fatalf("%s: group %d: first index %d, but only %d was released", name, gid, first, p.rel[g])
		}
		if last < first {
			continue
		}
		ents, err := st.Entries(first, last+1, 1<<40)
		if err != nil || uint64(len(ents)) != last-first+1 {
			t.Fatalf("%s: group %d: Entries(%d, %d) = %d entries, %v", name, gid, first, last+1, len(ents), err)
		}
		for _, e := range ents {
			if !bytes.Equal(e.GetData(), entryData(gid, e.GetIndex())) || e.GetTerm() != 1 {
				t.Fatalf("%s: group %d: entry %d has the wrong bytes or term", name, gid, e.GetIndex())
			}
		}
		if hs, _, _ := st.InitialState(); raft.IsEmptyHardState(hs) && p.acked[g] > 0 {
			t.Fatalf("%s: group %d: no HardState after a Save with one returned", name, gid)
		}
	}
}

// TestTornTailIsTruncated cuts the last segment at every byte of its last record: Open must
// succeed, keep every earlier record and write after the cut.
func TestTornTailIsTruncated(t *testing.T) {
	fsys := crashfs.New()
	opts := Options{Dir: "/wal", FS: fsys}
	w, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 3; i++ {
		if err := w.Save([]Update{{Group: 7, Entries: []*raftpb.Entry{newEntry(i, 1, 0, entryData(7, i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	f, _ := fsys.OpenFile("/wal/"+segName(1), os.O_RDWR, 0)
	st, _ := f.Stat()
	size := st.Size()
	recLen := int64(frameHeader + bodyFixed + len(entryData(7, 3)))
	for cut := size - recLen; cut < size; cut++ {
		c := fsys.CrashClone(crashfs.CrashOptions{})
		cf, _ := c.OpenFile("/wal/"+segName(1), os.O_RDWR, 0)
		_ = cf.Truncate(cut)
		if cut > size-recLen {
			_, _ = cf.WriteAt([]byte{0xff}, cut-1) // garbage in the torn record too
		}
		_ = cf.Sync()
		w, err := Open(Options{Dir: "/wal", FS: c})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if last, _ := w.Storage(7).LastIndex(); last != 2 {
			t.Fatalf("cut at %d: last index %d, want 2", cut, last)
		}
		if err := w.Save([]Update{{Group: 7, Entries: []*raftpb.Entry{newEntry(3, 2, 0, []byte("again"))}}}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		w, err = Open(Options{Dir: "/wal", FS: c})
		if err != nil {
			t.Fatalf("cut at %d, reopen: %v", cut, err)
		}
		if ents, err := w.Storage(7).Entries(3, 4, 1<<20); err != nil || string(ents[0].GetData()) != "again" {
			t.Fatalf("cut at %d: entry 3 after rewrite: %v %v", cut, ents, err)
		}
		w.Close()
	}
}

// TestCorruptOlderSegmentRefusesToOpen flips a byte in a segment that is not the last: that
// cannot be a torn write, so Open fails naming the segment (not the directory path).
func TestCorruptOlderSegmentRefusesToOpen(t *testing.T) {
	fsys := crashfs.New()
	opts := Options{Dir: "/secret/wal", FS: fsys, SegmentBytes: 512}
	w, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 10; i++ {
		if err := w.Save([]Update{{Group: 1, Entries: []*raftpb.Entry{newEntry(i, 1, 0, entryData(1, i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	f, _ := fsys.OpenFile("/secret/wal/"+segName(1), os.O_RDWR, 0)
	_, _ = f.WriteAt([]byte{0x42}, 20)
	_, err = Open(opts)
	if err == nil || !strings.Contains(err.Error(), segName(1)) || strings.Contains(err.Error(), "/secret") {
		t.Fatalf("Open of a WAL with a corrupt older segment: %v; want an error naming %s without the path", err, segName(1))
	}
	var torn *errTorn
	if !errors.As(err, &torn) && !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("error does not say the segment is corrupt: %v", err)
	}
}
