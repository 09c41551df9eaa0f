package interop

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	azeventhubsv1 "github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// kafkaClient is a franz-go client of the env's namespace (SASL PLAIN with the namespace's
// connection string, as Event Hubs' Kafka endpoint takes it), closed with the test.
func (e env) kafkaClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	keys, err := e.n.api.ListKeys(within(t, time.Minute), e.ns, "", rootRule)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]kgo.Opt{kgo.SeedBrokers(e.n.addrs().kafka),
		kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: keys.PrimaryConnectionString}.AsMechanism())}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// kafkaRead reads n records of hub's partition from the start.
func (e env) kafkaRead(t testing.TB, hub string, partition int32, n int) []*kgo.Record {
	t.Helper()
	cl := e.kafkaClient(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{hub: {partition: kgo.NewOffset().AtStart()}}))
	ctx := within(t, time.Minute)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d Kafka records: %v", len(out), n, ctx.Err())
		}
		for _, err := range fs.Errors() {
			t.Fatalf("Kafka fetch: %v", err.Err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func header(r *kgo.Record, key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// One event is one event on both protocols. Produced over Kafka and read with the SDK: the
// sequence number is the Kafka offset, the enqueued time the record's time, the key the
// partition key, the headers the properties. Sent with the SDK and read over Kafka: the same,
// the other way round.
func TestAMQPKafkaCrossProtocol(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 2)

	// Kafka → AMQP.
	prod := e.kafkaClient(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: hub, Partition: 0, Key: fmt.Appendf(nil, "k-%d", i), Value: fmt.Appendf(nil, "kafka-%d", i),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v" + strconv.Itoa(i))}, {Key: "bin", Value: []byte{0xff, 0xfe}}}})
	}
	if err := prod.ProduceSync(within(t, time.Minute), recs...).FirstErr(); err != nil {
		t.Fatalf("Kafka produce: %v", err)
	}
	stored := e.kafkaRead(t, hub, 0, 5)
	c := e.consumer(t, hub)
	evs := receive(t, c, "0", azeventhubs.StartPosition{Earliest: ptr(true)}, 5, time.Minute)
	for i, ev := range evs {
		r := stored[i]
		if ev.SequenceNumber != r.Offset || ev.Offset != strconv.FormatInt(r.Offset, 10) {
			t.Errorf("record %d: Kafka offset %d, SDK sequence number %d offset %q", i, r.Offset, ev.SequenceNumber, ev.Offset)
		}
		if ev.EnqueuedTime == nil || ev.EnqueuedTime.UnixMilli() != r.Timestamp.UnixMilli() {
			t.Errorf("record %d: Kafka timestamp %v, SDK enqueued time %v", i, r.Timestamp, ev.EnqueuedTime)
		}
		if ev.PartitionKey == nil || *ev.PartitionKey != string(r.Key) || !bytes.Equal(ev.Body, r.Value) {
			t.Errorf("record %d: key %q value %q, SDK partition key %v body %q", i, r.Key, r.Value, ev.PartitionKey, ev.Body)
		}
		if ev.Properties["h"] != "v"+strconv.Itoa(i) || !bytes.Equal(asBytes(ev.Properties["bin"]), []byte{0xff, 0xfe}) {
			t.Errorf("record %d: headers %v, SDK properties %#v", i, r.Headers, ev.Properties)
		}
	}

	// AMQP → Kafka.
	p := e.producer(t, hub)
	events := []*azeventhubs.EventData{
		{Body: []byte("amqp-0"), Properties: map[string]any{"s": "str", "n": int64(5)}},
		{Body: []byte("amqp-1"), Properties: map[string]any{"s": "two"}},
	}
	mustSend(t, p, events, &azeventhubs.EventDataBatchOptions{PartitionKey: ptr("pk-1")})
	part := int32(keyPartition("pk-1", 2))
	sent := receive(t, c, strconv.Itoa(int(part)), azeventhubs.StartPosition{Earliest: ptr(true)}, int(map[int32]int{0: 7, 1: 2}[part]), time.Minute)
	sent = sent[len(sent)-2:]
	got := e.kafkaRead(t, hub, part, len(sent)+map[int32]int{0: 5, 1: 0}[part])
	got = got[len(got)-2:]
	for i, r := range got {
		ev := sent[i]
		if r.Offset != ev.SequenceNumber || r.Timestamp.UnixMilli() != ev.EnqueuedTime.UnixMilli() {
			t.Errorf("event %d: SDK sequence number %d enqueued %v, Kafka offset %d timestamp %v", i, ev.SequenceNumber, ev.EnqueuedTime, r.Offset, r.Timestamp)
		}
		if string(r.Key) != "pk-1" || string(r.Value) != string(events[i].Body) {
			t.Errorf("event %d: Kafka key %q value %q, want the partition key pk-1 and body %q", i, r.Key, r.Value, events[i].Body)
		}
		if v, ok := header(r, "s"); !ok || string(v) != events[i].Properties["s"] {
			t.Errorf("event %d: Kafka header s = %q (%v), want the property's UTF-8 bytes %q", i, v, ok, events[i].Properties["s"])
		}
	}
	// A property that is not a string travels as its AMQP encoding: the long 5, as a smalllong
	// (55 05, what go-amqp sends) or a long (81 and 8 bytes).
	if v, _ := header(got[0], "n"); !bytes.Equal(v, []byte{0x55, 5}) && !bytes.Equal(v, []byte{0x81, 0, 0, 0, 0, 0, 0, 0, 5}) {
		t.Errorf("Kafka header n = % x, want the AMQP long 5 (55 05 or 81 00 … 05)", v)
	}
}

func asBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}

// azeventhubs v1 reads offsets as int64: x-opt-offset and last_enqueued_offset must be decimal
// strings.
func TestAMQPSDKv1Offsets(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 1)
	p, err := azeventhubsv1.NewProducerClientFromConnectionString(e.connString(), hub, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := within(t, 2*time.Minute)
	batch, err := p.NewEventDataBatch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := batch.AddEventData(&azeventhubsv1.EventData{Body: fmt.Appendf(nil, "v1-%d", i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SendEventDataBatch(ctx, batch, nil); err != nil {
		t.Fatalf("v1 SendEventDataBatch: %v", err)
	}
	pp, err := p.GetPartitionProperties(ctx, "0", nil)
	if err != nil || pp.LastEnqueuedOffset != 2 || pp.LastEnqueuedSequenceNumber != 2 {
		t.Errorf("v1 GetPartitionProperties = %+v, %v; want last enqueued offset 2", pp, err)
	}
	c, err := azeventhubsv1.NewConsumerClientFromConnectionString(e.connString(), hub, azeventhubsv1.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	pc, err := c.NewPartitionClient("0", &azeventhubsv1.PartitionClientOptions{
		StartPosition: azeventhubsv1.StartPosition{Offset: ptr(int64(0)), Inclusive: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	var got []*azeventhubsv1.ReceivedEventData
	for len(got) < 3 && ctx.Err() == nil {
		evs, err := pc.ReceiveEvents(ctx, 3-len(got), nil)
		if err != nil {
			t.Fatalf("v1 ReceiveEvents after %d events: %v", len(got), err)
		}
		got = append(got, evs...)
	}
	for i, ev := range got {
		if ev.Offset != int64(i) || ev.SequenceNumber != int64(i) || string(ev.Body) != fmt.Sprintf("v1-%d", i) {
			t.Errorf("v1 event %d: offset %d, sequence number %d, body %q", i, ev.Offset, ev.SequenceNumber, ev.Body)
		}
	}
}
