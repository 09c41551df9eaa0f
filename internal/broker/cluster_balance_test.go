package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

func TestPickTransfers(t *testing.T) {
	caughtUp := func(commit uint64) multiraft.Status {
		return multiraft.Status{ID: 1, Confirmed: true, Commit: commit, Voters: []uint64{1, 2, 3},
			Progress: map[uint64]multiraft.Progress{
				1: {Match: commit, State: "StateReplicate", RecentActive: true},
				2: {Match: commit, State: "StateReplicate", RecentActive: true},
				3: {Match: commit, State: "StateReplicate", RecentActive: true},
			}}
	}
	with := func(st multiraft.Status, f func(*multiraft.Status)) multiraft.Status {
		p := make(map[uint64]multiraft.Progress, len(st.Progress))
		for k, v := range st.Progress {
			p[k] = v
		}
		st.Progress = p
		f(&st)
		return st
	}
	behind := with(caughtUp(10), func(s *multiraft.Status) {
		s.Progress[2] = multiraft.Progress{Match: 9, State: "StateReplicate", RecentActive: true}
	})
	probing := with(caughtUp(10), func(s *multiraft.Status) {
		s.Progress[2] = multiraft.Progress{Match: 10, State: "StateProbe", RecentActive: true}
	})
	inactive := with(caughtUp(10), func(s *multiraft.Status) { s.Progress[2] = multiraft.Progress{Match: 10, State: "StateReplicate"} })
	unconfirmed := with(caughtUp(10), func(s *multiraft.Status) { s.Confirmed = false })
	notVoter := with(caughtUp(10), func(s *multiraft.Status) { s.Voters = []uint64{1, 3} })
	for _, tc := range []struct {
		name  string
		views []leaderView
		max   int
		want  []transfer
	}{
		{"preferred is self", []leaderView{{group: 7, preferred: 1, status: caughtUp(10)}}, 8, nil},
		{"caught-up preferred gets it back", []leaderView{{group: 7, preferred: 2, status: caughtUp(10)}}, 8, []transfer{{7, 2}}},
		{"preferred behind the commit", []leaderView{{group: 7, preferred: 2, status: behind}}, 8, nil},
		{"preferred still probing", []leaderView{{group: 7, preferred: 2, status: probing}}, 8, nil},
		{"preferred not recently active", []leaderView{{group: 7, preferred: 2, status: inactive}}, 8, nil},
		{"leader not confirmed yet", []leaderView{{group: 7, preferred: 2, status: unconfirmed}}, 8, nil},
		{"preferred not a voter", []leaderView{{group: 7, preferred: 2, status: notVoter}}, 8, nil},
		{"bounded per round", []leaderView{
			{group: 7, preferred: 2, status: caughtUp(10)},
			{group: 8, preferred: 3, status: caughtUp(10)},
			{group: 9, preferred: 2, status: caughtUp(10)},
		}, 2, []transfer{{7, 2}, {8, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pickTransfers(1, tc.views, tc.max)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("pickTransfers = %v, want %v", got, tc.want)
			}
		})
	}
}

// balanceNode is one broker of an in-process 3-node region for the balancer test.
type balanceNode struct {
	cfg cluster.Config
	dir string
	b   *Broker
}

func (n *balanceNode) start(t *testing.T, interval time.Duration) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	cn, err := cluster.Open(context.Background(), cluster.Options{Config: n.cfg, DataDir: n.dir,
		Logger: log, TickInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(context.Background(), Options{DataDir: n.dir, Dev: true, Logger: log, Cluster: cn,
		LeaderBalanceInterval: interval})
	if err != nil {
		cn.Close()
		t.Fatal(err)
	}
	n.b = b
}

func (n *balanceNode) stop() {
	if n.b != nil {
		n.b.Close()
		n.b = nil
	}
}

// TestLeaderBalancerHandsLeadershipBack: a node that was down comes back and gets the
// leadership of the partitions whose preferred leader it is, without any client action.
func TestLeaderBalancerHandsLeadershipBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port)); err != nil {
		t.Skipf("127.0.0.2 cannot be bound here (%v); the test needs 127.0.0.1-3", err)
	} else {
		l2.Close()
	}
	spec := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", port, port, port)
	nodes := make([]*balanceNode, 3)
	for i := range nodes {
		cfg, _, err := cluster.ParseConfig(uint64(i+1), "", spec, []byte("0123456789abcdef-secret"))
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &balanceNode{cfg: cfg, dir: t.TempDir()}
		nodes[i].start(t, 100*time.Millisecond)
		t.Cleanup(nodes[i].stop)
	}
	ctx := context.Background()
	const hub, parts = "orders", 6
	pollUntil(t, "the hub created through the metadata leader", func() bool {
		for _, n := range nodes {
			err := n.b.CreateHub(ctx, DevNamespace, HubSpec{Name: hub, Partitions: parts})
			if err == nil || errcode.Is(err, errcode.AlreadyExists) {
				return true
			}
		}
		return false
	})
	preferred := make([]int, parts) // node index of each partition's preferred leader
	// The hub was created through whichever node reached the metadata leader; node 0 may not
	// have applied it yet.
	pollUntil(t, "node 0 to know the hub's placement", func() bool {
		var err error
		nodes[0].b.meta.View(func(s *meta.State) {
			var reps [][]uint64
			if _, reps, err = s.HubPlacement(DevNamespace, hub); err != nil {
				return
			}
			for p, peers := range reps {
				preferred[p] = int(peers[0]) - 1
			}
		})
		return err == nil
	})
	leaderOf := func(p int32) int {
		for i, n := range nodes {
			if n.b == nil {
				continue
			}
			if _, err := n.b.Partition(DevNamespace, hub, p); err == nil {
				return i
			}
		}
		return -1
	}
	balanced := func() bool {
		for p := range int32(parts) {
			if leaderOf(p) != preferred[p] {
				return false
			}
		}
		return true
	}
	pollUntil(t, "every partition led by its preferred leader", balanced)

	// Node 1 goes away: its partitions elect leaders on nodes 2 and 3.
	nodes[0].stop()
	pollUntil(t, "a leader on nodes 2-3 for every partition", func() bool {
		for p := range int32(parts) {
			if leaderOf(p) < 1 {
				return false
			}
		}
		return true
	})
	// It comes back: the balancer on the other nodes hands its partitions back.
	nodes[0].start(t, 100*time.Millisecond)
	pollUntil(t, "leadership handed back to node 1", balanced)
}
