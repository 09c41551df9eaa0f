package raftwal

import (
	"fmt"
	"io"
	"log"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

// node is a one-voter raft group whose storage is the WAL, driven by Ready (as a host would for
// a group without AsyncStorageWrites). applied is the state machine: the data of every applied
// normal entry, in order.
type node struct {
	t       *testing.T
	w       *WAL
	rn      *raft.RawNode
	applied []string
	index   uint64 // the applied index
}

func startNode(t *testing.T, w *WAL, appliedIndex uint64) *node {
	t.Helper()
	cfg := &raft.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: w.Storage(1), Applied: appliedIndex,
		MaxSizePerMsg: 4 << 10, MaxInflightMsgs: 16, Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}}
	rn, err := raft.NewRawNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &node{t: t, w: w, rn: rn, index: appliedIndex}
}

// drain handles Ready until there is none: persist, apply, advance.
func (n *node) drain() {
	n.t.Helper()
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		u := Update{Group: 1, Entries: rd.Entries, HardState: rd.HardState, Snapshot: rd.Snapshot}
		if err := n.w.Save([]Update{u}); err != nil {
			n.t.Fatal(err)
		}
		for _, e := range rd.CommittedEntries {
			switch e.GetType() {
			case raftpb.EntryType_EntryConfChange:
				cc := &raftpb.ConfChange{}
				if err := proto.Unmarshal(e.GetData(), cc); err != nil {
					n.t.Fatal(err)
				}
				cs := n.rn.ApplyConfChange(cc)
				if err := n.w.Save([]Update{{Group: 1, ConfState: cs}}); err != nil {
					n.t.Fatal(err)
				}
			case raftpb.EntryType_EntryNormal:
				if len(e.GetData()) > 0 {
					n.applied = append(n.applied, string(e.GetData()))
				}
			}
			n.index = e.GetIndex()
		}
		n.rn.Advance(rd)
	}
}

func (n *node) propose(from, to int) {
	n.t.Helper()
	for i := from; i < to; i++ {
		if err := n.rn.Propose(fmt.Appendf(nil, "event-%04d-%s", i, make([]byte, i%300))); err != nil {
			n.t.Fatal(err)
		}
		n.drain()
		if i%17 == 0 && n.index > 20 {
			n.w.Release(1, n.index-20) // the state machine checkpointed up to here
		}
	}
}

func (n *node) campaign() {
	n.t.Helper()
	if err := n.rn.Campaign(); err != nil {
		n.t.Fatal(err)
	}
	n.drain()
	if st := n.rn.BasicStatus(); st.RaftState != raft.StateLeader {
		n.t.Fatalf("not leader after campaigning: %v", st.RaftState)
	}
}

// TestRawNodeOverWAL runs a real raft RawNode on the WAL's Storage: bootstrap, elect, propose
// and apply, release (GC over tiny segments), then restart from the WAL (clean and after a crash)
// and carry on: raft must find its log, HardState and ConfState, re-deliver the entries after
// the applied index, and every proposal is applied exactly once, in order.
func TestRawNodeOverWAL(t *testing.T) {
	fsys := crashfs.New()
	opts := Options{Dir: "/wal", FS: fsys, SegmentBytes: 4096}
	w, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, w, 0)
	if err := n.rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	n.drain()
	n.campaign()
	n.propose(0, 150)
	applied := n.applied
	for round, crash := range []bool{false, true, false} {
		// The state machine keeps what it applied (it checkpointed it); a restarted raft node
		// starts from the last Release point and must re-deliver the entries after it.
		st := w.Storage(1)
		first, _ := st.FirstIndex()
		if crash {
			fsys = fsys.CrashClone(crashfs.CrashOptions{})
			opts.FS = fsys
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if w, err = Open(opts); err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if segs := segmentCount(t, w); segs > 8 {
			t.Fatalf("round %d: %d segments left; Release should have collected most", round, segs)
		}
		n = startNode(t, w, first-1)
		n.applied = applied[:len(applied):len(applied)]
		skip := n.countApplied(first - 1)
		n.applied = applied[:skip:skip]
		n.drain()
		if len(n.applied) != len(applied) {
			t.Fatalf("round %d: %d entries applied after the restart, want %d", round, len(n.applied), len(applied))
		}
		n.campaign()
		n.propose(150+round*50, 200+round*50)
		applied = n.applied
	}
	for i, a := range applied {
		if want := fmt.Sprintf("event-%04d-", i); a[:len(want)] != want {
			t.Fatalf("applied[%d] = %q, want %q...", i, a[:len(want)], want)
		}
	}
	if len(applied) != 300 {
		t.Fatalf("%d entries applied in all, want 300", len(applied))
	}
	w.Close()
}

// countApplied returns how many proposals the state machine had applied at index (its
// checkpoint): all it applied, less the proposals in the log after index, which raft will
// deliver again. (In this one-node test every logged entry was committed and applied.)
func (n *node) countApplied(index uint64) int {
	st := n.w.Storage(1)
	last, _ := st.LastIndex()
	if last <= index {
		return len(n.applied)
	}
	ents, err := st.Entries(index+1, last+1, 1<<40)
	if err != nil {
		n.t.Fatal(err)
	}
	redo := 0
	for _, e := range ents {
		if e.GetType() == raftpb.EntryType_EntryNormal && len(e.GetData()) > 0 {
			redo++
		}
	}
	return len(n.applied) - redo
}
