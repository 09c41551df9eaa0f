package raftwal

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

func TestFilesArePrivate(t *testing.T) {
	fsys := crashfs.New()
	w, err := Open(Options{Dir: "/data/wal", FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 1, 1, 2)
	w.Close()
	if st, _ := fsys.Stat("/data/wal"); st.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", st.Mode().Perm())
	}
	if st, _ := fsys.Stat("/data/wal/" + segName(1)); st.Mode().Perm() != 0o600 {
		t.Fatalf("segment mode %v, want 0600", st.Mode().Perm())
	}
}

func TestSaveRefusesGapsAndOldSnapshots(t *testing.T) {
	w, err := Open(Options{Dir: "/w", FS: crashfs.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	appendN(t, w, 1, 1, 3)
	err = w.Save([]Update{{Group: 1, Entries: []*raftpb.Entry{newEntry(5, 2, 0, nil)}}})
	if err == nil {
		t.Fatal("an append leaving a gap was accepted")
	}
	idx, term := uint64(2), uint64(2)
	snap := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: &idx, Term: &term}}
	if err := w.Storage(1).SetSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := w.Storage(1).SetSnapshot(snap); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("an old snapshot: %v, want ErrSnapOutOfDate", err)
	}
	if last, _ := w.Storage(1).LastIndex(); last != 3 {
		t.Fatalf("last index %d after the refused writes, want 3", last)
	}
}

func TestClosedWAL(t *testing.T) {
	w, err := Open(Options{Dir: "/w", FS: crashfs.New()})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := w.Save([]Update{{Group: 1, HardState: hardState(1, 0, 0)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close: %v", err)
	}
	w.Release(1, 5) // no panic, no effect
}
