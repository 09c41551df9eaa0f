package kafka_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// An anonymous --dev producer's first request on its produce connection (after ApiVersions)
// may be a Produce far above the pre-SASL frame cap: with --dev the connection acts in the dev
// namespace from its first request, so the full request limit applies (tandem bench and kcat
// with large batches against tandem dev hung before).
func TestDevAnonymousLargeFirstProduce(t *testing.T) {
	n := startNode(t, t.TempDir(), true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := n.b.CreateHub(ctx, broker.DevNamespace, broker.HubSpec{Name: "big", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	cl := n.client(t, kgo.ProducerBatchMaxBytes(4<<20), kgo.ProducerLinger(50*time.Millisecond),
		kgo.RecordDeliveryTimeout(20*time.Second), kgo.RecordRetries(2))
	val := make([]byte, 700<<10)
	rand.Read(val) // incompressible: franz-go compresses batches by default
	var results []*kgo.Record
	for range 2 { // 1.4 MB in one batch: one Produce frame of ~1.4 MB
		results = append(results, &kgo.Record{Topic: "big", Value: val})
	}
	if err := cl.ProduceSync(ctx, results...).FirstErr(); err != nil {
		t.Fatalf("producing 1.6 MB through an anonymous dev connection: %v", err)
	}
}
