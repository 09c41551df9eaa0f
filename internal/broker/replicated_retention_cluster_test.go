package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/clustertest"
)

// testClock is a clock shared by a test cluster's nodes, moved by the test.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *testClock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// retentionCluster starts three nodes with small segments, retention rounds every 20ms, the
// test clock, and raft snapshots every 20 entries (so a replica that was down needs one).
func retentionCluster(t *testing.T, clock *testClock) *clustertest.Cluster {
	clock.ms.Store(time.Now().UnixMilli())
	var logger *slog.Logger // TANDEM_TEST_LOG=1: the nodes' logs on stderr, raft's debug lines too
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := clustertest.Start(t, clustertest.Options{HTTP: true, Logger: logger,
		Broker: func(_ uint64, o *broker.Options) {
			o.Now, o.RetentionCheck, o.SegmentBytes = clock.now, 20*time.Millisecond, 2048
		},
		Raft: func(_ uint64, o *cluster.Options) { o.SnapshotEntries = 20 },
	})
	c.RecordEndpoints()
	return c
}

func producer(t *testing.T, c *clustertest.Cluster) *kgo.Client {
	var seeds []string
	for _, n := range c.Nodes {
		seeds = append(seeds, n.KafkaAddr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.RetryTimeout(60*time.Second), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceN produces n records of about 200 bytes, one batch each, to partition 0 of hub.
func produceN(t *testing.T, cl *kgo.Client, hub string, n int, tag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range n {
		r := &kgo.Record{Topic: hub, Partition: 0, Value: fmt.Appendf(nil, "%s-%04d-%s", tag, i, bytes.Repeat([]byte("x"), 180))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %s %d: %v", tag, i, err)
		}
	}
}

// readBatches returns the bytes of the whole batches of p in [from, to).
func readBatches(t *testing.T, p *broker.Partition, from, to int64) []byte {
	t.Helper()
	var out []byte
	for off := from; off < to; {
		chunk, err := p.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if len(chunk) == 0 {
			t.Fatalf("read at %d returned nothing (end %d)", off, to)
		}
		for len(chunk) >= batch.HeaderSize && off < to {
			h, err := batch.PeekHeader(chunk)
			if err != nil || h.Size() > len(chunk) {
				break
			}
			if h.BaseOffset != off {
				t.Fatalf("batch at %d, want %d", h.BaseOffset, off)
			}
			out = append(out, chunk[:h.Size()]...)
			chunk = chunk[h.Size():]
			off = h.NextOffset()
		}
	}
	return out
}

func replicaOf(n *clustertest.Node, hub string) *broker.Partition {
	return n.Broker.ReplicaPartition(broker.DevNamespace, hub, 0)
}

// TestClusterReplicaRetention: a hub's retention (set by UpdateHub) applies on every replica,
// leader and followers: each deletes its old whole segments by time and the log start moves
// forward; a consumer from the earliest offset starts at the leader's new log start. A replica
// that was down meanwhile (its log ends before the others' start) catches up through a raft
// snapshot, copying the batches from a peer from that peer's log start, and ends with the
// same bytes as the others from their common start.
func TestClusterReplicaRetention(t *testing.T) {
	clock := &testClock{}
	c := retentionCluster(t, clock)
	const hub = "ret"
	c.CreateHub(hub, 1)
	cl := producer(t, c)
	produceN(t, cl, hub, 60, "a")

	leader := c.PartitionLeader(hub, 0)
	var victim *clustertest.Node
	for _, n := range c.Nodes {
		if n != leader {
			victim = n
			break
		}
	}
	clustertest.Eventually(t, "the follower to apply the first records", func() bool {
		p := replicaOf(victim, hub)
		return p != nil && p.EndOffset() == 60
	})
	victim.Stop()
	// More entries than the leader sends ahead to a follower (256 messages, which the
	// transport queues for it): the follower needs a snapshot when it comes back.
	produceN(t, cl, hub, 400, "b")
	clock.advance(2 * time.Hour) // every batch so far is two hours old
	produceN(t, cl, hub, 40, "c")
	for _, n := range c.Running() {
		if p := replicaOf(n, hub); p.StartOffset() != 0 {
			t.Fatalf("node %d deleted segments under the default retention of a day: start %d", n.ID, p.StartOffset())
		}
	}

	// One hour of retention: the segments holding only a and b batches go, on every replica.
	clustertest.Eventually(t, "UpdateHub through the metadata leader", func() bool {
		l := c.MetaLeader()
		return l != nil && l.Broker.UpdateHub(context.Background(), broker.DevNamespace, broker.HubSpec{Name: hub, RetentionTime: time.Hour}) == nil
	})
	clustertest.Eventually(t, "every running replica to delete its old segments", func() bool {
		for _, n := range c.Running() {
			if p := replicaOf(n, hub); p == nil || p.StartOffset() < 400 {
				return false
			}
		}
		return true
	})
	for _, n := range c.Running() {
		p := replicaOf(n, hub)
		t.Logf("node %d: log [%d, %d)", n.ID, p.StartOffset(), p.EndOffset())
		if p.StartOffset() > 460 {
			t.Fatalf("node %d: log starts at %d, past the first batch retention keeps (460)", n.ID, p.StartOffset())
		}
	}

	// A consumer from the earliest offset starts at the leader's log start.
	leader = c.PartitionLeader(hub, 0)
	start := replicaOf(leader, hub).StartOffset()
	cons, err := kgo.NewClient(kgo.SeedBrokers(leader.KafkaAddr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		hub: {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var first *kgo.Record
	for first == nil && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if first == nil {
				first = r
			}
		})
	}
	if first == nil || first.Offset != start {
		t.Fatalf("a consumer from the earliest offset got %+v first, want offset %d (the log start)", first, start)
	}

	// The replica that was down ends before everyone's start: it catches up by a snapshot.
	// The leader's latest raft snapshot was taken before retention ran, so it names log start
	// 0: the replica asks for batches its peers no longer hold and copies from their start.
	c.Restart(victim)
	deadline := time.Now().Add(2 * time.Minute)
	for p := replicaOf(victim, hub); p == nil || p.EndOffset() != 500; p = replicaOf(victim, hub) {
		if time.Now().After(deadline) {
			// Say what the replica's raft group looks like on every node, for the next time.
			for _, n := range c.Running() {
				h, _ := n.Broker.Hub(broker.DevNamespace, hub)
				l, err := n.Broker.Leadership(h, 0, int32(n.ID))
				end := int64(-1)
				if rp := replicaOf(n, hub); rp != nil {
					end = rp.EndOffset()
				}
				t.Logf("node %d: end %d, leadership %+v (%v)", n.ID, end, l, err)
			}
			t.Fatalf("after 2m: the restarted replica (node %d) did not catch up", victim.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	produceN(t, cl, hub, 20, "d")
	clustertest.Eventually(t, "every replica to apply the last records", func() bool {
		for _, n := range c.Nodes {
			if p := replicaOf(n, hub); p == nil || p.EndOffset() != 520 {
				return false
			}
		}
		return true
	})
	vp := replicaOf(victim, hub)
	if vp.StartOffset() < 60 {
		t.Fatalf("the restarted replica's log starts at %d: it kept batches it should have replaced", vp.StartOffset())
	}
	var starts []int64
	for _, n := range c.Nodes {
		starts = append(starts, replicaOf(n, hub).StartOffset())
	}
	common := slices.Max(starts)
	want := readBatches(t, replicaOf(leader, hub), common, 520)
	for _, n := range c.Nodes {
		if got := readBatches(t, replicaOf(n, hub), common, 520); !bytes.Equal(got, want) {
			t.Fatalf("node %d holds other bytes in [%d, 520) than node %d", n.ID, common, leader.ID)
		}
	}
	t.Logf("log starts %v; common range [%d, 520) identical", starts, common)
}

// TestClusterDeletedHubLeavesNoRaftState: deleting a hub removes its partition groups from
// every node's raft WAL (not just from the running host), so the WAL does not grow with hub
// churn and a restarted node does not see the groups again; their files are gone too.
func TestClusterDeletedHubLeavesNoRaftState(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateHub("keep", 1)
	before := map[uint64][]uint64{}
	for _, n := range c.Nodes {
		before[n.ID] = n.Raft.WALGroups()
	}
	c.CreateHub("churn", 2)
	var churn []uint64
	clustertest.Eventually(t, "the new hub's groups in every node's WAL", func() bool {
		for _, n := range c.Nodes {
			var added []uint64
			for _, g := range n.Raft.WALGroups() {
				if !slices.Contains(before[n.ID], g) && g != cluster.MetaGroup {
					added = append(added, g)
				}
			}
			if len(added) != 2 {
				return false
			}
			churn = added
		}
		return true
	})
	hubDir := func(n *clustertest.Node) string {
		h, err := n.Broker.Hub(broker.DevNamespace, "churn")
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(n.Dir, "hubs", broker.DevNamespace, "churn."+h.Incarnation)
	}
	dirs := map[uint64]string{}
	for _, n := range c.Nodes {
		dirs[n.ID] = hubDir(n)
	}
	clustertest.Eventually(t, "the hub to be deleted through the metadata leader", func() bool {
		l := c.MetaLeader()
		return l != nil && l.Broker.DeleteHub(context.Background(), broker.DevNamespace, "churn") == nil
	})
	gone := func(n *clustertest.Node) bool {
		for _, g := range n.Raft.WALGroups() {
			if slices.Contains(churn, g) {
				return false
			}
		}
		_, err := os.Stat(dirs[n.ID])
		return os.IsNotExist(err)
	}
	clustertest.Eventually(t, "the deleted hub's groups and files gone on every node", func() bool {
		for _, n := range c.Nodes {
			if !gone(n) {
				return false
			}
		}
		return true
	})
	for _, n := range c.Nodes {
		n.Stop()
	}
	for _, n := range c.Nodes {
		c.Restart(n)
	}
	for _, n := range c.Nodes {
		if !gone(n) {
			t.Fatalf("node %d: after a restart the WAL holds groups %v (deleted: %v) or the hub's files are back", n.ID, n.Raft.WALGroups(), churn)
		}
	}
	c.CreateHub("after", 1) // the cluster works on; the kept hub's groups stay
	for _, n := range c.Nodes {
		if ws := n.Raft.WALGroups(); !gone(n) || !slices.Contains(ws, before[n.ID][len(before[n.ID])-1]) {
			t.Fatalf("node %d: WAL groups %v after the restart (kept %v, deleted %v)", n.ID, ws, before[n.ID], churn)
		}
	}
}
