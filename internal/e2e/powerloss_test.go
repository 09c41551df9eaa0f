package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPowerLossKeepsAcknowledgedRecords is TestCrashKeepsAcknowledgedRecords with a power loss
// instead of a process crash: the node runs with TANDEM_TEST_LAZY_WRITES=1 (internal/lazyfs),
// so whatever its partition logs wrote but had not fsynced is gone at the kill. Every record
// acknowledged with acks=all must still be there, at its offset, once.
func TestPowerLossKeepsAcknowledgedRecords(t *testing.T) {
	t.Setenv("TANDEM_TEST_LAZY_WRITES", "1")
	n := startNode(t, t.TempDir(), "--dev", "--fsync", "interval", "--fsync-interval", "10ms")
	n.cli(t, "", "hub", "create", "default/crash", "--partitions", "2")
	acked := produceUntilKilled(t, n, 3000)
	n.restart()
	checkAcked(t, n, acked)
}

// TestPowerLossDropsUnsyncedWrites is the control of the test above: it shows the lazy-write
// mode really loses what was not fsynced. With acks=1 the node answers before the fsync, and
// with a one-hour group-commit interval nothing after the first fsync is synced, so after the
// kill most acknowledged records are gone. (A single node's acks=1 makes no durability
// promise; acks=all does.)
func TestPowerLossDropsUnsyncedWrites(t *testing.T) {
	t.Setenv("TANDEM_TEST_LAZY_WRITES", "1")
	n := startNode(t, t.TempDir(), "--dev", "--fsync", "interval", "--fsync-interval", "1h")
	n.cli(t, "", "hub", "create", "default/lazy", "--partitions", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.DefaultProduceTopic("lazy"),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	const total = 2000
	for i := 0; i < total; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	cl.Close()
	n.kill9()
	n.restart()
	end := endOffset(t, ctx, n, "lazy")
	if end >= total/2 {
		t.Fatalf("after the power loss partition 0 ends at %d of %d records written without fsync: the lazy-write mode kept unsynced data", end, total)
	}
	t.Logf("%d acks=1 records acknowledged, %d survived the power loss", total, end)
}

// endOffset is the log end offset of partition 0 of topic.
func endOffset(t *testing.T, ctx context.Context, n *node, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := ends.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("ListOffsets %s/0: %v (found %v)", topic, o.Err, ok)
	}
	return o.Offset
}
