package interop

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The benchmarks move b.N events of 1 KiB in batches of 100 through one partition of one
// `tandem serve` process: with the Go SDK over AMQP and with franz-go over Kafka, one batch at a
// time (each waits for its acknowledgement), so their ratio compares the protocol paths.
//
//	go test -run '^$' -bench . -benchtime 20000x

const benchBatch = 100

var benchBody = bytes.Repeat([]byte("e"), 1024)

func benchEvents(n int) []*azeventhubs.EventData {
	evs := make([]*azeventhubs.EventData, n)
	for i := range evs {
		evs[i] = &azeventhubs.EventData{Body: benchBody}
	}
	return evs
}

func report(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAMQPProduce(b *testing.B) {
	e := sharedEnv(b)
	hub := e.newHub(b, 1)
	p := e.producer(b, hub)
	ctx := context.Background()
	evs := benchEvents(benchBatch)
	mustSend(b, p, evs[:1], nil) // the link, before the clock starts
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += benchBatch {
		if err := send(ctx, p, evs[:min(benchBatch, b.N-sent)], &azeventhubs.EventDataBatchOptions{PartitionID: ptr("0")}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b)
}

func BenchmarkAMQPConsume(b *testing.B) {
	for _, prefetch := range []int32{0, 3000} { // 0: the SDK's default, 300
		b.Run(fmt.Sprintf("prefetch=%d", prefetch), func(b *testing.B) {
			e := sharedEnv(b)
			hub := e.newHub(b, 1)
			p, c := e.producer(b, hub), e.consumer(b, hub)
			if err := send(within(b, 10*time.Minute), p, benchEvents(b.N), &azeventhubs.EventDataBatchOptions{PartitionID: ptr("0")}); err != nil {
				b.Fatal(err)
			}
			pc, err := c.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{Prefetch: prefetch,
				StartPosition: azeventhubs.StartPosition{Earliest: ptr(true)}})
			if err != nil {
				b.Fatal(err)
			}
			defer pc.Close(context.Background())
			b.ResetTimer()
			if got, err := receiveFrom(within(b, 10*time.Minute), pc, b.N); err != nil {
				b.Fatalf("%d of %d events: %v", len(got), b.N, err)
			}
			b.StopTimer()
			report(b)
		})
	}
}

func kafkaRecords(hub string, n int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: hub, Partition: 0, Value: benchBody}
	}
	return recs
}

func BenchmarkKafkaProduce(b *testing.B) {
	e := sharedEnv(b)
	hub := e.newHub(b, 1)
	cl := e.kafkaClient(b, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, kafkaRecords(hub, 1)...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += benchBatch {
		if err := cl.ProduceSync(ctx, kafkaRecords(hub, min(benchBatch, b.N-sent))...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b)
}

func BenchmarkKafkaConsume(b *testing.B) {
	e := sharedEnv(b)
	hub := e.newHub(b, 1)
	prod := e.kafkaClient(b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := within(b, 10*time.Minute)
	for sent := 0; sent < b.N; sent += 1000 {
		if err := prod.ProduceSync(ctx, kafkaRecords(hub, min(1000, b.N-sent))...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	cl := e.kafkaClient(b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{hub: {0: kgo.NewOffset().AtStart()}}))
	b.ResetTimer()
	for got := 0; got < b.N; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			b.Fatalf("%d of %d records: %v", got, b.N, ctx.Err())
		}
		got += fs.NumRecords()
	}
	b.StopTimer()
	report(b)
}
