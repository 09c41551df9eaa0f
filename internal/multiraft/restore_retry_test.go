package multiraft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// cutNet is a loopback network that can cut a node off (both ways).
type cutNet struct {
	loopNet
	cut sync.Map // node id → true
}

type cutTransport struct{ n *cutNet }

func (t cutTransport) Send(envs []Envelope) {
	t.n.mu.RLock()
	defer t.n.mu.RUnlock()
	for _, e := range envs {
		if _, off := t.n.cut.Load(e.Msg.GetTo()); off {
			continue
		}
		if _, off := t.n.cut.Load(e.Msg.GetFrom()); off {
			continue
		}
		if h := t.n.hosts[e.Msg.GetTo()]; h != nil {
			h.Deliver([]Envelope{{Group: e.Group, Msg: proto.Clone(e.Msg).(*raftpb.Message)}})
		}
	}
}

// flakySM refuses to restore snapshots (ErrRestoreRetry) until released.
type flakySM struct {
	*listSM
	released atomic.Bool
	fails    atomic.Int32
}

func (s *flakySM) Restore(snap *raftpb.Snapshot) error {
	if !s.released.Load() {
		s.fails.Add(1)
		return fmt.Errorf("%w: the peer holding the data is unreachable (test)", ErrRestoreRetry)
	}
	return s.listSM.Restore(snap)
}

// TestRestoreRetry: a follower cut off while its groups' logs are compacted needs snapshots
// for both; one group's restore fails (ErrRestoreRetry) until the test releases it. The other
// group catches up meanwhile on the same host, with one apply worker (a restore that held the
// worker would stall it), the failing group is retried without a restart, counted in the
// metrics, and catches up once the restore works.
func TestRestoreRetry(t *testing.T) {
	net := &cutNet{loopNet: loopNet{hosts: map[uint64]*Host{}}}
	peers := []uint64{1, 2, 3}
	sms := map[[2]uint64]StateMachine{}
	flaky := &flakySM{listSM: &listSM{data: map[uint64]string{}}}
	hosts := map[uint64]*Host{}
	for _, id := range peers {
		h, err := New(Options{NodeID: id, LogStore: NewMemLogStore(), Transport: cutTransport{net},
			TickInterval: 10 * time.Millisecond, Workers: 1, SnapshotEntries: 10})
		if err != nil {
			t.Fatal(err)
		}
		hosts[id] = h
		net.mu.Lock()
		net.hosts[id] = h
		net.mu.Unlock()
		for g := uint64(1); g <= 2; g++ {
			var sm StateMachine = &listSM{data: map[uint64]string{}}
			if id == 3 && g == 1 {
				sm = flaky
			}
			sms[[2]uint64{id, g}] = sm
			if err := h.AddGroup(g, peers, sm, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer func() {
		for _, h := range hosts {
			h.Close()
		}
	}()
	leaderOf := func(g uint64) *Host {
		for _, id := range []uint64{1, 2} {
			if hosts[id].Confirmed(g) {
				return hosts[id]
			}
		}
		return nil
	}
	eventually(t, "leaders of both groups on node 1 or 2 with node 3 cut off", func() bool {
		net.cut.Store(uint64(3), true)
		return leaderOf(1) != nil && leaderOf(2) != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last [3]uint64
	for g := uint64(1); g <= 2; g++ {
		for i := range 40 {
			var err error
			eventually(t, "a proposal to commit", func() bool {
				l := leaderOf(g)
				if l == nil {
					return false
				}
				last[g], err = l.Propose(ctx, g, fmt.Appendf(nil, "g%d-%d", g, i))
				return err == nil
			})
		}
	}
	net.cut.Delete(uint64(3))
	h3 := hosts[3]
	eventually(t, "group 2 to catch up on node 3 while group 1's restore keeps failing", func() bool {
		return sms[[2]uint64{3, 2}].Applied() >= last[2] && flaky.fails.Load() >= 3
	})
	if flaky.Applied() >= last[1] {
		t.Fatalf("group 1 applied %d on node 3 without restoring a snapshot", flaky.Applied())
	}
	if got := metricValue(h3.met.restoresPending); got != 1 {
		t.Fatalf("restores pending = %v, want 1", got)
	}
	if got := metricValue(h3.met.restoreFailures); got < 3 {
		t.Fatalf("restore failures = %v, want at least 3", got)
	}
	flaky.released.Store(true)
	eventually(t, "group 1 to catch up on node 3 once the restore works", func() bool {
		return flaky.Applied() >= last[1]
	})
	if d, _ := flaky.get(last[1]); d != "g1-39" {
		t.Fatalf("node 3 holds %q at %d, want g1-39", d, last[1])
	}
	if got := metricValue(h3.met.restoresPending); got != 0 {
		t.Fatalf("restores pending = %v after the restore, want 0", got)
	}
	if err := h3.Err(); err != nil {
		t.Fatal(err)
	}
}

func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// TestRestoreRetryAtStart: a group whose state machine is behind its log's snapshot at start
// and cannot restore it yet (ErrRestoreRetry) is added anyway; the restore is retried in the
// background, and the group applies on once it works.
func TestRestoreRetryAtStart(t *testing.T) {
	store := NewMemLogStore()
	opts := Options{NodeID: 1, LogStore: store, Transport: loopTransport{&loopNet{hosts: map[uint64]*Host{}}},
		TickInterval: 10 * time.Millisecond, SnapshotEntries: 5}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddGroup(1, []uint64{1}, &listSM{data: map[uint64]string{}}, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually(t, "a leader", func() bool { return h.Confirmed(1) })
	for i := range 12 {
		if _, err := h.Propose(ctx, 1, fmt.Appendf(nil, "a%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()

	flaky := &flakySM{listSM: &listSM{data: map[uint64]string{}}} // lost its state
	h, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.AddGroup(1, []uint64{1}, flaky, false); err != nil {
		t.Fatalf("a group whose restore must wait was refused: %v", err)
	}
	eventually(t, "restore attempts in the background", func() bool { return flaky.fails.Load() >= 3 })
	flaky.released.Store(true)
	eventually(t, "a leader", func() bool { return h.Confirmed(1) })
	idx, err := h.Propose(ctx, 1, []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if d, applied := flaky.get(idx); d != "b" || applied < idx {
		t.Fatalf("after the restore: %q at %d, applied %d", d, idx, applied)
	}
}

// TestRemoveGroupForgetsLogStore: RemoveGroup deletes the group from a LogStore that is a
// GroupRemover, and nothing of the group is written there afterwards while its peers go on.
func TestRemoveGroupForgetsLogStore(t *testing.T) {
	c := newLoopCluster(t, 2)
	defer c.close(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually(t, "leaders", func() bool { return c.leader(1) != 0 && c.leader(2) != 0 })
	c.proposeConcurrently(ctx, t, 2)
	h3 := c.net.hosts[3]
	if err := h3.RemoveGroup(1); err != nil {
		t.Fatal(err)
	}
	if gs := c.stores[3].Groups(); slices.Contains(gs, 1) || !slices.Contains(gs, 2) {
		t.Fatalf("node 3's log store holds groups %v after removing group 1", gs)
	}
	for i := range 20 {
		var l uint64
		eventually(t, "a leader of group 1", func() bool { l = c.leader(1); return l != 0 && l != 3 })
		if _, err := c.net.hosts[l].Propose(ctx, 1, fmt.Appendf(nil, "after-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if gs := c.stores[3].Groups(); slices.Contains(gs, 1) {
		t.Fatalf("group 1 is back in node 3's log store: %v", gs)
	}
	if err := h3.RemoveGroup(1); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("removing it again: %v", err)
	}
}
