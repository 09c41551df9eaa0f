package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/clustertest"
	grp "github.com/tandem-streaming/tandem/internal/group"
)

// groupConsumer is a franz-go group member that commits synchronously after every poll and
// checks, at every (re)assignment, that it resumes at or after the last commit acknowledged
// for each partition.
type groupConsumer struct {
	t   *testing.T
	cl  *kgo.Client
	mu  sync.Mutex
	got map[[2]int64]string // (partition, offset) → value, every record consumed

	acked   map[int32]int64 // last commit acknowledged per partition
	fresh   map[int32]bool  // assigned since the last record of the partition
	resumed []string        // "p@offset (acked N)" at every first record after an assignment
	bad     []string
}

func newGroupConsumer(t *testing.T, seeds []string, group, hub string) *groupConsumer {
	g := &groupConsumer{t: t, got: map[[2]int64]string{}, acked: map[int32]int64{}, fresh: map[int32]bool{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(hub),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchMaxBytes(1), kgo.FetchMaxPartitionBytes(1), kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
		kgo.RetryTimeout(60*time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, p := range m[hub] {
				g.fresh[p] = true
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	g.cl = cl
	t.Cleanup(cl.Close)
	return g
}

// poll consumes one round, commits what it consumed and lets a pending rebalance happen.
func (g *groupConsumer) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	fs := g.cl.PollFetches(pctx)
	cancel()
	g.mu.Lock()
	fs.EachRecord(func(r *kgo.Record) {
		if g.fresh[r.Partition] {
			g.fresh[r.Partition] = false
			acked, ok := g.acked[r.Partition]
			g.resumed = append(g.resumed, fmt.Sprintf("%d@%d (acked %d)", r.Partition, r.Offset, acked))
			if ok && r.Offset < acked {
				g.bad = append(g.bad, fmt.Sprintf("partition %d resumed at offset %d, before the acknowledged commit %d", r.Partition, r.Offset, acked))
			}
		}
		g.got[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value)
	})
	g.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	g.cl.CommitOffsetsSync(cctx, g.cl.UncommittedOffsets(), func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil || req == nil || resp == nil {
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		for i, rt := range resp.Topics {
			for j, rp := range rt.Partitions {
				if rp.ErrorCode == 0 {
					off := req.Topics[i].Partitions[j].Offset
					if off < g.acked[rp.Partition] {
						g.bad = append(g.bad, fmt.Sprintf("partition %d: commit of %d acknowledged after one of %d", rp.Partition, off, g.acked[rp.Partition]))
					}
					g.acked[rp.Partition] = off
				}
			}
		}
	})
	cancel()
	g.cl.AllowRebalance()
}

// consumeAll polls until every acknowledged record has been consumed.
func (g *groupConsumer) consumeAll(ctx context.Context, acked map[[2]int64]string) {
	g.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		g.mu.Lock()
		missing := 0
		for k, v := range acked {
			if g.got[k] != v {
				missing++
			}
		}
		g.mu.Unlock()
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%d acknowledged records not consumed after 90s", missing)
		}
		g.poll(ctx)
	}
}

// pollUntil polls until cond holds.
func (g *groupConsumer) pollUntil(ctx context.Context, what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			g.t.Fatalf("after 90s: %s", what)
		}
		g.poll(ctx)
	}
}

// stableOn reports whether node n coordinates group, Stable.
func stableOn(n *clustertest.Node, group string) func() bool {
	return func() bool {
		return n.Broker.Groups().State(context.Background(), broker.DevNamespace, group) == grp.StateStable
	}
}

// committedMonitor polls the committed offsets of a group in the applied metadata of every
// running node and records any that go back.
type committedMonitor struct {
	mu   sync.Mutex
	last map[string]int64
	bad  []string
	stop chan struct{}
	done chan struct{}
}

