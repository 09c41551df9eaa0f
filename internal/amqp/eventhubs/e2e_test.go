package eventhubs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/message"
	"github.com/tandem-streaming/tandem/internal/broker"
)

// End to end: the engine on 127.0.0.1 with this handler, and go-amqp v1.7.0 doing what
// azeventhubs v2 does on the wire (internal/cbs.go, internal/rpc.go, mgmt.go,
// producer_client.go, partition_client.go).

// serve starts the engine with f's handler and returns its address.
func (f *fixture) serve() string {
	f.t.Helper()
	srv := amqp.NewServer(amqp.Options{Handler: f.h, Logger: quiet()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	f.t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects as azeventhubs does: SASL ANONYMOUS, open.hostname = host:port.
func dial(t *testing.T, addr string) *goamqp.Conn { return dialHost(t, addr, addr) }

func dialHost(t *testing.T, addr, host string) *goamqp.Conn {
	t.Helper()
	c, err := goamqp.Dial(ctxT(t), "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous(), HostName: host})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var rpcCounter int

// rpc is azeventhubs' internal/rpc.go: a session with a sender to node and a receiver whose
// target is the odd reply-to address, one request, one reply, session closed.
func rpc(t *testing.T, c *goamqp.Conn, node string, props map[string]any, value any, caps []string) *goamqp.Message {
	t.Helper()
	ctx := ctxT(t)
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	rpcCounter++
	replyTo := fmt.Sprintf("%s%s-reply-to-%d", strings.ReplaceAll(node, "$", ""), node, rpcCounter)
	snd, err := s.NewSender(ctx, node, &goamqp.SenderOptions{DesiredCapabilities: caps})
	if err != nil {
		t.Fatalf("sender to %s: %v", node, err)
	}
	rcv, err := s.NewReceiver(ctx, node, &goamqp.ReceiverOptions{TargetAddress: replyTo, Credit: 1000,
		SettlementMode: goamqp.ReceiverSettleModeFirst.Ptr(), RequestedSenderSettleMode: goamqp.SenderSettleModeSettled.Ptr(), DesiredCapabilities: caps})
	if err != nil {
		t.Fatalf("receiver from %s: %v", node, err)
	}
	id := fmt.Sprintf("msg-%d", rpcCounter)
	if err := snd.Send(ctx, &goamqp.Message{Properties: &goamqp.MessageProperties{MessageID: id, ReplyTo: &replyTo},
		ApplicationProperties: props, Value: value}, nil); err != nil {
		t.Fatalf("request to %s: %v", node, err)
	}
	reply, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("reply from %s: %v", node, err)
	}
	if reply.Properties == nil || reply.Properties.CorrelationID != id {
		t.Fatalf("reply correlation %+v, want %q", reply.Properties, id)
	}
	return reply
}

func cbsPut(t *testing.T, c *goamqp.Conn, aud, token string) {
	t.Helper()
	reply := rpc(t, c, "$cbs", map[string]any{"operation": "put-token", "type": tokenTypeSAS, "name": aud,
		"expiration": fmt.Sprint(time.Now().Add(time.Hour).Unix())}, token, nil)
	if reply.ApplicationProperties["status-code"] != int32(202) {
		t.Fatalf("put-token for %s: %v", aud, reply.ApplicationProperties)
	}
}

func TestE2EGoAMQP(t *testing.T) {
	f := newFixture(t, false)
	addr := f.serve()
	aud := "amqp://" + addr + "/hub1"
	c := dial(t, addr)
	e2eManagement(t, f, c, aud)
	e2eSendBatch(t, f, c, aud)
	rcv := e2eReceive(t, f, addr, aud)
	sess := e2eSteal(t, f, addr, aud, rcv)
	e2eReaderQuota(t, sess)
	ctx := ctxT(t)
	// The sent events read over HTTP with the same numbers.
	evs, _, err := f.b.Receive(ctx, "amqpns1", "hub1", 2, broker.Position{Kind: broker.FromStart}, 10, 0)
	if err != nil || len(evs) != 4 || evs[1].SequenceNumber != 1 || evs[1].PartitionKey != "TheBestParitionEver" || evs[1].Properties["i"] == "" {
		t.Fatalf("HTTP receive: %+v, %v", evs, err)
	}
}

// e2eManagement is GetEventHubProperties: a claim for <hub>/$management, then READ.
func e2eManagement(t *testing.T, f *fixture, c *goamqp.Conn, aud string) {
	// Management, as GetEventHubProperties does it.
	tok := f.token(aud+"/$management", "RootManageSharedAccessKey", f.key)
	cbsPut(t, c, aud+"/$management", tok)
	reply := rpc(t, c, "$management", map[string]any{"operation": "READ", "name": "hub1", "type": typeEventHub, "security_token": tok}, nil, geo)
	props, ok := reply.Value.(map[string]any)
	if reply.ApplicationProperties["status-code"] != int32(200) || !ok {
		t.Fatalf("READ: %v %#v", reply.ApplicationProperties, reply.Value)
	}
	if _, ok := props["partition_ids"].([]string); !ok || props["partition_count"] != int32(4) || props["georeplication_factor"] != int32(1) {
		t.Fatalf("hub properties %#v", props)
	}
	if _, ok := props["created_at"].(time.Time); !ok {
		t.Fatalf("created_at %#v", props["created_at"])
	}

}

var geo = []string{"com.microsoft:georeplication"}

// e2eSendBatch is SendEventDataBatch with a partition key, past one frame.
func e2eSendBatch(t *testing.T, f *fixture, c *goamqp.Conn, aud string) {
	ctx := ctxT(t)
	// Send a batch with a partition key, as a ProducerClient does.
	cbsPut(t, c, aud, f.token(aud, "RootManageSharedAccessKey", f.key))
	ss, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := ss.NewSender(ctx, "hub1", &goamqp.SenderOptions{SettlementMode: goamqp.SenderSettleModeMixed.Ptr(),
		RequestedReceiverSettleMode: goamqp.ReceiverSettleModeFirst.Ptr(), DesiredCapabilities: geo})
	if err != nil {
		t.Fatal(err)
	}
	if snd.MaxMessageSize() != uint64(broker.DefaultMaxEventBytes) {
		t.Fatalf("sender max message size %d", snd.MaxMessageSize())
	}
	var inner [][]byte
	for i := 0; i < 3; i++ {
		inner = append(inner, marshal(t, &goamqp.Message{Data: [][]byte{[]byte(fmt.Sprintf("event-%d", i))},
			ApplicationProperties: map[string]any{"i": int64(i)}}))
	}
	// Pad the batch past one 64 KiB frame so it arrives in several transfers.
	inner = append(inner, marshal(t, &goamqp.Message{Data: [][]byte{make([]byte, 200<<10)}}))
	env := &goamqp.Message{Format: message.BatchFormat, Data: inner, Annotations: goamqp.Annotations{"x-opt-partition-key": "TheBestParitionEver"}}
	if err := snd.Send(ctx, env, nil); err != nil {
		t.Fatalf("send batch: %v", err)
	}
	part := KeyPartition("TheBestParitionEver", 4)
	if part != 2 {
		t.Fatalf("lookup3 put the key on partition %d; the SDK's test vector says 2", part)
	}
	p, _ := f.b.Partition("amqpns1", "hub1", part)
	if p.EndOffset() != 4 {
		t.Fatalf("partition %d holds %d events after the accepted batch, want 4", part, p.EndOffset())
	}

	// An oversize message is refused by the link.
	if err := snd.Send(ctx, &goamqp.Message{Data: [][]byte{make([]byte, broker.DefaultMaxEventBytes+1)}}, nil); err == nil {
		t.Fatal("a message over max-message-size was sent")
	}

}

// e2eReceive is a PartitionClient from the earliest event (epoch 0, credit 300); the receiver
// is left waiting for more.
func e2eReceive(t *testing.T, f *fixture, addr, aud string) *goamqp.Receiver {
	ctx := ctxT(t)
	// Receive from the start, as a PartitionClient does; pre-settled deliveries, credit 300.
	rc := dial(t, addr)
	cbsPut(t, rc, aud+"/ConsumerGroups/$Default/Partitions/2", f.token(aud+"/ConsumerGroups/$Default/Partitions/2", "RootManageSharedAccessKey", f.key))
	rs, err := rc.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := rs.NewReceiver(ctx, "hub1/ConsumerGroups/$Default/Partitions/2", &goamqp.ReceiverOptions{
		SettlementMode: goamqp.ReceiverSettleModeFirst.Ptr(), Credit: 300, TargetAddress: "instance-1",
		Filters:    []goamqp.LinkFilter{goamqp.NewSelectorFilter("amqp.annotation.x-opt-offset > '-1'")},
		Properties: map[string]any{"com.microsoft:receiver-name": "instance-1", "com.microsoft:epoch": int64(0)}})
	if err != nil {
		t.Fatalf("receiver: %v", err)
	}
	for i := 0; i < 4; i++ {
		m, err := rcv.Receive(ctx, nil)
		if err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if m.Annotations["x-opt-sequence-number"] != int64(i) || m.Annotations["x-opt-offset"] != fmt.Sprint(i) || m.Annotations["x-opt-partition-key"] != "TheBestParitionEver" {
			t.Fatalf("event %d annotations %v", i, m.Annotations)
		}
		if _, ok := m.Annotations["x-opt-enqueued-time"].(time.Time); !ok {
			t.Fatalf("x-opt-enqueued-time %#v", m.Annotations["x-opt-enqueued-time"])
		}
		if i < 3 && (string(m.GetData()) != fmt.Sprintf("event-%d", i) || m.ApplicationProperties["i"] != int64(i)) {
			t.Fatalf("event %d: %q %v", i, m.GetData(), m.ApplicationProperties)
		}
		if i == 3 && len(m.GetData()) != 200<<10 {
			t.Fatalf("the large event came back with %d bytes", len(m.GetData()))
		}
	}

	return rcv
}

// e2eSteal: a processor with epoch 1 on another connection takes the partition from rcv.
func e2eSteal(t *testing.T, f *fixture, addr, aud string, rcv *goamqp.Receiver) *goamqp.Session {
	ctx := ctxT(t)
	// A processor with epoch 1 on another connection steals the partition.
	errc := make(chan error, 1)
	go func() { _, err := rcv.Receive(ctx, nil); errc <- err }()
	oc := dial(t, addr)
	cbsPut(t, oc, aud, f.token(aud, "RootManageSharedAccessKey", f.key))
	sess, _ := oc.NewSession(ctx, nil)
	thief, err := sess.NewReceiver(ctx, "hub1/ConsumerGroups/$default/Partitions/2", &goamqp.ReceiverOptions{
		Credit: 10, TargetAddress: "instance-2", // .NET's form: unquoted, descriptor 0x00000137000000A.
		Filters:    []goamqp.LinkFilter{goamqp.NewLinkFilter(selectorFilterName, selectorCodeDotNet, "amqp.annotation.x-opt-sequence-number > 1")},
		Properties: map[string]any{"com.microsoft:receiver-name": "instance-2", "com.microsoft:epoch": int64(1)}})
	if err != nil {
		t.Fatalf("epoch 1 receiver: %v", err)
	}
	err = waitErr(t, errc)
	var le *goamqp.LinkError
	if !errors.As(err, &le) || le.RemoteErr == nil || le.RemoteErr.Condition != goamqp.ErrCond("amqp:link:stolen") ||
		!strings.Contains(le.RemoteErr.Description, "instance-2") || !strings.Contains(le.RemoteErr.Description, "instance-1") {
		t.Fatalf("the stolen receiver ended with %v", err)
	}
	m, err := thief.Receive(ctx, nil)
	if err != nil || m.Annotations["x-opt-sequence-number"] != int64(2) {
		t.Fatalf("the new owner's first event: %v %v", m, err)
	}
	// A lower owner level attaches and loses ownership at its first receive, which is how
	// azeventhubs recognises it (IsOwnershipLostError wants a *LinkError).
	low, err := sess.NewReceiver(ctx, "hub1/ConsumerGroups/$default/Partitions/2", &goamqp.ReceiverOptions{
		Credit: 10, TargetAddress: "instance-3", Properties: map[string]any{"com.microsoft:receiver-name": "instance-3", "com.microsoft:epoch": int64(0)}})
	if err != nil {
		t.Fatalf("lower owner level attach: %v", err)
	}
	_, err = low.Receive(ctx, nil)
	if !errors.As(err, &le) || le.RemoteErr == nil || le.RemoteErr.Condition != goamqp.ErrCond("amqp:link:stolen") {
		t.Fatalf("lower owner level receive: %v", err)
	}
	thief.Close(ctx)

	return sess
}

// e2eReaderQuota: five non-epoch readers share a partition; the sixth is refused.
func e2eReaderQuota(t *testing.T, sess *goamqp.Session) {
	ctx := ctxT(t)
	// Five non-epoch readers share a partition; the sixth is refused.
	var readers []*goamqp.Receiver
	for i := 0; i < 6; i++ {
		r, err := sess.NewReceiver(ctx, "hub1/ConsumerGroups/$Default/Partitions/0", &goamqp.ReceiverOptions{
			Credit: 1, TargetAddress: fmt.Sprint("reader-", i), Properties: map[string]any{"com.microsoft:receiver-name": fmt.Sprint("reader-", i)}})
		if i < 5 {
			if err != nil {
				t.Fatalf("reader %d: %v", i, err)
			}
			readers = append(readers, r)
			continue
		}
		var ae *goamqp.Error
		if !errors.As(err, &ae) || ae.Condition != goamqp.ErrCond("amqp:resource-limit-exceeded") {
			t.Fatalf("6th reader: %v", err)
		}
	}
	for _, r := range readers {
		r.Close(ctx)
	}

}

// Unauthorized attaches are refused with amqp:unauthorized-access naming the hub and the right.
func TestE2EUnauthorized(t *testing.T) {
	f := newFixture(t, false)
	addr := f.serve()
	c := dialHost(t, addr, "amqpns1:5672") // the host names the namespace
	ctx := ctxT(t)
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.NewSender(ctx, "hub1", nil)
	var ae *goamqp.Error
	if !errors.As(err, &ae) || ae.Condition != goamqp.ErrCondUnauthorizedAccess ||
		!strings.Contains(ae.Description, "amqpns1/hub1") || !strings.Contains(ae.Description, "Send") {
		t.Fatalf("sender without a claim: %v", err)
	}
}
