package meta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/multiraft"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

const metaGroup = 7

// raftNet is an in-process transport: Send hands a copy of each message to the target host's
// Deliver, which only queues. A stopped node is absent and its messages are lost.
type raftNet struct {
	mu    sync.RWMutex
	hosts map[uint64]*multiraft.Host

	holdMu sync.Mutex
	held   map[uint64][]multiraft.Envelope // messages to a held node, queued until release
}

func (n *raftNet) Send(envs []multiraft.Envelope) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, e := range envs {
		e = multiraft.Envelope{Group: e.Group, Msg: proto.Clone(e.Msg).(*raftpb.Message)}
		n.holdMu.Lock()
		q, held := n.held[e.Msg.GetTo()]
		if held {
			n.held[e.Msg.GetTo()] = append(q, e)
		}
		n.holdMu.Unlock()
		if h := n.hosts[e.Msg.GetTo()]; h != nil && !held {
			h.Deliver([]multiraft.Envelope{e})
		}
	}
}

// hold queues the messages to node id until release.
func (n *raftNet) hold(id uint64) {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	if n.held == nil {
		n.held = map[uint64][]multiraft.Envelope{}
	}
	n.held[id] = []multiraft.Envelope{}
}

// heldTypes returns the types of the messages held for node id.
func (n *raftNet) heldTypes(id uint64) map[raftpb.MessageType]int {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	out := map[raftpb.MessageType]int{}
	for _, e := range n.held[id] {
		out[e.Msg.GetType()]++
	}
	return out
}

// release delivers the messages held for node id, in order, and stops holding them.
func (n *raftNet) release(id uint64) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	n.holdMu.Lock()
	q := n.held[id]
	delete(n.held, id)
	n.holdMu.Unlock()
	if h := n.hosts[id]; h != nil {
		h.Deliver(q)
	}
}

func (n *raftNet) set(id uint64, h *multiraft.Host) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if h == nil {
		delete(n.hosts, id)
	} else {
		n.hosts[id] = h
	}
}

// raftNode is one node: its raft log store and metadata directory survive a stop.
type raftNode struct {
	id    uint64
	logs  *multiraft.MemLogStore
	dir   string
	host  *multiraft.Host
	store *RaftStore
}

// raftCluster is three nodes with real host goroutines (10 ms ticks) on a raftNet.
type raftCluster struct {
	t           *testing.T
	mu          sync.Mutex // guards the nodes' host and store (proposers read them while nodes stop)
	net         *raftNet
	peers       []uint64
	nodes       map[uint64]*raftNode
	snapEntries int // the hosts' SnapshotEntries
	ckptEvery   int
	timeout     time.Duration // the stores' ProposeTimeout (0: the default)
}

func newRaftCluster(t *testing.T, snapEntries, ckptEvery int) *raftCluster {
	t.Helper()
	c := &raftCluster{t: t, net: &raftNet{hosts: map[uint64]*multiraft.Host{}}, peers: []uint64{1, 2, 3},
		nodes: map[uint64]*raftNode{}, snapEntries: snapEntries, ckptEvery: ckptEvery}
	for _, id := range c.peers {
		c.nodes[id] = &raftNode{id: id, logs: multiraft.NewMemLogStore(), dir: filepath.Join(t.TempDir(), fmt.Sprint(id))}
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.peers {
			if c.nodes[id].host != nil {
				c.stop(id, false)
			}
		}
	})
	return c
}

func (c *raftCluster) start(id uint64) {
	c.t.Helper()
	n := c.nodes[id]
	h, err := multiraft.New(multiraft.Options{NodeID: id, LogStore: n.logs, Transport: c.net,
		TickInterval: 10 * time.Millisecond, SnapshotEntries: c.snapEntries})
	if err != nil {
		c.t.Fatal(err)
	}
	st, err := OpenRaft(RaftStoreOptions{Dir: n.dir, Group: metaGroup, Raft: h, CheckpointEvery: c.ckptEvery,
		ProposeTimeout: c.timeout, Logger: quietLogger()})
	if err != nil {
		_ = h.Close()
		c.t.Fatal(err)
	}
	if err := h.AddGroup(metaGroup, c.peers, st.StateMachine(), false); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	n.host, n.store = h, st
	c.mu.Unlock()
	c.net.set(id, h)
}

// stop stops a node. A crash skips the closing checkpoint and leaves a torn frame at the end
// of the applied log, as a write cut short would.
func (c *raftCluster) stop(id uint64, crash bool) {
	c.t.Helper()
	n := c.nodes[id]
	c.net.set(id, nil)
	if err := n.host.Close(); err != nil {
		c.t.Error(err)
	}
	if crash {
		n.store.crashForTest()
		segs, err := listNumbered(n.dir, segPrefix, segSuffix)
		if err != nil || len(segs) == 0 {
			c.t.Fatalf("no applied log after a crash: %v", err)
		}
		f, err := os.OpenFile(segs[len(segs)-1].path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			c.t.Fatal(err)
		}
		_, _ = f.Write(appendFrame(nil, 1<<40, []byte(`{"v":1,"type":"DeleteNamespace","ns":"torn"}`))[:20])
		_ = f.Close()
	} else if err := n.store.Close(); err != nil {
		c.t.Error(err)
	}
	c.mu.Lock()
	n.host, n.store = nil, nil
	c.mu.Unlock()
}

