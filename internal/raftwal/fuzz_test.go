package raftwal

import (
	"os"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

// FuzzDecodeFrame: any bytes decode to a record or an error, never a panic, and a decoded frame
// encodes back to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendRecord(nil, record{kind: kindEntry, group: 1, index: 2, term: 3, payload: []byte("x")}))
	f.Add(appendRecord(nil, record{kind: kindCompact, group: 1, index: 2, term: 3, payload: u64(9)}))
	f.Add([]byte{0, 0, 0, 25, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, n, err := decodeFrame(data)
		if err != nil {
			return
		}
		if got := appendRecord(nil, r); string(got) != string(data[:n]) {
			t.Fatalf("re-encoding a decoded frame gave different bytes")
		}
	})
}

// seedWAL returns the segment bytes of a small WAL with every kind of record.
func seedWAL(f *testing.F) []byte {
	fsys := crashfs.New()
	w, err := Open(Options{Dir: "/w", FS: fsys})
	if err != nil {
		f.Fatal(err)
	}
	idx, term := uint64(3), uint64(2)
	snap := &raftpb.Snapshot{Data: []byte("d"), Metadata: &raftpb.SnapshotMetadata{Index: &idx, Term: &term,
		ConfState: &raftpb.ConfState{Voters: []uint64{1}}}}
	_ = w.Save([]Update{
		{Group: 1, Entries: []*raftpb.Entry{newEntry(1, 1, 0, []byte("a")), newEntry(2, 1, 1, nil)}, HardState: hardState(1, 1, 1)},
		{Group: 2, Snapshot: snap, Entries: []*raftpb.Entry{newEntry(4, 2, 2, []byte("b"))}},
		{Group: 1, Entries: []*raftpb.Entry{newEntry(2, 2, 0, []byte("c"))}, ConfState: &raftpb.ConfState{Learners: []uint64{4}}},
	})
	w.Release(1, 1)
	_ = w.RemoveGroup(3)
	_ = w.Close()
	fl, _ := fsys.OpenFile("/w/"+segName(1), os.O_RDONLY, 0)
	st, _ := fl.Stat()
	buf := make([]byte, st.Size())
	_, _ = fl.ReadAt(buf, 0)
	return buf
}

// FuzzRecover opens a WAL whose segments are arbitrary bytes (split into two segment files):
// Open either fails or recovers groups whose Storage answers without panicking, and the
// allocation stays bounded by the input (frame lengths are checked against the file size).
func FuzzRecover(f *testing.F) {
	seed := seedWAL(f)
	f.Add(seed, uint16(0))
	f.Add(seed, uint16(len(seed)/2))
	f.Add(append(seed[:len(seed):len(seed)], 1, 2, 3), uint16(len(seed)))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		fsys := crashfs.New()
		_ = fsys.MkdirAll("/w", 0o700)
		cut := min(int(split), len(data))
		for i, part := range [][]byte{data[:cut], data[cut:]} {
			if len(part) == 0 {
				continue
			}
			fl, _ := fsys.OpenFile("/w/"+segName(uint64(i+1)), os.O_RDWR|os.O_CREATE, 0o600)
			_, _ = fl.WriteAt(part, 0)
			_ = fl.Sync()
		}
		_ = fsys.SyncDir("/w")
		w, err := Open(Options{Dir: "/w", FS: fsys})
		if err != nil {
			return
		}
		defer w.Close()
		for _, g := range w.Groups() {
			st := w.Storage(g)
			first, _ := st.FirstIndex()
			last, _ := st.LastIndex()
			_, _, _ = st.InitialState()
			_, _ = st.Snapshot()
			_, _ = st.Term(first - 1)
			if last >= first {
				if _, err := st.Entries(first, last+1, 1<<20); err != nil {
					t.Fatalf("group %d: Entries(%d, %d) after a successful Open: %v", g, first, last+1, err)
				}
			}
		}
		if err := w.Save([]Update{{Group: 99, HardState: hardState(1, 0, 0)}}); err != nil {
			t.Fatalf("Save after recovering: %v", err)
		}
	})
}
