package eventhubs

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/amqp/message"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
)

// authed is a connection holding a namespace-wide Manage claim, as the Go SDK gets one.
func (f *fixture) authed() *conn {
	c := f.connect("localhost:5672")
	if reply := putToken(f.t, c, "amqp://localhost:5672/", f.token("amqp://localhost:5672/", "RootManageSharedAccessKey", f.key)); status(reply) != int32(202) {
		f.t.Fatalf("put-token: %v", reply.ApplicationProperties)
	}
	return c
}

func marshal(t *testing.T, m *goamqp.Message) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// batchOf builds the envelope azeventhubs sends: one data section per encoded event, the
// partition key on the envelope.
func batchOf(t *testing.T, key string, events ...*goamqp.Message) []byte {
	t.Helper()
	env := &goamqp.Message{}
	for _, e := range events {
		env.Data = append(env.Data, marshal(t, e))
	}
	if key != "" {
		env.Annotations = goamqp.Annotations{"x-opt-partition-key": key}
	}
	return marshal(t, env)
}

func send(t *testing.T, l amqp.Incoming, format uint32, msg []byte) {
	t.Helper()
	st, _ := l.Message(context.Background(), format, msg)
	if _, ok := st.(*frames.Accepted); !ok {
		t.Fatalf("send state %#v", st)
	}
}

func next(t *testing.T, out amqp.Outgoing, max int) []*goamqp.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ds, err := out.Next(ctx, max)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	var ms []*goamqp.Message
	for _, d := range ds {
		var m goamqp.Message
		if err := m.UnmarshalBinary(d.Message); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, &m)
	}
	return ms
}

// An event sent over AMQP in a batch envelope with a partition key lands on the lookup3
// partition; HTTP receives it with the same sequence number, time, key and properties (and
// without Tandem's envelope header), and an AMQP receiver gets it back as sent.
func TestSendBatchReceiveEverywhere(t *testing.T) {
	f := newFixture(t, false)
	c := f.authed()
	s := incoming(t, c, "hub1")
	if got := s.MaxMessageSize(); got != broker.DefaultMaxEventBytes {
		t.Fatalf("max-message-size %d, want the hub's max event size %d", got, broker.DefaultMaxEventBytes)
	}
	ev := func(body string, props map[string]any) *goamqp.Message {
		return &goamqp.Message{Data: [][]byte{[]byte(body)}, ApplicationProperties: props,
			Properties: &goamqp.MessageProperties{MessageID: "mid-" + body}}
	}
	send(t, s, message.BatchFormat, batchOf(t, "alphabet",
		ev("e1", map[string]any{"color": "red"}), ev("e2", map[string]any{"color": "blue", "n": int64(2)})))
	part := KeyPartition("alphabet", 4)

	httpEvents, _, err := f.b.Receive(context.Background(), "amqpns1", "hub1", part, broker.Position{Kind: broker.FromStart}, 10, 0)
	if err != nil || len(httpEvents) != 2 {
		t.Fatalf("HTTP receive on partition %d: %d events, %v", part, len(httpEvents), err)
	}
	if _, ok := httpEvents[0].Properties[broker.AMQPMessageHeader]; ok {
		t.Fatal("HTTP shows Tandem's AMQP envelope header as a property")
	}
	if httpEvents[0].PartitionKey != "alphabet" || string(httpEvents[1].Body) != "e2" || httpEvents[0].Properties["color"] != "red" {
		t.Fatalf("HTTP events %+v", httpEvents)
	}

	out, ferr := c.AttachOutgoing(context.Background(), receiverAttach(
		"hub1/ConsumerGroups/$default/Partitions/"+itoa(part), "amqp.annotation.x-opt-offset > '-1'", nil, "r"))
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer out.Close()
	got := next(t, out, 10)
	if len(got) != 2 {
		t.Fatalf("AMQP receive: %d events", len(got))
	}
	for i, m := range got {
		he := httpEvents[i]
		if m.Annotations["x-opt-sequence-number"] != he.SequenceNumber || m.Annotations["x-opt-offset"] != itoa64(he.Offset) ||
			!m.Annotations["x-opt-enqueued-time"].(time.Time).Equal(he.EnqueuedTime) || m.Annotations["x-opt-partition-key"] != he.PartitionKey {
			t.Errorf("event %d: AMQP annotations %v, HTTP %+v", i, m.Annotations, he)
		}
		if string(m.GetData()) != string(he.Body) || m.ApplicationProperties["color"] != he.Properties["color"] ||
			m.Properties == nil || m.Properties.MessageID != "mid-"+string(he.Body) {
			t.Errorf("event %d: AMQP %q %v %+v, HTTP %+v", i, m.GetData(), m.ApplicationProperties, m.Properties, he)
		}
	}
	if got[1].ApplicationProperties["n"] != int64(2) {
		t.Errorf("a long application property came back as %#v", got[1].ApplicationProperties["n"])
	}
}

