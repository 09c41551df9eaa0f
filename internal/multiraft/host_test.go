package multiraft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

// loopNet connects hosts in one process: Send hands a copy of each message
// to the target host's Deliver (which only queues).
type loopNet struct {
	mu    sync.RWMutex
	hosts map[uint64]*Host
}

type loopTransport struct{ n *loopNet }

func (t loopTransport) Send(envs []Envelope) {
	t.n.mu.RLock()
	defer t.n.mu.RUnlock()
	for _, e := range envs {
		if h := t.n.hosts[e.Msg.GetTo()]; h != nil {
			h.Deliver([]Envelope{{Group: e.Group, Msg: proto.Clone(e.Msg).(*raftpb.Message)}})
		}
	}
}

// listSM records applied data; safe to read while the host applies.
type listSM struct {
	mu      sync.Mutex
	applied uint64
	data    map[uint64]string
}

func (s *listSM) Applied() uint64 { s.mu.Lock(); defer s.mu.Unlock(); return s.applied }
func (s *listSM) Apply(ents []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ents {
		if e.Index != s.applied+1 {
			return fmt.Errorf("apply %d after %d", e.Index, s.applied)
		}
		if e.Kind == EntryNormal && len(e.Data) > 0 {
			s.data[e.Index] = string(e.Data)
		}
		s.applied = e.Index
	}
	return nil
}
func (s *listSM) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(s.data)
}

func (s *listSM) Restore(snap *raftpb.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = map[uint64]string{}
	s.applied = snap.GetMetadata().GetIndex()
	return json.Unmarshal(snap.GetData(), &s.data)
}

func (s *listSM) get(i uint64) (string, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[i], s.applied
}

// eventually polls cond until it holds or the generous deadline passes.
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

// loopCluster is three hosts with real goroutines on a loopback network.
type loopCluster struct {
	net    *loopNet
	peers  []uint64
	sms    map[[2]uint64]*listSM // (node, group)
	stores map[uint64]*MemLogStore
}

