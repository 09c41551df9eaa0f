package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsumerGroupRebalance runs three group members over a 6-partition hub, then closes
// one and checks the other two take over its partitions and every record is consumed.
func TestConsumerGroupRebalance(t *testing.T) {
	n := startNode(t, t.TempDir(), true)
	n.createHub(t, "default", "events", 6)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	p := n.client(t, kgo.DefaultProduceTopic("events"))
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 300)

	var mu sync.Mutex
	seen := map[string]int{}
	assigned := map[int]map[int32]bool{}
	newMember := func(id int) *kgo.Client {
		return n.client(t, kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("events"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
			kgo.RebalanceTimeout(10*time.Second),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				// Cooperative rebalancing reports only what is added or removed.
				if assigned[id] == nil {
					assigned[id] = map[int32]bool{}
				}
				for _, p := range m["events"] {
					assigned[id][p] = true
				}
			}),
			kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
				cl.CommitUncommittedOffsets(ctx)
				mu.Lock()
				defer mu.Unlock()
				for _, p := range m["events"] {
					delete(assigned[id], p)
				}
			}),
		)
	}
	members := []*kgo.Client{newMember(0), newMember(1), newMember(2)}
	var wg sync.WaitGroup
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	for i, m := range members {
		wg.Add(1)
		go func(i int, m *kgo.Client) {
			defer wg.Done()
			for pollCtx.Err() == nil {
				fs := m.PollFetches(pollCtx)
				if fs.IsClientClosed() {
					return
				}
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)]++
					mu.Unlock()
				})
			}
		}(i, m)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s: assigned=%v seen=%d", what, assigned, len(seen))
			case <-time.After(20 * time.Millisecond): // polling a condition, not synchronising on time
			}
		}
	}
	spread := func(ids ...int) bool {
		total := 0
		for _, id := range ids {
			if len(assigned[id]) == 0 {
				return false
			}
			total += len(assigned[id])
		}
		return total == 6
	}
	waitFor("three members sharing six partitions", func() bool { return spread(0, 1, 2) && len(seen) == 300 })

	// Member 2 leaves: the others must take its partitions and consume new records.
	members[2].Close()
	mu.Lock()
	delete(assigned, 2)
	mu.Unlock()
	produce(300, 600)
	waitFor("two members sharing six partitions", func() bool { return spread(0, 1) && len(seen) == 600 })
	stopPolling()
	members[0].Close()
	members[1].Close()
	wg.Wait()

	adm := kadm.NewClient(n.client(t))
	groups, err := adm.DescribeGroups(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if g := groups["g1"]; g.Err != nil {
		t.Fatalf("describe g1: %v", g.Err)
	}
}

// TestCommittedOffsetsSurviveRestart commits offsets, restarts the node and reads them back.
func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir, true)
	n.createHub(t, "default", "ckpt", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(n.client(t))
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "ckpt", Partition: 0, At: 10, Metadata: "m0"})
	offs.Add(kadm.Offset{Topic: "ckpt", Partition: 2, At: 42})
	if err := adm.CommitAllOffsets(ctx, "svc", offs); err != nil {
		t.Fatal(err)
	}
	n.restart()
	adm = kadm.NewClient(n.client(t))
	got, err := adm.FetchOffsets(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := got.Lookup("ckpt", 0); o.At != 10 || o.Metadata != "m0" {
		t.Errorf("partition 0 offset after restart = %+v, want 10/m0", o)
	}
	if o, _ := got.Lookup("ckpt", 2); o.At != 42 {
		t.Errorf("partition 2 offset after restart = %+v, want 42", o)
	}
	if _, ok := got.Lookup("ckpt", 1); ok {
		t.Errorf("partition 1 has an offset but none was committed")
	}
	// The Kafka group is also a consumer group of the hub, as on Event Hubs.
	if _, err := n.b.ConsumerGroup("default", "ckpt", "svc"); err != nil {
		t.Errorf("Kafka group svc is not a consumer group of hub ckpt: %v", err)
	}
}
