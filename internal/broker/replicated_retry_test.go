package broker

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// startWithSource starts node n's replica and host like startShipping, copying segments
// through src.
func (c *partCluster) startWithSource(n *raftNode, src SegmentSource) {
	c.t.Helper()
	n.rp = openRPOpts(c.t, n.dir, 16, 0, src)
	h, err := multiraft.New(multiraft.Options{NodeID: n.id, LogStore: n.store, Transport: c.net,
		TickInterval: 10 * time.Millisecond, SnapshotEntries: 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.t.Fatal(err)
	}
	n.host = h
	c.net.set(n.id, h)
	if err := h.AddGroup(testGroup, c.peers, n.rp, false); err != nil {
		c.t.Fatal(err)
	}
}

// TestReplicatedRestoreRetriesFlakyPeer: a replica that comes back after the others compacted
// their raft logs restores a snapshot by copying batches from a peer's HTTP segment endpoint,
// which fails its first requests (the peer is restarting, say). The restore is retried by the
// host with back-off, without restarting the replica, and it ends with the others' bytes.
func TestReplicatedRestoreRetriesFlakyPeer(t *testing.T) {
	const failures = 4
	secret := []byte("0123456789abcdef-secret")
	c := &partCluster{t: t, net: &memNet{hosts: map[uint64]*multiraft.Host{}}, peers: []uint64{1, 2, 3},
		nodes: map[uint64]*raftNode{}}
	src := &partSource{parts: map[uint64]*ReplicatedPartition{}}
	for _, id := range c.peers {
		c.nodes[id] = &raftNode{id: id, dir: t.TempDir(), store: multiraft.NewMemLogStore()}
		c.startShipping(c.nodes[id], src, 0)
	}
	defer func() {
		for _, n := range c.nodes {
			if n.host != nil {
				n.host.Close()
				n.rp.Close()
			}
		}
	}()
	seq := int32(0)
	round := func(n int) {
		for range n {
			c.produce(kgoBatch(1, 0, seq, 2, time.Now().UnixMilli()))
			seq += 2
		}
	}
	round(20)
	leader := c.leader()
	var victim *raftNode
	var peer *ReplicatedPartition
	for _, id := range c.peers {
		if n := c.nodes[id]; n != leader && victim == nil {
			victim = n
		}
	}
	peer = leader.rp
	src.set(victim.id, nil)
	c.kill(victim)
	round(100)

	var requests atomic.Int32
	seg := NewSegmentHandler(secret, func(uint64) *ReplicatedPartition { return peer }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) <= failures {
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		seg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c.startWithSource(victim, &HTTPSegmentSource{Secret: secret, Peers: func(uint64) []string { return []string{srv.URL} }})
	round(10)
	pollUntil(t, "the restarted replica to apply everything", func() bool {
		st, err := c.leader().host.Status(testGroup)
		return err == nil && victim.rp.Applied() == st.Commit && victim.rp.p.EndOffset() == c.leader().rp.p.EndOffset()
	})
	if n := requests.Load(); n <= failures {
		t.Fatalf("%d segment requests: the replica did not restore through the endpoint after its failures", n)
	}
	if err := victim.host.Err(); err != nil {
		t.Fatal(err)
	}
	end := victim.rp.p.EndOffset()
	if a, b := contentDigest(t, victim.rp, 0, end), contentDigest(t, c.leader().rp, 0, end); a != b {
		t.Fatal("the restored replica's batches differ from the leader's")
	}
}

// TestReplicatedRetentionCrash: a crash right after retention deleted segments, before the
// checkpoint that records the new log start, leaves a replica that opens with everything it
// had applied: retention first checkpoints the applied state, so the checkpoint never needs a
// deleted segment.
func TestReplicatedRetentionCrash(t *testing.T) {
	dir := t.TempDir()
	f := openRPOpts(t, dir, 1<<20, 0, nil) // no checkpoint while applying
	applyChunked(t, f, genEntries(9, 300), rand.New(rand.NewPCG(9, 9)))
	end, applied := f.p.EndOffset(), f.Applied()
	errCrash := errors.New("crash")
	n, err := f.applyRetention(func() (int, error) {
		n, err := f.p.log.ApplyRetentionWith(0, 8192)
		if err == nil {
			err = errCrash
		}
		return n, err
	})
	if n == 0 || !errors.Is(err, errCrash) {
		t.Fatalf("retention deleted %d segments: %v", n, err)
	}
	start := f.p.StartOffset()
	crash(t, f)
	f = openRPOpts(t, dir, 1<<20, 0, nil)
	defer f.Close()
	if f.p.StartOffset() != start || f.p.EndOffset() != end || f.Applied() != applied {
		t.Fatalf("after the crash: log [%d, %d) at %d, want [%d, %d) at %d", f.p.StartOffset(), f.p.EndOffset(), f.Applied(), start, end, applied)
	}
	checkLog(t, f)
}