func newLoopCluster(t *testing.T, groups uint64) *loopCluster {
	c := &loopCluster{net: &loopNet{hosts: map[uint64]*Host{}}, peers: []uint64{1, 2, 3},
		sms: map[[2]uint64]*listSM{}, stores: map[uint64]*MemLogStore{}}
	for _, id := range c.peers {
		c.stores[id] = NewMemLogStore()
		h, err := New(Options{NodeID: id, LogStore: c.stores[id], Transport: loopTransport{c.net},
			TickInterval: 10 * time.Millisecond, Workers: 2, SnapshotEntries: -1})
		if err != nil {
			t.Fatal(err)
		}
		c.net.mu.Lock()
		c.net.hosts[id] = h
		c.net.mu.Unlock()
		for g := uint64(1); g <= groups; g++ {
			sm := &listSM{data: map[uint64]string{}}
			c.sms[[2]uint64{id, g}] = sm
			if err := h.AddGroup(g, c.peers, sm, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

func (c *loopCluster) close(t *testing.T) {
	for _, h := range c.net.hosts {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	}
}

// leader returns the node that leads g with a confirmed term (0: none).
func (c *loopCluster) leader(g uint64) uint64 {
	for _, id := range c.peers {
		if c.net.hosts[id].Confirmed(g) {
			return id
		}
	}
	return 0
}

type loopAck struct {
	g, index uint64
	data     string
}

// proposeConcurrently runs 4 proposers per group against its leader.
func (c *loopCluster) proposeConcurrently(ctx context.Context, t *testing.T, groups uint64) []loopAck {
	var mu sync.Mutex
	var acks []loopAck
	var wg sync.WaitGroup
	for g := uint64(1); g <= groups; g++ {
		l := c.net.hosts[c.leader(g)]
		for w := range 4 {
			wg.Go(func() {
				for i := range 25 {
					data := fmt.Sprintf("g%d-w%d-%d", g, w, i)
					idx, err := l.Propose(ctx, g, []byte(data))
					if err != nil {
						t.Errorf("propose %s: %v", data, err)
						return
					}
					mu.Lock()
					acks = append(acks, loopAck{g, idx, data})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return acks
}

// TestHostGoroutines runs three hosts with their real ticker and workers:
// concurrent proposals on 8 groups are applied everywhere at their index, a
// follower refuses naming the leader, and leadership moves on request.
func TestHostGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t)
	const groups = 8
	c := newLoopCluster(t, groups)
	defer c.close(t)
	for g := uint64(1); g <= groups; g++ {
		eventually(t, fmt.Sprintf("a confirmed leader of group %d", g), func() bool { return c.leader(g) != 0 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acks := c.proposeConcurrently(ctx, t, groups)
	if t.Failed() {
		return
	}
	for _, a := range acks {
		eventually(t, fmt.Sprintf("entry %d of group %d on every node", a.index, a.g), func() bool {
			for _, id := range c.peers {
				if _, applied := c.sms[[2]uint64{id, a.g}].get(a.index); applied < a.index {
					return false
				}
			}
			return true
		})
		for _, id := range c.peers {
			if got, _ := c.sms[[2]uint64{id, a.g}].get(a.index); got != a.data {
				t.Fatalf("group %d index %d on node %d: %q, acknowledged %q", a.g, a.index, id, got, a.data)
			}
		}
	}
	saves := 0
	for _, s := range c.stores {
		saves += s.Saves()
	}
	t.Logf("%d proposals acknowledged; %d LogStore.Save calls on 3 nodes", len(acks), saves)

	// A follower refuses at once and names the leader.
	l := c.leader(1)
	f := c.peers[0]
	if f == l {
		f = c.peers[1]
	}
	_, err := c.net.hosts[f].Propose(ctx, 1, []byte("x"))
	var nle *NotLeaderError
	if !errors.As(err, &nle) || nle.Leader != l {
		t.Fatalf("propose on follower %d: %v, want NotLeaderError naming %d", f, err, l)
	}

	// Leadership moves on request.
	if err := c.net.hosts[l].TransferLeader(1, f); err != nil {
		t.Fatal(err)
	}
	eventually(t, "leadership of group 1 to move", func() bool { return c.leader(1) == f })
	st, err := c.net.hosts[f].Status(1)
	if err != nil || st.Leader != f || !st.Confirmed || len(st.Progress) != 3 {
		t.Fatalf("status after transfer: %+v %v", st, err)
	}
	if _, err := c.net.hosts[f].Propose(ctx, 1, []byte("after transfer")); err != nil {
		t.Fatal(err)
	}
}

// TestProposeUnknownGroupAndClose covers the error paths without a cluster.
func TestProposeUnknownGroupAndClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	h, err := New(Options{NodeID: 1, LogStore: NewMemLogStore(), Transport: loopTransport{&loopNet{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Propose(context.Background(), 9, nil); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("unknown group: %v", err)
	}
	if err := h.AddGroup(9, []uint64{1}, &listSM{data: map[uint64]string{}}, false); err != nil {
		t.Fatal(err)
	}
	if err := h.AddGroup(9, []uint64{1}, &listSM{data: map[uint64]string{}}, false); !errors.Is(err, ErrGroupExists) {
		t.Fatalf("second AddGroup: %v", err)
	}
	// A single-node group elects itself and applies.
	eventually(t, "single node leader", func() bool { return h.Confirmed(9) })
	if idx, err := h.Propose(context.Background(), 9, []byte("one")); err != nil || idx == 0 {
		t.Fatalf("propose: %d %v", idx, err)
	}
	if err := h.RemoveGroup(9); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.AddGroup(10, []uint64{1}, &listSM{}, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddGroup after Close: %v", err)
	}
}

// failingStore fails every Save once armed.
type failingStore struct {
	*MemLogStore
	armed atomic.Bool
}

var errDiskGone = errors.New("disk gone")

func (s *failingStore) Save(u []Update) error {
	if s.armed.Load() {
		return errDiskGone
	}
	return s.MemLogStore.Save(u)
}

// TestSaveFailureStopsHost: after a failed write the host must not carry on
// (raft would run on state it never persisted) and waiters learn why.
func TestSaveFailureStopsHost(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := &failingStore{MemLogStore: NewMemLogStore()}
	h, err := New(Options{NodeID: 1, LogStore: st, Transport: loopTransport{&loopNet{}}, TickInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.AddGroup(1, []uint64{1}, &listSM{data: map[uint64]string{}}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "single node leader", func() bool { return h.Confirmed(1) })
	st.armed.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.Propose(ctx, 1, []byte("lost")); !errors.Is(err, errDiskGone) {
		t.Fatalf("propose with a failing disk: %v, want %v", err, errDiskGone)
	}
	if _, err := h.Propose(ctx, 1, []byte("again")); !errors.Is(err, errDiskGone) {
		t.Fatalf("propose after the failure: %v", err)
	}
}

// TestJoinByConfChange adds a fourth replica to a group whose log was
// compacted (so it catches up from a snapshot), then removes it.
func TestJoinByConfChange(t *testing.T) {
	defer goleak.VerifyNone(t)
	net := &loopNet{hosts: map[uint64]*Host{}}
	sms := map[uint64]*listSM{}
	for id := uint64(1); id <= 4; id++ {
		h, err := New(Options{NodeID: id, LogStore: NewMemLogStore(), Transport: loopTransport{net},
			TickInterval: 10 * time.Millisecond, SnapshotEntries: 20})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		net.mu.Lock()
		net.hosts[id] = h
		net.mu.Unlock()
		sms[id] = &listSM{data: map[uint64]string{}}
		if err := h.AddGroup(1, []uint64{1, 2, 3}, sms[id], id == 4); err != nil {
			t.Fatal(err)
		}
	}
	leader := func() *Host {
		for id := uint64(1); id <= 3; id++ {
			if net.hosts[id].Confirmed(1) {
				return net.hosts[id]
			}
		}
		return nil
	}
	eventually(t, "a leader", func() bool { return leader() != nil })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := leader()
	var last uint64
	for i := range 60 {
		idx, err := l.Propose(ctx, 1, []byte(fmt.Sprintf("e%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		last = idx
	}
	add := &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(4)}}}
	confChange(ctx, t, l, add)
	eventually(t, "node 4 to catch up", func() bool { _, a := sms[4].get(last); return a >= last })
	for i := uint64(1); i <= last; i++ {
		want, _ := sms[l.opts.NodeID].get(i)
		if got, _ := sms[4].get(i); got != want {
			t.Fatalf("node 4 index %d: %q, leader has %q", i, got, want)
		}
	}
	st, _ := l.Status(1)
	if _, ok := st.Progress[4]; !ok {
		t.Fatalf("leader progress lacks node 4: %+v", st.Progress)
	}
	rm := &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: proto.Uint64(4)}}}
	confChange(ctx, t, l, rm)
	st, _ = l.Status(1)
	if _, ok := st.Progress[4]; ok {
		t.Fatalf("node 4 still in the leader's progress after removal")
	}
	if err := net.hosts[4].RemoveGroup(1); err != nil {
		t.Fatal(err)
	}
}

// confChange retries while the previous change is still being applied.
func confChange(ctx context.Context, t *testing.T, h *Host, cc *raftpb.ConfChangeV2) {
	t.Helper()
	for {
		_, err := h.ProposeConfChange(ctx, 1, cc)
		if !errors.Is(err, ErrConfChangePending) {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// TestSnapshotByBytes: a group of few, large entries is snapshotted (its log compacted) once
// SnapshotBytes of entries were applied, long before SnapshotEntries.
func TestSnapshotByBytes(t *testing.T) {
	defer goleak.VerifyNone(t)
	net := &loopNet{hosts: map[uint64]*Host{}}
	store := NewMemLogStore()
	h, err := New(Options{NodeID: 1, LogStore: store, Transport: loopTransport{net},
		TickInterval: 10 * time.Millisecond, SnapshotEntries: 10000, SnapshotBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	net.mu.Lock()
	net.hosts[1] = h
	net.mu.Unlock()
	if err := h.AddGroup(1, []uint64{1}, &listSM{data: map[uint64]string{}}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a leader", func() bool { return h.Confirmed(1) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	big := make([]byte, 16<<10)
	for range 8 { // 128 KiB of entries: at least one snapshot at 64 KiB
		if _, err := h.Propose(ctx, 1, big); err != nil {
			t.Fatal(err)
		}
	}
	first, err := store.Storage(1).FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if first <= 2 {
		t.Fatalf("log not compacted after 128 KiB of entries with SnapshotBytes 64 KiB: first index %d", first)
	}
}
