package raftwal

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

// simNode is one replica of a 3-voter raft group with AsyncStorageWrites, its WAL on a
// crashable FS, and a state machine (the data of applied entries) snapshotted into the WAL.
type simNode struct {
	id      uint64
	fs      *crashfs.FS
	w       *WAL
	rn      *raft.RawNode
	state   []string // applied proposals
	applied uint64   // applied index
}

type simCluster struct {
	t         *testing.T
	seed      uint64
	rnd       *rand.Rand
	nodes     []*simNode
	queue     []*raftpb.Message
	committed map[uint64]string // index → data, to check that every replica applies the same
	dropPct   int
	// What the run exercised, checked at the end so the test cannot pass vacuously.
	snapshotsInstalled, conflicts, crashes int
}

func (c *simCluster) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("seed %d: %s", c.seed, fmt.Sprintf(format, args...))
}

func (c *simCluster) start(n *simNode, bootstrap bool) {
	c.t.Helper()
	w, err := Open(Options{Dir: "/wal", FS: n.fs, SegmentBytes: 2048, CacheBytes: 1024})
	if err != nil {
		c.fatalf("node %d: open: %v", n.id, err)
	}
	snap, _ := w.Storage(1).Snapshot()
	n.w, n.state, n.applied = w, decodeState(c, snap.GetData()), snap.GetMetadata().GetIndex()
	cfg := &raft.Config{ID: n.id, ElectionTick: 10, HeartbeatTick: 1, Storage: w.Storage(1), Applied: n.applied,
		MaxSizePerMsg: 2048, MaxInflightMsgs: 8, PreVote: true, CheckQuorum: true, AsyncStorageWrites: true,
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}}
	if n.rn, err = raft.NewRawNode(cfg); err != nil {
		c.fatalf("node %d: %v", n.id, err)
	}
	if bootstrap {
		if err := n.rn.Bootstrap([]raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}); err != nil {
			c.fatalf("bootstrap: %v", err)
		}
	}
}

func decodeState(c *simCluster, data []byte) []string {
	var s []string
	if len(data) > 0 {
		if err := json.Unmarshal(data, &s); err != nil {
			c.fatalf("snapshot data: %v", err)
		}
	}
	return s
}

// process handles one node's Ready: local storage work at once (Save, then its responses),
// other messages onto the network.
func (c *simCluster) process(n *simNode) {
	c.t.Helper()
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		for _, m := range rd.Messages {
			switch m.GetTo() {
			case raft.LocalAppendThread:
				u := UpdateFromAppend(1, m)
				if last, _ := n.w.Storage(1).LastIndex(); len(u.Entries) > 0 && u.Entries[0].GetIndex() <= last {
					c.conflicts++
				}
				if err := n.w.Save([]Update{u}); err != nil {
					c.fatalf("node %d: Save: %v", n.id, err)
				}
				if !raft.IsEmptySnap(u.Snapshot) {
					c.snapshotsInstalled++
					n.state, n.applied = decodeState(c, u.Snapshot.GetData()), u.Snapshot.GetMetadata().GetIndex()
				}
				c.respond(n, m)
			case raft.LocalApplyThread:
				for _, e := range m.GetEntries() {
					c.apply(n, e)
				}
				c.respond(n, m)
			default:
				c.queue = append(c.queue, m)
			}
		}
	}
}

func (c *simCluster) respond(n *simNode, m *raftpb.Message) {
	for _, r := range m.GetResponses() {
		if r.GetTo() == n.id {
			_ = n.rn.Step(r)
		} else {
			c.queue = append(c.queue, r)
		}
	}
}

func (c *simCluster) apply(n *simNode, e *raftpb.Entry) {
	c.t.Helper()
	if e.GetIndex() != n.applied+1 {
		c.fatalf("node %d applies entry %d after %d", n.id, e.GetIndex(), n.applied)
	}
	n.applied = e.GetIndex()
	switch e.GetType() {
	case raftpb.EntryType_EntryConfChange:
		cc := &raftpb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), cc); err != nil {
			c.fatalf("conf change: %v", err)
		}
		if err := n.w.Save([]Update{{Group: 1, ConfState: n.rn.ApplyConfChange(cc)}}); err != nil {
			c.fatalf("node %d: Save ConfState: %v", n.id, err)
		}
	case raftpb.EntryType_EntryNormal:
		if len(e.GetData()) == 0 {
			return
		}
		d := string(e.GetData())
		if prev, ok := c.committed[e.GetIndex()]; ok && prev != d {
			c.fatalf("node %d applied %q at index %d where another replica applied %q", n.id, d, e.GetIndex(), prev)
		}
		c.committed[e.GetIndex()] = d
		n.state = append(n.state, d)
	}
}