// An event produced the Kafka way (a record batch appended as is) reads over AMQP with its
// headers as application properties, and the same numbers HTTP shows.
func TestKafkaProduceAMQPReceive(t *testing.T) {
	f := newFixture(t, false)
	raw := batch.Build([]batch.Record{{Key: []byte("k1"), Value: []byte("from kafka"),
		Headers: []batch.RecordHeader{{Key: "h", Value: []byte("v")}}}}, batch.BuildOptions{ProducerID: -1, Timestamp: 1})
	res, p, err := f.b.Append("amqpns1", "hub1", 1, raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	c := f.authed()
	out, ferr := c.AttachOutgoing(context.Background(), receiverAttach("hub1/ConsumerGroups/$Default/Partitions/1", "amqp.annotation.x-opt-sequence-number >= '0'", nil, "r"))
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer out.Close()
	got := next(t, out, 5)
	if len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
	m := got[0]
	if string(m.GetData()) != "from kafka" || m.Annotations["x-opt-partition-key"] != "k1" || m.Annotations["x-opt-sequence-number"] != res.BaseOffset ||
		m.Annotations["x-opt-enqueued-time"].(time.Time).UnixMilli() != res.AppendTime || !reflect.DeepEqual(m.ApplicationProperties, map[string]any{"h": "v"}) {
		t.Fatalf("event %q %v %v", m.GetData(), m.Annotations, m.ApplicationProperties)
	}
}

func itoa(p int32) string   { return strconv.Itoa(int(p)) }
func itoa64(p int64) string { return strconv.FormatInt(p, 10) }

// Routing: a partition link goes to its partition; keyless sends to the hub spread out.
func TestRouting(t *testing.T) {
	f := newFixture(t, false)
	c := f.authed()
	s3 := incoming(t, c, "hub1/Partitions/3")
	send(t, s3, 0, marshal(t, &goamqp.Message{Data: [][]byte{[]byte("p3")}}))
	hub := incoming(t, c, "hub1")
	for i := 0; i < 8; i++ {
		send(t, hub, 0, marshal(t, &goamqp.Message{Data: [][]byte{[]byte("rr")}}))
	}
	total := 0
	for p := int32(0); p < 4; p++ {
		part, _ := f.b.Partition("amqpns1", "hub1", p)
		n := part.EndOffset()
		if n == 0 {
			t.Errorf("partition %d got none of 8 keyless sends", p)
		}
		total += int(n)
	}
	if total != 9 {
		t.Fatalf("%d events stored, want 9", total)
	}
	for _, bad := range []string{"hub1/Partitions/4", "hub1/Partitions/x", "hub1/Nothing/1", "nohub"} {
		_, ferr := c.AttachIncoming(context.Background(), &frames.Attach{Target: &frames.Target{Address: bad}})
		if ferr == nil {
			t.Errorf("sender to %q attached", bad)
		}
	}
	_, ferr := c.AttachIncoming(context.Background(), &frames.Attach{Target: &frames.Target{Address: "hub1/Partitions/9"}})
	if ferr == nil || ferr.Condition != condArgumentOutRange {
		t.Errorf("sender to partition 9: %v", ferr)
	}
	_, ferr = c.AttachIncoming(context.Background(), &frames.Attach{Target: &frames.Target{Address: "nohub"}})
	if ferr == nil || ferr.Condition != condNotFound {
		t.Errorf("sender to a missing hub: %v", ferr)
	}
}

func TestReceiverAttachErrors(t *testing.T) {
	f := newFixture(t, false)
	c := f.authed()
	for _, tc := range []struct {
		addr, filter string
		cond         string
		text         string
	}{
		{"hub1/ConsumerGroups/nogroup/Partitions/0", "", string(condNotFound), `consumer group "nogroup" does not exist on event hub amqpns1/hub1`},
		{"hub1/ConsumerGroups/$default/Partitions/7", "", string(condArgumentOutRange), "between 0 and 3"},
		{"nohub/ConsumerGroups/$default/Partitions/0", "", string(condNotFound), "nohub"},
		{"hub1/ConsumerGroups/$default/Partitions/0", "amqp.annotation.x-opt-sequence-number > '5'", string(condArgumentOutRange), "The supplied sequence number '5' is invalid"},
		{"hub1/ConsumerGroups/$default/Partitions/0", "amqp.annotation.x-opt-offset < '5'", string(condArgument), "> or >="},
	} {
		_, ferr := c.AttachOutgoing(context.Background(), receiverAttach(tc.addr, tc.filter, nil, "r"))
		if ferr == nil || string(ferr.Condition) != tc.cond || !strings.Contains(ferr.Description, tc.text) {
			t.Errorf("receiver on %s (%s): %v; want %s with %q", tc.addr, tc.filter, ferr, tc.cond, tc.text)
		}
	}
}

// Next blocks on an empty partition until an event is appended; @latest skips what was there.
func TestReceiverWaitsAndLatest(t *testing.T) {
	f := newFixture(t, false)
	c := f.authed()
	s := incoming(t, c, "hub1/Partitions/0")
	send(t, s, 0, marshal(t, &goamqp.Message{Data: [][]byte{[]byte("old")}}))
	out, ferr := c.AttachOutgoing(context.Background(), receiverAttach("hub1/ConsumerGroups/$default/Partitions/0", "amqp.annotation.x-opt-offset > '@latest'", nil, "r"))
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer out.Close()
	done := make(chan []*goamqp.Message, 1)
	go func() { done <- next(t, out, 10) }()
	select {
	case got := <-done:
		t.Fatalf("Next returned %d events before anything new was sent", len(got))
	case <-time.After(50 * time.Millisecond):
	}
	send(t, s, 0, marshal(t, &goamqp.Message{Data: [][]byte{[]byte("new")}}))
	got := <-done
	if len(got) != 1 || string(got[0].GetData()) != "new" || got[0].Annotations["x-opt-sequence-number"] != int64(1) {
		t.Fatalf("after @latest: %d events", len(got))
	}
	// Next ends with its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := out.Next(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled context: %v", err)
	}
}

