package interop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/client"
)

// BenchmarkAMQPConsumeRaw reads the same backlog as BenchmarkAMQPConsume with a bare go-amqp
// receiver (credit 5000, no SDK on top): what the server delivers when the client only
// decodes frames. It uses the --dev node's anonymous access to namespace "default".
func BenchmarkAMQPConsumeRaw(b *testing.B) {
	e := sharedEnv(b)
	ctx := within(b, 10*time.Minute)
	hub := fmt.Sprintf("raw%d", hubSeq.Add(1))
	if _, err := e.n.api.CreateHub(ctx, "default", hub, client.HubOptions{Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(e.n.addrs().kafka), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	for sent := 0; sent < b.N; sent += 1000 {
		if err := prod.ProduceSync(ctx, kafkaRecords(hub, min(1000, b.N-sent))...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	conn, err := amqp.Dial(ctx, "amqp://"+e.n.addrs().amqp, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	s, err := conn.NewSession(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	r, err := s.NewReceiver(ctx, hub+"/ConsumerGroups/$Default/Partitions/0", &amqp.ReceiverOptions{Credit: 5000,
		Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("amqp.annotation.x-opt-offset > '-1'")}})
	if err != nil {
		b.Fatal(err)
	}
	for got := 0; got < b.N; got++ {
		if _, err := r.Receive(ctx, nil); err != nil {
			b.Fatalf("%d of %d events: %v", got, b.N, err)
		}
	}
	b.StopTimer()
	r.Close(context.Background())
	report(b)
}
