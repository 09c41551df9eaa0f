package eventhubs

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// fixture is a real broker with namespace ns1 (hub hub1, 4 partitions) and the handler on it.
type fixture struct {
	t   *testing.T
	b   *broker.Broker
	h   *Handler
	key string // ns1's RootManageSharedAccessKey
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newFixture(t *testing.T, dev bool) *fixture {
	t.Helper()
	b, err := broker.Open(context.Background(), broker.Options{
		DataDir: t.TempDir(), Dev: dev, Logger: quiet(),
		Fsync: seglog.FsyncPolicy{Mode: seglog.FsyncInterval, Interval: 2e6},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	if _, err := b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "amqpns1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "amqpns1", broker.HubSpec{Name: "hub1", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	pol, err := b.Policy("amqpns1", "", "RootManageSharedAccessKey")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, b: b, h: New(Options{Broker: b, Dev: dev, Logger: quiet()}), key: pol.PrimaryKey}
}

// connect opens a connection as the Go SDK does: anonymous SASL, open.hostname with the port.
func (f *fixture) connect(hostname string) *conn {
	f.t.Helper()
	c, ferr := f.h.Connect(context.Background(), amqp.ConnInfo{Hostname: hostname, SASLMechanism: "ANONYMOUS",
		RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	if ferr != nil {
		f.t.Fatalf("connect: %v", ferr)
	}
	f.t.Cleanup(c.Close)
	return c.(*conn)
}

func (f *fixture) token(aud, keyName, key string) string {
	return auth.NewSASToken(aud, keyName, key, time.Now().Add(time.Hour))
}

// request sends a request message on l and decodes the one reply with go-amqp.
func request(t *testing.T, l amqp.Incoming, id any, props map[string]any, value any) *goamqp.Message {
	t.Helper()
	m := &goamqp.Message{Properties: &goamqp.MessageProperties{MessageID: id, ReplyTo: ptr("$cbs$$cbs-reply-to-1")},
		ApplicationProperties: props, Value: value}
	raw, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st, replies := l.Message(context.Background(), 0, raw)
	if _, ok := st.(*frames.Accepted); !ok {
		t.Fatalf("request state %#v", st)
	}
	if len(replies) != 1 || replies[0].To != "$cbs$$cbs-reply-to-1" {
		t.Fatalf("replies %+v", replies)
	}
	var reply goamqp.Message
	if err := reply.UnmarshalBinary(replies[0].Message); err != nil {
		t.Fatalf("go-amqp cannot decode the reply: %v", err)
	}
	return &reply
}

func ptr[T any](v T) *T { return &v }

func incoming(t *testing.T, c *conn, addr string) amqp.Incoming {
	t.Helper()
	l, ferr := c.AttachIncoming(context.Background(), &frames.Attach{Name: "l-" + addr, Target: &frames.Target{Address: addr}})
	if ferr != nil {
		t.Fatalf("attach to %s: %v", addr, ferr)
	}
	return l
}

func putToken(t *testing.T, c *conn, aud, token string) *goamqp.Message {
	t.Helper()
	return request(t, incoming(t, c, "$cbs"), "put-1", map[string]any{
		"operation": "put-token", "type": tokenTypeSAS, "name": aud, "expiration": "123",
	}, token)
}

func status(m *goamqp.Message) any { return m.ApplicationProperties["status-code"] }

// receiverAttach is the attach the Go SDK sends for a partition client.
func receiverAttach(addr, filter string, epoch *int64, name string) *frames.Attach {
	a := &frames.Attach{Name: "r-" + name, Role: frames.RoleReceiver, Source: &frames.Source{Address: addr}, Target: &frames.Target{Address: name}}
	if filter != "" {
		a.Source.Filter = &codec.Map{Pairs: []codec.Pair{{Key: codec.Symbol(selectorFilterName),
			Value: codec.Described{Descriptor: uint64(selectorCode), Value: filter}}}}
	}
	a.Properties = &codec.Map{}
	a.Properties.Set(codec.Symbol(propReceiverName), name)
	if epoch != nil {
		a.Properties.Set(codec.Symbol(propEpoch), *epoch)
	}
	return a
}

// waitErr waits for a goroutine's error, failing the test after a generous minute.
func waitErr(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(time.Minute):
		t.Fatal("no result after a minute")
		return nil
	}
}