func watchCommitted(c *clustertest.Cluster, group string) *committedMonitor {
	m := &committedMonitor{last: map[string]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	brokers := map[uint64]*broker.Broker{}
	for _, n := range c.Running() {
		brokers[n.ID] = n.Broker
	}
	go func() {
		defer close(m.done)
		for {
			select {
			case <-m.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for id, b := range brokers {
				for hub, parts := range b.GroupOffsets(broker.DevNamespace, group) {
					for p, cp := range parts {
						k := fmt.Sprintf("node %d %s/%d", id, hub, p)
						m.mu.Lock()
						if prev, ok := m.last[k]; ok && cp.Offset < prev {
							m.bad = append(m.bad, fmt.Sprintf("%s: committed offset went from %d back to %d", k, prev, cp.Offset))
						}
						m.last[k] = cp.Offset
						m.mu.Unlock()
					}
				}
			}
		}
	}()
	return m
}

// close stops the monitor; call it before stopping a node it watches.
func (m *committedMonitor) close(t *testing.T) {
	close(m.stop)
	<-m.done
	for _, b := range m.bad {
		t.Error(b)
	}
}

func produceAcked(t *testing.T, cl *kgo.Client, acked map[[2]int64]string, from, to, parts int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := from; i < to; i += 30 { // small batches, so that a member polls many times
		var rs []*kgo.Record
		for j := i; j < min(i+30, to); j++ {
			rs = append(rs, &kgo.Record{Partition: int32(j % parts), Value: []byte(fmt.Sprintf("event-%04d", j))})
		}
		for _, r := range cl.ProduceSync(ctx, rs...) {
			if r.Err != nil {
				t.Fatalf("produce %s: %v", r.Record.Value, r.Err)
			}
			acked[[2]int64{int64(r.Record.Partition), r.Record.Offset}] = string(r.Record.Value)
		}
	}
}

// A franz-go group member consumes and commits while the metadata leader (the group
// coordinator) hands over its leadership and then is closed: committed offsets never go
// back, the member resumes at its acknowledged commits after each move, and every
// acknowledged record is consumed.
func TestClusterConsumerGroupThroughCoordinatorMoves(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	const hub, parts, group = "orders", 3, "readers"
	c.CreateHub(hub, parts)
	var seeds []string
	for _, n := range c.Nodes {
		seeds = append(seeds, n.KafkaAddr)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(hub),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	acked := map[[2]int64]string{}
	ctx := context.Background()

	mon := watchCommitted(c, group)
	produceAcked(t, prod, acked, 0, 300, parts)
	cons := newGroupConsumer(t, seeds, group, hub)
	cons.consumeAll(ctx, acked)

	old := c.WaitMetaLeader()
	to := c.Nodes[int(old.ID)%len(c.Nodes)]
	produceAcked(t, prod, acked, 300, 600, parts)
	t.Logf("moving the metadata leadership from node %d to node %d while the member consumes and commits", old.ID, to.ID)
	moved := make(chan struct{})
	go func() {
		defer close(moved)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if to.Raft.Confirmed(cluster.MetaGroup) {
				return
			}
			if l := c.MetaLeader(); l != nil {
				_ = l.Raft.TransferLeader(cluster.MetaGroup, to.ID)
			}
		}
	}()
	cons.consumeAll(ctx, acked)
	<-moved
	c.TransferMetaLeader(to) // fails the test if the move did not happen
	cons.pollUntil(ctx, "the group to be rebuilt on the new coordinator", stableOn(to, group))
	produceAcked(t, prod, acked, 600, 900, parts)
	cons.consumeAll(ctx, acked)
	mon.close(t)

	t.Logf("closing node %d, the coordinator", to.ID)
	to.Stop()
	next := c.WaitMetaLeader(to.ID)
	t.Logf("node %d coordinates now", next.ID)
	cons.pollUntil(ctx, "the group to be rebuilt on the new coordinator", stableOn(next, group))
	produceAcked(t, prod, acked, 900, 1200, parts)
	cons.consumeAll(ctx, acked)
	for i := 0; i < 3; i++ {
		cons.poll(ctx) // commit the last records' offsets
	}
	clustertest.Eventually(t, "the last commits on the new coordinator", func() bool {
		offs := next.Broker.GroupOffsets(broker.DevNamespace, group)[hub]
		for p := range int32(parts) {
			if offs[p].Offset != 400 {
				return false
			}
		}
		return true
	})

	cons.mu.Lock()
	defer cons.mu.Unlock()
	t.Logf("resumed at: %v", cons.resumed)
	for _, b := range cons.bad {
		t.Error(b)
	}
	if len(cons.resumed) < 3*parts {
		t.Errorf("the member was assigned %d partitions in all; want the group rebuilt after the coordinator moved", len(cons.resumed))
	}
}

// Group requests sent to a node that does not coordinate answer NOT_COORDINATOR;
// FindCoordinator there names the metadata leader, which answers them.
func TestClusterGroupRequestsToNonCoordinator(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateHub("orders", 1)
	leader := c.WaitMetaLeader()
	var follower *clustertest.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	direct := func(n *clustertest.Node) *kgo.Broker {
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl.SeedBrokers()[0]
	}
	fb, lb := direct(follower), direct(leader)

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey, fc.CoordinatorKeys = "g", []string{"g"}
	resp, err := fb.Request(ctx, fc)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.FindCoordinatorResponse)
	if len(r.Coordinators) == 1 { // v4+
		r.ErrorCode, r.NodeID = r.Coordinators[0].ErrorCode, r.Coordinators[0].NodeID
	}
	if r.ErrorCode != 0 || r.NodeID != int32(leader.ID) {
		t.Fatalf("FindCoordinator on node %d: %+v, want node %d", follower.ID, r, leader.ID)
	}

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "g", "consumer", 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 0, 0, 0}}}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID = "g", "m"
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID = "g", "m"
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = "g", "m"
	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Groups = []string{"g"}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "g", -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "orders"
	ct.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5}}
	commit.Topics = append(commit.Topics, ct)
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "g"
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "orders", Partitions: []int32{0}}}
	list := kmsg.NewPtrListGroupsRequest()

	codeOf := func(r kmsg.Response) int16 {
		switch r := r.(type) {
		case *kmsg.JoinGroupResponse:
			return r.ErrorCode
		case *kmsg.HeartbeatResponse:
			return r.ErrorCode
		case *kmsg.SyncGroupResponse:
			return r.ErrorCode
		case *kmsg.LeaveGroupResponse:
			return r.ErrorCode
		case *kmsg.DescribeGroupsResponse:
			return r.Groups[0].ErrorCode
		case *kmsg.OffsetCommitResponse:
			return r.Topics[0].Partitions[0].ErrorCode
		case *kmsg.OffsetFetchResponse:
			return r.ErrorCode
		case *kmsg.ListGroupsResponse:
			return r.ErrorCode
		}
		t.Fatalf("unexpected %T", r)
		return 0
	}
	for _, req := range []kmsg.Request{join, hb, sync, leave, desc, commit, fetch} {
		resp, err := fb.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if got := codeOf(resp); got != kerr.NotCoordinator.Code {
			t.Errorf("%s on node %d (not the coordinator): %v, want NOT_COORDINATOR", kmsg.NameForKey(req.Key()), follower.ID, kerr.ErrorForCode(got))
		}
	}
	resp, err = fb.Request(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*kmsg.ListGroupsResponse); r.ErrorCode != 0 || len(r.Groups) != 0 {
		t.Errorf("ListGroups on a non-coordinator: %+v, want no groups and no error", r)
	}

	// The coordinator answers: a simple commit, then the offset it committed.
	for _, req := range []kmsg.Request{commit, fetch} {
		resp, err := lb.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if got := codeOf(resp); got != 0 {
			t.Fatalf("%s on the coordinator: %v", kmsg.NameForKey(req.Key()), kerr.ErrorForCode(got))
		}
		if r, ok := resp.(*kmsg.OffsetFetchResponse); ok && r.Topics[0].Partitions[0].Offset != 5 {
			t.Fatalf("OffsetFetch on the coordinator: %+v", r.Topics[0].Partitions[0])
		}
	}

	// Alone, the follower knows no leader: COORDINATOR_NOT_AVAILABLE, and clients retry.
	for _, n := range c.Nodes {
		if n != follower {
			n.Stop()
		}
	}
	clustertest.Eventually(t, "FindCoordinator to answer COORDINATOR_NOT_AVAILABLE without a leader", func() bool {
		resp, err := fb.Request(ctx, fc)
		if err != nil {
			return false
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		return len(r.Coordinators) == 1 && r.Coordinators[0].ErrorCode == kerr.CoordinatorNotAvailable.Code
	})
	for _, req := range []kmsg.Request{join, hb, commit, fetch} {
		resp, err := fb.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if got := codeOf(resp); got != kerr.CoordinatorNotAvailable.Code {
			t.Errorf("%s without a metadata leader: %v, want COORDINATOR_NOT_AVAILABLE", kmsg.NameForKey(req.Key()), kerr.ErrorForCode(got))
		}
	}
}
