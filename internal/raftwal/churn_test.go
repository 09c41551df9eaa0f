package raftwal

import (
	"slices"
	"testing"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

// TestRemovedGroupsChurn: groups created and removed one after another (event hubs created and
// deleted) while a long-lived group keeps writing and releasing: the WAL's files stay few (no
// segment is kept for a removed group's records), and a reopened WAL, after a crash too, knows
// only the live group.
func TestRemovedGroupsChurn(t *testing.T) {
	fsys := crashfs.New()
	opts := Options{Dir: "/wal", FS: fsys, SegmentBytes: 2048}
	w, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	const live = 1
	next := uint64(1)
	for gid := uint64(100); gid < 160; gid++ {
		appendN(t, w, gid, 1, 8)
		appendN(t, w, live, next, 4)
		next += 4
		w.Release(live, next-2)
		if err := w.RemoveGroup(gid); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // GC runs when a batch is sealed; deletions show at the next one
		appendN(t, w, live, next, 1)
		next++
		w.Release(live, next-2)
	}
	if n := segmentCount(t, w); n > 6 {
		t.Fatalf("%d WAL segments after 60 groups came and went: removed groups pin segments", n)
	}
	if gs := w.Groups(); !slices.Equal(gs, []uint64{live}) {
		t.Fatalf("groups %v, want only %d", gs, live)
	}
	for _, reopen := range []string{"crash", "close"} {
		if reopen == "crash" {
			opts.FS = fsys.CrashClone(crashfs.CrashOptions{}) // the power fails; w goes on below
		} else if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		old := w
		if w, err = Open(opts); err != nil {
			t.Fatalf("reopen after %s: %v", reopen, err)
		}
		if gs := w.Groups(); !slices.Equal(gs, []uint64{live}) {
			t.Fatalf("after %s: groups %v, want only %d", reopen, gs, live)
		}
		if last, _ := w.Storage(live).LastIndex(); last != next-1 {
			t.Fatalf("after %s: the live group ends at %d, want %d", reopen, last, next-1)
		}
		if reopen == "crash" {
			old.Close()
		}
	}
	w.Close()
}
