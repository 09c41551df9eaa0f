package multiraft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestProposeForwardAndReadIndex runs three hosts with their goroutines:
// proposals forwarded from every node at once are applied once each, at the
// index their proposer got; a write on the leader is visible on a follower
// right after ReadIndex there.
func TestProposeForwardAndReadIndex(t *testing.T) {
	defer goleak.VerifyNone(t)
	c := newLoopCluster(t, 1)
	defer c.close(t)
	eventually(t, "a confirmed leader", func() bool { return c.leader(1) != 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var mu sync.Mutex
	var acks []loopAck
	var wg sync.WaitGroup
	for _, id := range c.peers {
		h := c.net.hosts[id]
		for w := range 3 {
			wg.Go(func() {
				for i := range 20 {
					data := fmt.Sprintf("n%d-w%d-%d", id, w, i)
					idx, err := h.ProposeForward(ctx, 1, []byte(data))
					if err != nil {
						t.Errorf("forward %s: %v", data, err)
						return
					}
					mu.Lock()
					acks = append(acks, loopAck{1, idx, data})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[uint64]string{}
	for _, a := range acks {
		if prev, dup := seen[a.index]; dup {
			t.Fatalf("index %d acknowledged to %q and %q", a.index, prev, a.data)
		}
		seen[a.index] = a.data
	}
	for _, a := range acks {
		for _, id := range c.peers {
			eventually(t, fmt.Sprintf("index %d on node %d", a.index, id), func() bool {
				_, applied := c.sms[[2]uint64{id, 1}].get(a.index)
				return applied >= a.index
			})
			if got, _ := c.sms[[2]uint64{id, 1}].get(a.index); got != a.data {
				t.Fatalf("node %d index %d: %q, acknowledged %q", id, a.index, got, a.data)
			}
		}
	}

	// Read-your-writes across nodes: after ReadIndex on any node, that
	// node's state machine holds a write acknowledged before it.
	for i, id := range c.peers {
		w := c.peers[(i+1)%len(c.peers)]
		data := fmt.Sprintf("barrier-%d", i)
		idx, err := c.net.hosts[w].ProposeForward(ctx, 1, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		ri, err := c.net.hosts[id].ReadIndex(ctx, 1)
		if err != nil {
			t.Fatalf("ReadIndex on node %d: %v", id, err)
		}
		got, applied := c.sms[[2]uint64{id, 1}].get(idx)
		if ri < idx || applied < ri || got != data {
			t.Fatalf("node %d after ReadIndex %d: applied %d, index %d holds %q; want %q written at %d",
				id, ri, applied, idx, got, data, idx)
		}
	}
	t.Logf("%d forwarded proposals acknowledged from 3 nodes", len(acks))
}

// TestForwardWithoutLeader: with no leader known, ProposeForward and
// ReadIndex fail at once with a NotLeaderError naming none (nothing was
// proposed), and a ctx ends neither call early or late.
func TestForwardWithoutLeader(t *testing.T) {
	defer goleak.VerifyNone(t)
	h, err := New(Options{NodeID: 1, LogStore: NewMemLogStore(), Transport: loopTransport{&loopNet{}}, TickInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// Node 2 never runs: no quorum, so no leader ever.
	if err := h.AddGroup(4, []uint64{1, 2}, &listSM{data: map[uint64]string{}}, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nle *NotLeaderError
	if _, err := h.ProposeForward(ctx, 4, []byte("x")); !errors.As(err, &nle) || nle.Leader != 0 || nle.Group != 4 {
		t.Fatalf("ProposeForward without a leader: %v", err)
	}
	if _, err := h.ReadIndex(ctx, 4); !errors.As(err, &nle) || nle.Leader != 0 {
		t.Fatalf("ReadIndex without a leader: %v", err)
	}
	if _, err := h.ProposeForward(ctx, 5, []byte("x")); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := h.ReadIndex(ctx, 5); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("unknown group: %v", err)
	}
}
