package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCrashKeepsAcknowledgedRecords produces with acks=all while the server is killed with
// SIGKILL, restarts it, and checks that every acknowledged record is readable at the offset
// it was acknowledged with, and that no record appears twice. It runs with fsync per write
// and with group commit: acks=all answers only after the fsync that covers the batch, so
// under both policies everything acknowledged was on disk before the kill.
func TestCrashKeepsAcknowledgedRecords(t *testing.T) {
	for _, fsync := range []string{"always", "interval"} {
		t.Run("fsync="+fsync, func(t *testing.T) {
			n := startNode(t, t.TempDir(), "--dev", "--fsync", fsync, "--fsync-interval", "10ms")
			n.cli(t, "", "hub", "create", "default/crash", "--partitions", "2")
			acked := produceUntilKilled(t, n, 3000)
			n.restart()
			checkAcked(t, n, acked)
		})
	}
}

type ackedRecord struct {
	partition int32
	offset    int64
}

// produceUntilKilled produces from four goroutines and kills the server once minAcked
// records are acknowledged. It returns what was acknowledged, by value.
func produceUntilKilled(t *testing.T, n *node, minAcked int) map[string]ackedRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.DefaultProduceTopic("crash"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(5*time.Second), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var mu sync.Mutex
	acked := map[string]ackedRecord{}
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				case <-ctx.Done():
					return
				default:
				}
				r := &kgo.Record{Key: []byte(fmt.Sprint(i % 16)), Value: []byte(fmt.Sprintf("w%d-%d", w, i))}
				cl.Produce(ctx, r, func(r *kgo.Record, err error) {
					if err != nil {
						return
					}
					mu.Lock()
					acked[string(r.Value)] = ackedRecord{r.Partition, r.Offset}
					enough := len(acked) >= minAcked
					mu.Unlock()
					if enough {
						once.Do(func() {
							n.kill9()
							close(killed)
						})
					}
				})
			}
		}(w)
	}
	select {
	case <-killed:
	case <-ctx.Done():
		t.Fatalf("only %d records acknowledged before the deadline", len(acked))
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]ackedRecord, len(acked))
	for k, v := range acked {
		out[k] = v
	}
	return out
}

func checkAcked(t *testing.T, n *node, acked map[string]ackedRecord) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.ConsumeTopics("crash"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends := map[int32]int64{}
	for _, r := range acked {
		if r.offset+1 > ends[r.partition] {
			ends[r.partition] = r.offset + 1
		}
	}
	seen := map[string]ackedRecord{}
	reached := func() bool {
		for p, end := range ends {
			found := false
			for _, r := range seen {
				if r.partition == p && r.offset+1 >= end {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	for !reached() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records after restart; acknowledged ones are missing", len(seen))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if prev, dup := seen[string(r.Value)]; dup {
				t.Errorf("record %s appears twice: offsets %d and %d", r.Value, prev.offset, r.Offset)
			}
			seen[string(r.Value)] = ackedRecord{r.Partition, r.Offset}
		})
	}
	for v, want := range acked {
		got, ok := seen[v]
		if !ok {
			t.Errorf("acknowledged record %s (partition %d offset %d) is missing after the crash", v, want.partition, want.offset)
		} else if got != want {
			t.Errorf("record %s was acknowledged at %d/%d but is at %d/%d", v, want.partition, want.offset, got.partition, got.offset)
		}
	}
	t.Logf("%d acknowledged records all present after kill -9; %d records read", len(acked), len(seen))
}