// crashForTest stops the store as a kill would: no closing checkpoint.
func (s *RaftStore) crashForTest() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.apMu.Lock()
		defer s.apMu.Unlock()
		s.closed = true
		_ = s.w.Close()
	})
}

// leader returns the node that leads the metadata group with a confirmed term (0: none).
func (c *raftCluster) leader() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.peers {
		if h := c.nodes[id].host; h != nil && h.Confirmed(metaGroup) {
			return id
		}
	}
	return 0
}

func (c *raftCluster) waitLeader() uint64 {
	c.t.Helper()
	var l uint64
	eventually(c.t, "a confirmed metadata leader", func() bool { l = c.leader(); return l != 0 })
	return l
}

// propose proposes cmd at the leader, retrying while no node leads or the one asked does not
// or raft dropped the proposal (it was then never made). Other errors are returned as they are.
func (c *raftCluster) propose(ctx context.Context, cmd Command) (uint64, error) {
	for {
		var st *RaftStore
		if l := c.leader(); l != 0 {
			c.mu.Lock()
			st = c.nodes[l].store
			c.mu.Unlock()
		}
		if st != nil {
			idx, err := st.Propose(ctx, cmd)
			var nl *NotLeaderError
			if !errors.As(err, &nl) && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrProposalDropped) {
				return idx, err
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond): // waiting for an election, not synchronising
		}
	}
}

// converge waits until every running node applied the same metadata index as the leader.
func (c *raftCluster) converge() uint64 {
	c.t.Helper()
	var idx uint64
	eventually(c.t, "every node at the leader's metadata index", func() bool {
		l := c.leader()
		if l == 0 {
			return false
		}
		idx = c.nodes[l].store.Index()
		for _, id := range c.peers {
			if st := c.nodes[id].store; st != nil && st.Index() != idx {
				return false
			}
		}
		return true
	})
	return idx
}

// sameEverywhere checks that every running node has byte-identical state and the same log
// after from, and returns the log. A node may compact its log behind a checkpoint while the
// check runs; the check then starts again after what every node still holds.
func (c *raftCluster) sameEverywhere(from uint64) []Entry {
	c.t.Helper()
	for attempt := 0; ; attempt++ {
		log, compacted := c.sameEverywhereFrom(from)
		if !compacted {
			return log
		}
		if attempt == 10 {
			c.t.Fatalf("the nodes keep compacting their logs past %d", from)
		}
		from = c.retainedFrom()
	}
}

func (c *raftCluster) sameEverywhereFrom(from uint64) (_ []Entry, compacted bool) {
	c.t.Helper()
	var want []byte
	var wantLog []Entry
	for _, id := range c.peers {
		st := c.nodes[id].store
		if st == nil {
			continue
		}
		snap, err := st.Snapshot()
		if err != nil {
			c.t.Fatal(err)
		}
		log, err := st.ReadFrom(from, 0)
		if errcode.CodeOf(err) == errcode.OffsetOutOfRange {
			return nil, true // compacted since retainedFrom looked
		}
		if err != nil {
			c.t.Fatalf("node %d ReadFrom(%d): %v", id, from, err)
		}
		if want == nil {
			want, wantLog = snap, log
			continue
		}
		if string(snap) != string(want) {
			c.t.Fatalf("node %d state differs:\n%s\n%s", id, snap, want)
		}
		if a, b := entriesJSON(c.t, log), entriesJSON(c.t, wantLog); a != b {
			c.t.Fatalf("node %d log differs:\n%s\n%s", id, a, b)
		}
	}
	for i, e := range wantLog {
		if e.Index != from+uint64(i)+1 {
			c.t.Fatalf("log is not dense: entry %d has index %d after %d", i, e.Index, from)
		}
	}
	return wantLog, false
}

// statuses describes the metadata group on every running node, for failure messages.
func (c *raftCluster) statuses() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := ""
	for _, id := range c.peers {
		n := c.nodes[id]
		if n.host == nil {
			out += fmt.Sprintf("[node %d down] ", id)
			continue
		}
		st, err := n.host.Status(metaGroup)
		out += fmt.Sprintf("[node %d: %+v %v; meta index %d] ", id, st, err, n.store.Index())
	}
	return out
}

// retainedFrom returns the index after which every running node still has its applied log
// (older entries may be compacted behind checkpoints).
func (c *raftCluster) retainedFrom() uint64 {
	var from uint64
	for _, id := range c.peers {
		if st := c.nodes[id].store; st != nil {
			st.segMu.RLock()
			from = max(from, st.segs[0].first-1)
			st.segMu.RUnlock()
		}
	}
	return from
}

func entriesJSON(t *testing.T, es []Entry) string {
	t.Helper()
	out := ""
	for _, e := range es {
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		out += string(b) + "\n"
	}
	return out
}

func notLeader(err error) (*NotLeaderError, bool) {
	var nl *NotLeaderError
	return nl, errors.As(err, &nl) && errcode.Is(err, errcode.Unavailable)
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
