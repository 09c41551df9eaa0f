package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestProduceConsumeAcrossPartitions(t *testing.T) {
	n := startNode(t, t.TempDir(), true)
	n.createHub(t, "default", "orders", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	const perCodec = 200
	want := map[string]*kgo.Record{}
	for name, codec := range codecs {
		p := n.client(t, kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic("orders"))
		var recs []*kgo.Record
		for i := 0; i < perCodec; i++ {
			r := &kgo.Record{Key: []byte(fmt.Sprintf("%s-key-%d", name, i%7)), Value: []byte(fmt.Sprintf("%s-value-%d", name, i)),
				Headers: []kgo.RecordHeader{{Key: "codec", Value: []byte(name)}}}
			recs = append(recs, r)
			want[string(r.Value)] = r
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce with %s: %v", name, err)
		}
	}

	c := n.client(t, kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]*kgo.Record{}
	keyPartition := map[string]int32{}
	for len(got) < len(want) {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), len(want), err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if _, dup := got[string(r.Value)]; dup {
				t.Errorf("record %q consumed twice", r.Value)
			}
			got[string(r.Value)] = r
			if p, ok := keyPartition[string(r.Key)]; ok && p != r.Partition {
				t.Errorf("key %q in partitions %d and %d", r.Key, p, r.Partition)
			}
			keyPartition[string(r.Key)] = r.Partition
		})
	}
	partitions := map[int32]bool{}
	for v, w := range want {
		g := got[v]
		if string(g.Key) != string(w.Key) || len(g.Headers) != 1 || g.Headers[0].Key != "codec" || string(g.Headers[0].Value) != string(w.Headers[0].Value) {
			t.Errorf("record %q came back as key=%q headers=%v", v, g.Key, g.Headers)
		}
		if g.Timestamp.IsZero() || time.Since(g.Timestamp) > time.Hour {
			t.Errorf("record %q has enqueued time %v", v, g.Timestamp)
		}
		partitions[g.Partition] = true
	}
	if len(partitions) < 2 {
		t.Errorf("all records landed in %d partition(s); keys should spread them", len(partitions))
	}
}

func TestUnknownHubAndPartition(t *testing.T) {
	n := startNode(t, t.TempDir(), true)
	n.createHub(t, "default", "small", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := n.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProduceRequestTimeout(5*time.Second),
		kgo.RecordDeliveryTimeout(3*time.Second))
	err := p.ProduceSync(ctx, &kgo.Record{Topic: "small", Partition: 5, Value: []byte("x")}).FirstErr()
	if err == nil {
		t.Fatal("produce to partition 5 of a 1-partition hub succeeded")
	}
	err = p.ProduceSync(ctx, &kgo.Record{Topic: "nosuchhub", Value: []byte("x")}).FirstErr()
	if err == nil {
		t.Fatal("produce to an unknown hub succeeded")
	}
}
