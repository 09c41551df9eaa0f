package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func procFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Skipf("counting a process's open files needs /proc: %v", err)
	}
	return len(ents)
}

// TestAuditH2c_NodeFdsStayWithinLogBudget replays H2(c) at a small scale against a real node:
// a tenant creates hubs with many partitions and sends ListOffsets for each (which opens every
// partition's log), then produces to and consumes from all of them. With --max-open-log-files
// the node's open fds stay within the budget (plus its listeners, the metadata log and the
// client's connections), and every event is still there.
func TestAuditH2c_NodeFdsStayWithinLogBudget(t *testing.T) {
	const budget, hubs, parts = 32, 4, 64 // 256 partitions, 8 times the budget
	n := startNode(t, t.TempDir(), "--dev", "--max-open-log-files", strconv.Itoa(budget))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := make([]string, hubs)
	for i := range topics {
		topics[i] = fmt.Sprintf("fd-hub-%d", i)
	}
	if _, err := adm.CreateTopics(ctx, parts, 1, nil, topics...); err != nil {
		t.Fatal(err)
	}
	pid := n.proc.Pid()
	base := procFDs(t, pid)
	const slack = 16 // connections the client opens meanwhile, transient directory and index fds
	check := func(when string) {
		t.Helper()
		if got := procFDs(t, pid); got > base+budget+slack {
			t.Fatalf("%s: the node has %d open fds; %d before the partitions were used, budget %d\n%s",
				when, got, base, budget, n.logs())
		}
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil || ends.Error() != nil {
		t.Fatalf("ListOffsets on every partition: %v %v", err, ends.Error())
	}
	check("after ListOffsets on every partition")
	var recs []*kgo.Record
	for _, topic := range topics {
		for p := range parts {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: fmt.Appendf(nil, "%s/%d", topic, p)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	check("after producing to every partition")
	cons, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[string]bool{}
	for len(seen) < len(recs) {
		fetches := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d events: %v", len(seen), len(recs), err)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("%s/%d", r.Topic, r.Partition); string(r.Value) != want {
				t.Fatalf("partition %s/%d holds %q", r.Topic, r.Partition, r.Value)
			}
			seen[string(r.Value)] = true
		})
	}
	check("after consuming every partition")
}
