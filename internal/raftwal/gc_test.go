package raftwal

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

func segmentCount(t *testing.T, w *WAL) int {
	t.Helper()
	seqs, err := w.listSegments()
	if err != nil {
		t.Fatal(err)
	}
	return len(seqs)
}

func appendN(t *testing.T, w *WAL, gid, from, n uint64) {
	t.Helper()
	for i := from; i < from+n; i++ {
		u := Update{Group: gid, HardState: hardState(2, 1, i-1), Entries: []*raftpb.Entry{newEntry(i, 2, 0, entryData(gid, i))}}
		if err := w.Save([]Update{u}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGCDeletesSegments fills many segments from several groups, an idle group whose only
// records are in the first segment and a group that is then removed; once every group has
// released its entries the old segments go (the idle group's state records are written again),
// and recovery after that is right. A group that does not release keeps its segments.
func TestGCDeletesSegments(t *testing.T) {
	fsys := crashfs.New()
	opts := Options{Dir: "/wal", FS: fsys, SegmentBytes: 2048}
	w, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if err := w.Save([]Update{{Group: 5, HardState: hardState(9, 2, 0), ConfState: cs}}); err != nil {
		t.Fatal(err)
	}
	for round := range uint64(40) {
		for gid := uint64(1); gid <= 4; gid++ {
			appendN(t, w, gid, round*5+1, 5)
		}
		appendN(t, w, 6, round+1, 1)
	}
	if err := w.RemoveGroup(6); err != nil {
		t.Fatal(err)
	}
	before := segmentCount(t, w)
	if before < 20 {
		t.Fatalf("only %d segments were written; the test needs many", before)
	}
	// Groups 1-3 release everything; group 4 keeps entries 101-200.
	for gid := uint64(1); gid <= 3; gid++ {
		w.Release(gid, 200)
	}
	w.Release(4, 100)
	for range 3 { // GC runs when a batch is sealed; deletions show at the next one
		if err := w.Save([]Update{{Group: 7, HardState: hardState(1, 0, 0)}}); err != nil {
			t.Fatal(err)
		}
	}
	mid := segmentCount(t, w)
	if mid >= before || mid < 5 {
		t.Fatalf("segments: %d before, %d after releasing all but group 4's last 100 entries", before, mid)
	}
	w.Release(4, 200)
	for range 3 {
		if err := w.Save([]Update{{Group: 7, HardState: hardState(1, 0, 0)}}); err != nil {
			t.Fatal(err)
		}
	}
	after := segmentCount(t, w)
	if after > 2 {
		t.Fatalf("segments: %d after every group released everything, want at most 2", after)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = Open(opts)
	if err != nil {
		t.Fatalf("reopen after GC: %v\n%s", err, dumpWAL(fsys, "/wal"))
	}
	defer w.Close()
	if got, want := w.Groups(), []uint64{1, 2, 3, 4, 5, 7}; !slices.Equal(got, want) {
		t.Fatalf("Groups() after GC and recovery = %v, want %v", got, want)
	}
	for gid := uint64(1); gid <= 4; gid++ {
		st := w.Storage(gid)
		first, _ := st.FirstIndex()
		last, _ := st.LastIndex()
		term, err := st.Term(200)
		if first != 201 || last != 200 || term != 2 || err != nil {
			t.Fatalf("group %d after GC: first %d last %d Term(200) = %d, %v", gid, first, last, term, err)
		}
	}
	hs, gotCS, _ := w.Storage(5).InitialState()
	if hs.GetTerm() != 9 || hs.GetVote() != 2 || !slices.Equal(gotCS.GetVoters(), cs.GetVoters()) {
		t.Fatalf("idle group 5 after GC: %v %v", hs, gotCS)
	}
	// The log goes on after GC and recovery.
	appendN(t, w, 4, 201, 3)
	ents, err := w.Storage(4).Entries(201, 204, 1<<20)
	if err != nil || len(ents) != 3 || !bytes.Equal(ents[2].GetData(), entryData(4, 203)) {
		t.Fatalf("entries after GC: %d, %v", len(ents), err)
	}
}

// TestGCKeepsUnreleasedEntriesReadable checks that entries a group has not released stay
// readable from their segments (not only the cache) after other groups' segments went.
func TestGCKeepsUnreleasedEntriesReadable(t *testing.T) {
	fsys := crashfs.New()
	opts := Options{Dir: "/wal", FS: fsys, SegmentBytes: 1024, CacheBytes: 1}
	w, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for round := range uint64(30) {
		appendN(t, w, 1, round*3+1, 3)
		appendN(t, w, 2, round+1, 1)
	}
	w.Release(1, 90)
	w.Release(2, 15)
	for range 3 {
		if err := w.Save([]Update{{Group: 3, HardState: hardState(1, 0, 0)}}); err != nil {
			t.Fatal(err)
		}
	}
	for pass := range 2 {
		ents, err := w.Storage(2).Entries(16, 31, 1<<20)
		if err != nil || len(ents) != 15 {
			t.Fatalf("pass %d: group 2 entries 16-30: %d, %v", pass, len(ents), err)
		}
		for _, e := range ents {
			if !bytes.Equal(e.GetData(), entryData(2, e.GetIndex())) {
				t.Fatalf("pass %d: entry %d has the wrong bytes", pass, e.GetIndex())
			}
		}
		w.Close()
		if w, err = Open(opts); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
}

// TestEntriesWhileCollecting reads entries from files (cache off) while another goroutine
// appends, releases and so deletes segments: a read either returns the right entries or
// raft.ErrCompacted (its segment went because the entries were released meanwhile).
func TestEntriesWhileCollecting(t *testing.T) {
	w, err := Open(Options{Dir: "/wal", FS: crashfs.New(), SegmentBytes: 1024, CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(1); i <= 600; i++ {
			u := Update{Group: 1, Entries: []*raftpb.Entry{newEntry(i, 2, 0, entryData(1, i))}}
			if err := w.Save([]Update{u}); err != nil {
				t.Error(err)
				return
			}
			if i%10 == 0 {
				w.Release(1, i-5)
			}
		}
	}()
	st := w.Storage(1)
	reads := 0
	for {
		select {
		case <-done:
			if reads == 0 {
				t.Fatal("no read happened")
			}
			return
		default:
		}
		first, _ := st.FirstIndex()
		last, _ := st.LastIndex()
		if last < first {
			continue
		}
		ents, err := st.Entries(first, last+1, 1<<20)
		if errors.Is(err, raft.ErrCompacted) {
			continue
		}
		if err != nil {
			t.Fatalf("Entries(%d, %d): %v", first, last+1, err)
		}
		for k, e := range ents {
			if e.GetIndex() != first+uint64(k) || !bytes.Equal(e.GetData(), entryData(1, e.GetIndex())) {
				t.Fatalf("entry %d: wrong index or bytes", first+uint64(k))
			}
		}
		reads++
	}
}