// Epoch receivers steal the partition; the old link's Next ends with amqp:link:stolen naming
// both receivers; a 6th non-epoch receiver is refused.
func TestEpochOverLinks(t *testing.T) {
	f := newFixture(t, false)
	c := f.authed()
	addr := "hub1/ConsumerGroups/$Default/Partitions/2"
	a, ferr := c.AttachOutgoing(context.Background(), receiverAttach(addr, "", ptr(int64(0)), "reader-A"))
	if ferr != nil {
		t.Fatal(ferr)
	}
	errc := make(chan error, 1)
	go func() { _, err := a.Next(context.Background(), 10); errc <- err }()
	b, ferr := f.authed().AttachOutgoing(context.Background(), receiverAttach(strings.ToLower(addr), "", ptr(int64(1)), "reader-B"))
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer b.Close()
	err := waitErr(t, errc)
	var fe *frames.Error
	if !errors.As(err, &fe) || fe.Condition != condStolen || !strings.Contains(fe.Description, "'reader-B'") || !strings.Contains(fe.Description, "'reader-A'") {
		t.Fatalf("the old receiver's Next: %v", err)
	}
	a.Close()
	// A lower epoch attaches and is detached with amqp:link:stolen at its first receive.
	low, ferr := c.AttachOutgoing(context.Background(), receiverAttach(addr, "", ptr(int64(0)), "reader-C"))
	if ferr != nil {
		t.Fatalf("a lower epoch's attach: %v", ferr)
	}
	if _, err := low.Next(context.Background(), 1); !errors.As(err, &fe) || fe.Condition != condStolen || !strings.Contains(fe.Description, "'reader-B'") {
		t.Fatalf("a lower epoch's receive: %v", err)
	}
	low.Close()
	b.Close()
	var open []amqp.Outgoing
	for i := 0; i < 5; i++ {
		o, ferr := c.AttachOutgoing(context.Background(), receiverAttach(addr, "", nil, "plain-"+itoa(int32(i))))
		if ferr != nil {
			t.Fatalf("non-epoch receiver %d: %v", i, ferr)
		}
		open = append(open, o)
	}
	if _, ferr := c.AttachOutgoing(context.Background(), receiverAttach(addr, "", nil, "plain-6")); ferr == nil || ferr.Condition != condResourceLimit {
		t.Fatalf("6th non-epoch receiver: %v", ferr)
	}
	for _, o := range open {
		o.Close()
	}
}

// Runtime metric: receivers that ask for it get the partition's last enqueued event.
func TestReceiverRuntimeMetric(t *testing.T) {
	f := newFixture(t, false)
	c := f.authed()
	s := incoming(t, c, "hub1/Partitions/1")
	for _, b := range []string{"a", "b", "c"} {
		send(t, s, 0, marshal(t, &goamqp.Message{Data: [][]byte{[]byte(b)}}))
	}
	a := receiverAttach("hub1/ConsumerGroups/$default/Partitions/1", "amqp.annotation.x-opt-offset >= '1'", nil, "r")
	a.DesiredCapabilities = append(a.DesiredCapabilities, capRuntimeMetric)
	out, ferr := c.AttachOutgoing(context.Background(), a)
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer out.Close()
	got := next(t, out, 1) // credit 1: one event
	if len(got) != 1 || string(got[0].GetData()) != "b" {
		t.Fatalf("got %d events", len(got))
	}
	if da := got[0].DeliveryAnnotations; da["last_enqueued_sequence_number"] != int64(2) || da["last_enqueued_offset"] != "2" {
		t.Fatalf("delivery annotations %v", da)
	}
}
