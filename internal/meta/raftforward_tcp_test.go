package meta

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/cluster"
)

// TestRaftStoreOverTCP runs the metadata group on three cluster nodes (WAL, raftnet over real
// TCP on 127.0.0.1/2/3 with the secret handshake): proposals from every node, followers
// included, travel to the leader as forwarded raft messages and apply once; Barrier on each
// node then shows every acknowledged hub.
func TestRaftStoreOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	spec := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", port, port, port)
	secret := []byte("a cluster secret of enough bytes")
	const group = 1
	var nodes []*cluster.Node
	var stores []*RaftStore
	for id := uint64(1); id <= 3; id++ {
		cfg, _, err := cluster.ParseConfig(id, "", spec, secret)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		n, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir, TickInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		st, err := OpenRaft(RaftStoreOptions{Dir: dir + "/meta", Group: group, Raft: n.Host(), Logger: quietLogger()})
		if err != nil {
			_ = n.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := n.Close(); err != nil {
				t.Error(err)
			}
			if err := st.Close(); err != nil {
				t.Error(err)
			}
		})
		if err := n.AddGroup(group, []uint64{1, 2, 3}, st.StateMachine(), false); err != nil {
			t.Fatal(err)
		}
		nodes, stores = append(nodes, n), append(stores, st)
	}
	ctx := testCtx(t)
	eventually(t, "a confirmed metadata leader", func() bool {
		for _, n := range nodes {
			if n.Confirmed(group) {
				return true
			}
		}
		return false
	})
	var leader int
	for i, n := range nodes {
		if n.Confirmed(group) {
			leader = i
		}
	}
	follower := stores[(leader+1)%3]
	if _, err := follower.Propose(ctx, baseCommands()[0]); err != nil {
		t.Fatalf("create the namespace on a follower: %v", err)
	}
	var mu sync.Mutex
	acked := map[string]uint64{}
	var wg sync.WaitGroup
	for i, st := range stores {
		wg.Go(func() {
			for k := range 15 {
				hub := fmt.Sprintf("tcp-%d-%d", i+1, k)
				idx, err := st.Propose(ctx, CreateHub{Namespace: ns, Hub: hub, Time: t0})
				if o := outcome(err); o != "applied" && o != "unknown" {
					t.Errorf("node %d, %s: %v", i+1, hub, err)
					return
				}
				if err == nil {
					mu.Lock()
					acked[hub] = idx
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	perNode := map[string]int{}
	for hub := range acked {
		perNode["node "+hub[4:5]]++
	}
	if len(perNode) != 3 {
		t.Fatalf("acknowledged per node: %v; want proposals from all three nodes, followers included", perNode)
	}
	for i, st := range stores {
		if err := st.Barrier(ctx); err != nil {
			t.Fatalf("Barrier on node %d: %v", i+1, err)
		}
		st.View(func(s *State) {
			for hub := range acked {
				if _, err := s.Hub(ns, hub); err != nil {
					t.Fatalf("node %d after Barrier: %s: %v", i+1, hub, err)
				}
			}
		})
	}
	t.Logf("%d hubs acknowledged over TCP, per node %v", len(acked), perNode)
}
