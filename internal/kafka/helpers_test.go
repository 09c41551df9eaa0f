package kafka_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/kafka"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// node is a broker with a Kafka listener on 127.0.0.1, torn down by the test.
type node struct {
	t    *testing.T
	dir  string
	dev  bool
	b    *broker.Broker
	srv  *kafka.Server
	addr string
	done chan error
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startNode(t *testing.T, dir string, dev bool) *node {
	t.Helper()
	n := &node{t: t, dir: dir, dev: dev}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *node) start() {
	n.t.Helper()
	b, err := broker.Open(context.Background(), broker.Options{
		DataDir: n.dir, Dev: n.dev, Logger: quietLogger(),
		Fsync: seglog.FsyncPolicy{Mode: seglog.FsyncInterval, Interval: 2e6},
	})
	if err != nil {
		n.t.Fatalf("opening broker: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.t.Fatal(err)
	}
	n.b = b
	n.srv = kafka.New(ln, kafka.Options{Broker: b, Dev: n.dev, Logger: quietLogger()})
	n.addr = ln.Addr().String()
	n.done = make(chan error, 1)
	go func() { n.done <- n.srv.Serve() }()
}

func (n *node) stop() {
	if n.srv == nil {
		return
	}
	n.srv.Close()
	<-n.done
	n.b.Close()
	n.srv, n.b = nil, nil
}

func (n *node) restart() {
	n.stop()
	n.start()
}

func (n *node) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(n.addr)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (n *node) createHub(t *testing.T, ns, hub string, partitions int32) {
	t.Helper()
	if err := n.b.CreateHub(context.Background(), ns, broker.HubSpec{Name: hub, Partitions: partitions}); err != nil {
		t.Fatalf("creating hub %s/%s: %v", ns, hub, err)
	}
}