// checkpoint snapshots the state machine into the WAL, which compacts the log before it.
func (c *simCluster) checkpoint(n *simNode) {
	c.t.Helper()
	st := n.w.Storage(1)
	term, err := st.Term(n.applied)
	if err != nil || n.applied == 0 {
		return // already compacted (a snapshot was just installed)
	}
	data, _ := json.Marshal(n.state)
	_, cs, _ := st.InitialState()
	idx := n.applied
	snap := &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{Index: &idx, Term: &term, ConfState: cs}}
	if err := st.SetSnapshot(snap); err != nil {
		if cur, _ := st.Snapshot(); cur.GetMetadata().GetIndex() >= idx {
			return
		}
		c.fatalf("node %d: SetSnapshot(%d): %v", n.id, idx, err)
	}
}

func (c *simCluster) deliver() {
	if len(c.queue) == 0 {
		return
	}
	i := c.rnd.IntN(len(c.queue))
	m := c.queue[i]
	c.queue = append(c.queue[:i], c.queue[i+1:]...)
	drop := c.rnd.IntN(100) < c.dropPct
	if m.GetType() == raftpb.MessageType_MsgSnap { // the sender must hear how a snapshot went
		status := raft.SnapshotFinish
		if drop {
			status = raft.SnapshotFailure
		}
		c.nodes[m.GetFrom()-1].rn.ReportSnapshot(m.GetTo(), status)
	}
	if drop {
		return
	}
	n := c.nodes[m.GetTo()-1]
	_ = n.rn.Step(m)
	c.process(n)
}

func (c *simCluster) crash(n *simNode) {
	c.t.Helper()
	c.crashes++
	n.fs = n.fs.CrashClone(crashfs.CrashOptions{Rand: c.rnd})
	if err := n.w.Close(); err != nil {
		c.fatalf("node %d: close: %v", n.id, err)
	}
	c.start(n, false)
}

func (c *simCluster) leader() *simNode {
	for _, n := range c.nodes {
		if n.rn.BasicStatus().RaftState == raft.StateLeader {
			return n
		}
	}
	return nil
}

// TestClusterOverWAL runs three replicas with AsyncStorageWrites on their own WALs through a
// lossy, reordering network, with crashes (power loss of a node's WAL), snapshots that compact
// the logs (so lagging replicas get snapshots) and conflicting appends after leader changes.
// Every replica must apply the same entry at each index, in order, and after the network heals
// every replica applies a final proposal.
func TestClusterOverWAL(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 6
	}
	if v := os.Getenv("RAFTWAL_CLUSTER_SEEDS"); v != "" { // more seeds, by hand
		if _, err := fmt.Sscanf(v, "%d", &seeds); err != nil {
			t.Fatalf("RAFTWAL_CLUSTER_SEEDS=%q: want a count", v)
		}
	}
	var snaps, conflicts, crashes int
	for seed := range uint64(seeds) {
		c := runCluster(t, seed)
		snaps, conflicts, crashes = snaps+c.snapshotsInstalled, conflicts+c.conflicts, crashes+c.crashes
	}
	t.Logf("%d seeds: %d snapshots installed, %d conflicting appends, %d crashes", seeds, snaps, conflicts, crashes)
	if snaps == 0 || conflicts == 0 || crashes == 0 {
		t.Fatalf("the runs did not exercise snapshots, conflicts and crashes: %d, %d, %d", snaps, conflicts, crashes)
	}
}

func runCluster(t *testing.T, seed uint64) *simCluster {
	c := &simCluster{t: t, seed: seed, rnd: rand.New(rand.NewPCG(seed, 7)), committed: map[uint64]string{}, dropPct: 10}
	for id := uint64(1); id <= 3; id++ {
		n := &simNode{id: id, fs: crashfs.New()}
		c.nodes = append(c.nodes, n)
		c.start(n, true)
	}
	proposals := 0
	for step := range 3000 {
		n := c.nodes[c.rnd.IntN(3)]
		switch op := c.rnd.IntN(100); {
		case op < 25:
			n.rn.Tick()
		case op < 40:
			_ = n.rn.Propose(fmt.Appendf(nil, "p%d-%d", seed, step))
			proposals++
		case op < 42:
			c.checkpoint(n)
		case op < 43:
			c.crash(n)
		default:
			c.deliver()
		}
		c.process(n)
	}
	// Heal: no drops, tick until a leader commits a final proposal everywhere.
	c.dropPct = 0
	final := fmt.Sprintf("final-%d", seed)
	has := func(n *simNode) bool { return slices.Contains(n.state, final) }
	for i := range 20000 {
		if has(c.nodes[0]) && has(c.nodes[1]) && has(c.nodes[2]) {
			break
		}
		if l := c.leader(); l != nil && i%200 == 0 { // a proposal can be lost in a leader change
			_ = l.rn.Propose([]byte(final))
		}
		for _, n := range c.nodes {
			n.rn.Tick()
			c.process(n)
		}
		for range 20 {
			c.deliver()
		}
	}
	for _, n := range c.nodes {
		if !has(n) {
			c.fatalf("node %d did not apply the final proposal after healing (applied %d, %d proposals)", n.id, n.applied, proposals)
		}
		if err := n.w.Close(); err != nil {
			c.fatalf("node %d: close: %v", n.id, err)
		}
	}
	return c
}
