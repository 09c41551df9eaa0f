package eventhubs

import (
	"context"
	"errors"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// setAlias records ns amqpns1's side of alias geoalias on f.
func (f *fixture) setAlias(cfg meta.AliasConfig) {
	f.t.Helper()
	cfg.Name, cfg.ProvisioningState = "geoalias", meta.ProvisioningSucceeded
	if err := f.b.SetAlias(context.Background(), "amqpns1", cfg); err != nil {
		f.t.Fatalf("set alias: %v", err)
	}
}

// sender puts a claim for aud signed with f's key on c and attaches a sender to partition 0
// of hub1.
func sender(t *testing.T, c *goamqp.Conn, f *fixture, aud string) *goamqp.Sender {
	t.Helper()
	cbsPut(t, c, aud, f.token(aud, "RootManageSharedAccessKey", f.key))
	ctx := ctxT(t)
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctx, "hub1/Partitions/0", nil)
	if err != nil {
		t.Fatal(err)
	}
	return snd
}

func sendEvent(t *testing.T, snd *goamqp.Sender) error {
	return snd.Send(ctxT(t), goamqp.NewMessage([]byte("event")), nil)
}

func (f *fixture) events() int64 {
	p, err := f.b.Partition("amqpns1", "hub1", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return p.EndOffset()
}

// TestAliasRedirectAndFailover: two regions in process, each a broker with namespace amqpns1
// (different keys) and an AMQP listener; alias geoalias is active in east. A client naming
// the alias (open.hostname geoalias:5672, as the Go SDK with CustomEndpoint sends it) that
// reaches west is forwarded to east: east's key works, the event lands in east. After a
// failover to west, the connection served by east ends with amqp:connection:forced at its
// next send (and a receiver parked on an empty partition at its next check); new alias
// connections to either region land in west.
func TestAliasRedirectAndFailover(t *testing.T) {
	east, west := newFixture(t, false), newFixture(t, false)
	eastAddr, westAddr := east.serve(), west.serve()
	eastPeer := meta.Peer{Region: "east", Namespace: "amqpns1", Endpoint: "http://127.0.0.1:1", AMQP: []string{eastAddr}}
	westPeer := meta.Peer{Region: "west", Namespace: "amqpns1", Endpoint: "http://127.0.0.1:2", AMQP: []string{westAddr}}
	east.setAlias(meta.AliasConfig{Role: meta.RolePrimary, Epoch: 1, Partner: &westPeer})
	west.setAlias(meta.AliasConfig{Role: meta.RoleSecondary, Epoch: 1, Partner: &eastPeer})
	aud := "amqp://geoalias:5672/hub1"

	viaWest := sender(t, dialHost(t, westAddr, "geoalias:5672"), east, aud)
	if err := sendEvent(t, viaWest); err != nil {
		t.Fatalf("send through west to the active region east: %v", err)
	}
	direct := dialHost(t, eastAddr, "geoalias:5672")
	if err := sendEvent(t, sender(t, direct, east, aud)); err != nil {
		t.Fatalf("send to east: %v", err)
	}
	if east.events() != 2 || west.events() != 0 {
		t.Fatalf("events east %d, west %d; want 2 and 0", east.events(), west.events())
	}
	// A receiver on east's alias connection, parked on the end of the partition.
	ctx := ctxT(t)
	rs, err := direct.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := rs.NewReceiver(ctx, "hub1/ConsumerGroups/$default/Partitions/0",
		&goamqp.ReceiverOptions{Credit: 10, Filters: []goamqp.LinkFilter{goamqp.NewSelectorFilter("amqp.annotation.x-opt-offset > '@latest'")}})
	if err != nil {
		t.Fatalf("receiver attach: %v", err)
	}
	recvErr := make(chan error, 1)
	go func() { _, err := rcv.Receive(ctx, nil); recvErr <- err }()

	// A $management request on an alias connection to east (handler level).
	mc := east.connect("geoalias:5672")
	if st := status(putToken(t, mc, aud, east.token(aud, "RootManageSharedAccessKey", east.key))); st != int32(202) {
		t.Fatalf("put-token on east: %v", st)
	}
	mgmt := incoming(t, mc, "$management")
	read := marshalMsg(t, &goamqp.Message{Properties: &goamqp.MessageProperties{MessageID: "m1", ReplyTo: ptr("r")},
		ApplicationProperties: map[string]any{"operation": "READ", "type": typeEventHub, "name": "hub1"}})
	if st, replies := mgmt.Message(ctx, 0, read); len(replies) != 1 {
		t.Fatalf("READ on east before the failover: %#v, %d replies", st, len(replies))
	}

	// Failover: west holds the alias, east lost it.
	west.setAlias(meta.AliasConfig{Role: meta.RolePrimaryNotReplicating, Epoch: 2, Former: &eastPeer})
	east.setAlias(meta.AliasConfig{Role: meta.RolePrimary, Epoch: 1, Lost: true, Former: &westPeer})

	var ce *goamqp.ConnError
	if err := waitErr(t, recvErr); !errors.As(err, &ce) || condition(ce) != "amqp:connection:forced" {
		t.Fatalf("parked receiver after failover: %v, want the connection closed with amqp:connection:forced", err)
	}
	if err := sendEvent(t, viaWest); !errors.As(err, &ce) {
		t.Fatalf("send on a connection proxied to the old primary after failover: %v, want a closed connection", err)
	}
	if st, _ := mgmt.Message(ctx, 0, read); condition(rejected(st)) != "amqp:connection:forced" {
		t.Fatalf("READ on east after the failover: %#v, want rejected with amqp:connection:forced", st)
	}
	for name, addr := range map[string]string{"west": westAddr, "east": eastAddr} {
		if err := sendEvent(t, sender(t, dialHost(t, addr, "geoalias:5672"), west, aud)); err != nil {
			t.Fatalf("send after failover through %s: %v", name, err)
		}
	}
	if east.events() != 2 || west.events() != 2 {
		t.Fatalf("events east %d, west %d; want 2 and 2", east.events(), west.events())
	}
}

// condition is the AMQP error condition inside err, or "".
func condition(err error) string {
	var e *goamqp.Error
	if errors.As(err, &e) {
		return string(e.Condition)
	}
	return ""
}

func marshalMsg(t *testing.T, m *goamqp.Message) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rejected is the error of a Rejected state as a go-amqp error, for condition.
func rejected(st frames.DeliveryState) error {
	if r, ok := st.(*frames.Rejected); ok && r.Error != nil {
		return &goamqp.Error{Condition: goamqp.ErrCond(r.Error.Condition), Description: r.Error.Description}
	}
	return nil
}

// A partner region that is a cluster records every node's AMQP listener: alias connections
// are redirected to each in turn, so one node down does not shut alias clients out.
func TestAliasRedirectTurnsOverClusterNodes(t *testing.T) {
	f := newFixture(t, false)
	west := meta.Peer{Region: "west", Namespace: "amqpns1", Endpoint: "http://127.0.0.1:2",
		AMQP: []string{"127.0.0.2:5672"}, Nodes: []meta.PeerNode{
			{ID: 1, Kafka: "127.0.0.2:9092", AMQP: "127.0.0.2:5672"},
			{ID: 2, Kafka: "127.0.0.3:9092", AMQP: "127.0.0.3:5672"},
			{ID: 3, Kafka: "127.0.0.4:9092"}, // recorded no AMQP listener
		}}
	f.setAlias(meta.AliasConfig{Role: meta.RoleSecondary, Epoch: 1, Partner: &west})
	seen := map[string]int{}
	for range 4 {
		e := f.h.aliasRedirect("geoalias", "geoalias:5672")
		if e == nil || e.Condition != condRedirect {
			t.Fatalf("redirect = %v", e)
		}
		host, _ := e.Info.Get("network-host")
		seen[host.(string)]++
	}
	if len(seen) != 2 || seen["127.0.0.2"] != 2 || seen["127.0.0.3"] != 2 {
		t.Fatalf("redirects went to %v, want 127.0.0.2 and 127.0.0.3 in turn", seen)
	}
}
