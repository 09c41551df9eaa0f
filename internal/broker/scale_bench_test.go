package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/meta"
)

// Benchmarks of metadata commands at many hubs (issue 17, item 1): a command must cost what it
// touches, not what the node holds. Run with
//
//	go test -run '^$' -bench 'CreateHubAt|CommitOffsetsAt' -benchtime 2s ./internal/broker/

// openScaleBroker opens a single-node broker without hub or partition quotas.
func openScaleBroker(tb testing.TB) *Broker {
	tb.Helper()
	b, err := Open(context.Background(), Options{DataDir: tb.TempDir(),
		Quotas: Quotas{HubsPerNamespace: -1, PartitionsPerNode: 1 << 20}, // the partition quota on: its check is part of the cost
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	if _, err := b.CreateNamespace(context.Background(), NamespaceSpec{Name: "scale-ns", Tier: "premium"}); err != nil {
		tb.Fatal(err)
	}
	return b
}

// addHubs creates hubs h0 … h(n-1) of one partition in ns, a thousand per metadata write.
func addHubs(tb testing.TB, b *Broker, ns string, n int) {
	tb.Helper()
	now := time.Now().UTC()
	for start := 0; start < n; start += 1000 {
		var cmds []meta.Command
		for i := start; i < n && i < start+1000; i++ {
			cmds = append(cmds, meta.CreateHub{Namespace: ns, Hub: fmt.Sprintf("h%d", i), PartitionCount: 1,
				Time: now.Add(time.Duration(i))})
		}
		if err := b.meta.ProposeBatch(context.Background(), cmds); err != nil {
			tb.Fatal(err)
		}
	}
	b.refreshHubs()
}

func BenchmarkCreateHubAt(b *testing.B) {
	for _, hubs := range []int{1, 10000} {
		b.Run(fmt.Sprintf("hubs=%d", hubs), func(b *testing.B) {
			br := openScaleBroker(b)
			addHubs(b, br, "scale-ns", hubs)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := br.CreateHub(ctx, "scale-ns", HubSpec{Name: fmt.Sprintf("new%d", i), Partitions: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hubs/s")
		})
	}
}

// BenchmarkCommitOffsetsAt commits one offset per call from 64 concurrent committers (as many
// consumers of a group would), so the metadata log's group commit batches them.
func BenchmarkCommitOffsetsAt(b *testing.B) {
	for _, hubs := range []int{1, 1000} {
		b.Run(fmt.Sprintf("hubs=%d", hubs), func(b *testing.B) {
			br := openScaleBroker(b)
			addHubs(b, br, "scale-ns", hubs)
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					hub := fmt.Sprintf("h%d", i%int64(hubs))
					if err := br.CommitOffsets(ctx, "scale-ns", meta.DefaultGroup, hub, []OffsetCommit{{Partition: 0, Offset: i}}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
