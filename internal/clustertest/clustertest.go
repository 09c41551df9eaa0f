// Package clustertest runs a region cluster of brokers in one test process: every node has
// its raft node (cluster.Node), its broker in cluster mode, a Kafka listener and an HTTP API
// server on its own loopback address (127.0.0.1, .2, .3, …), with real TCP between them.
// Tests of the Kafka and HTTP layers use it to exercise leadership changes with real
// clients. Nothing here is a fake: it wires the product's own components as `tandem serve`
// does, minus the process.
package clustertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/eventhubs"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/httpapi"
	"github.com/tandem-streaming/tandem/internal/kafka"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Secret is the cluster secret of every test cluster.
const Secret = "0123456789abcdef-secret"

// Options configure a test cluster.
type Options struct {
	Nodes  int          // members; default 3
	Logger *slog.Logger // nil: discard
	// HTTP, when set, starts an HTTP API server per node (httpapi.New in dev mode, with the
	// node-to-node segment route mounted as `tandem serve` does) and records its URL with
	// broker.SetEndpoints.
	HTTP bool
	// AMQP, when set, starts an AMQP listener per node (the Event Hubs handler in dev mode on
	// the engine, as `tandem serve --amqp-addr` does).
	AMQP bool
	// Broker, when set, adjusts a node's broker options before the broker opens (a test clock
	// in Now, RetentionCheck, SegmentBytes, …); it is called again at every Restart.
	Broker func(id uint64, o *broker.Options)
	// Raft, when set, adjusts a node's raft node options (SnapshotEntries, …) likewise.
	Raft func(id uint64, o *cluster.Options)
}

// Node is one member of a test cluster.
type Node struct {
	ID        uint64
	Dir       string
	Raft      *cluster.Node
	Broker    *broker.Broker
	Kafka     *kafka.Server
	KafkaAddr string // host:port of the Kafka listener
	HTTPURL   string // http://host:port of the HTTP API ("" without Options.HTTP)
	HTTP      *httpapi.Server
	AMQP      *amqp.Server
	AMQPAddr  string // host:port of the AMQP listener ("" without Options.AMQP)

	kafkaDone chan error
	httpSrv   *http.Server
	httpDone  chan error
	httpAddr  string // host:port of the HTTP listener, kept for Restart
	amqpDone  chan error
	amqpLn    net.Listener // the listener of the next start (Start's; Restart listens again)
}

// Cluster is a running test cluster; Start registers its Close with t.Cleanup.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
	opts  Options
	spec  string   // the --cluster member list
	kafka []string // every member's Kafka address
}

// Start runs a cluster of opts.Nodes members with the placement zones a, b, c, ….
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	raftPort := freePort(t)
	spec := ""
	for i := range opts.Nodes {
		if i > 0 {
			spec += ","
		}
		spec += fmt.Sprintf("%d=%c@127.0.0.%d:%d", i+1, 'a'+i, i+1, raftPort)
	}
	kafkaLns := make([]net.Listener, opts.Nodes)
	httpLns := make([]net.Listener, opts.Nodes)
	amqpLns := make([]net.Listener, opts.Nodes)
	for i := range opts.Nodes {
		kafkaLns[i] = listen(t, i)
		if opts.HTTP {
			httpLns[i] = listen(t, i)
		}
		if opts.AMQP {
			amqpLns[i] = listen(t, i)
		}
	}
	c := &Cluster{t: t, opts: opts, spec: spec}
	for i := range opts.Nodes {
		c.kafka = append(c.kafka, kafkaLns[i].Addr().String())
		// The directories first: cleanups run last-registered first, so the nodes stop
		// before their directories are removed.
		c.Nodes = append(c.Nodes, &Node{ID: uint64(i + 1), Dir: t.TempDir()})
	}
	t.Cleanup(c.Close)
	for i, n := range c.Nodes {
		if amqpLns[i] != nil {
			n.AMQPAddr, n.amqpLn = amqpLns[i].Addr().String(), amqpLns[i]
		}
		if err := c.start(n, kafkaLns[i], httpLns[i]); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// start opens node n's raft node and broker on its directory and serves Kafka (and HTTP) on
// the listeners.
func (c *Cluster) start(n *Node, kafkaLn, httpLn net.Listener) error {
	cfg, _, err := cluster.ParseConfig(n.ID, "", c.spec, []byte(Secret))
	if err != nil {
		return err
	}
	for j := range cfg.Nodes {
		cfg.Nodes[j].KafkaAddr = c.kafka[j]
	}
	log := c.opts.Logger.With("node", n.ID)
	co := cluster.Options{Config: cfg, DataDir: n.Dir, Logger: log, TickInterval: 50 * time.Millisecond}
	if c.opts.Raft != nil {
		c.opts.Raft(n.ID, &co)
	}
	cn, err := cluster.Open(context.Background(), co)
	if err != nil {
		return err
	}
	bo := broker.Options{DataDir: n.Dir, Dev: true, Logger: log, Cluster: cn}
	if c.opts.Broker != nil {
		c.opts.Broker(n.ID, &bo)
	}
	b, err := broker.Open(context.Background(), bo)
	if err != nil {
		cn.Close()
		return err
	}
	n.Raft, n.Broker, n.KafkaAddr, n.kafkaDone = cn, b, kafkaLn.Addr().String(), make(chan error, 1)
	n.Kafka = kafka.New(kafkaLn, kafka.Options{Broker: b, Dev: true, Logger: log})
	go func() { n.kafkaDone <- n.Kafka.Serve() }()
	ep := meta.Endpoints{Kafka: n.KafkaAddr}
	if httpLn != nil {
		n.HTTP = httpapi.New(httpapi.Options{Broker: b, Dev: true, Logger: log,
			AllowedHosts: httpapi.HostCheck(httpLn.Addr(), true)})
		var h http.Handler = n.HTTP
		if seg := b.SegmentHandler(); seg != nil {
			mux := http.NewServeMux()
			mux.Handle(broker.SegmentsPath, seg)
			mux.Handle("/", n.HTTP)
			h = mux
		}
		n.httpSrv = httpapi.NewHTTPServer(h, httpapi.DefaultConnLimits, log)
		n.httpDone = make(chan error, 1)
		n.httpAddr = httpLn.Addr().String()
		n.HTTPURL = "http://" + n.httpAddr
		srv := n.httpSrv
		go func() { n.httpDone <- srv.Serve(httpLn) }()
		ep.HTTP = n.HTTPURL
	}
	b.SetEndpoints(ep)
	return c.startAMQP(n, b, log)
}

// startAMQP serves AMQP on n.AMQPAddr (when the cluster has AMQP listeners).
func (c *Cluster) startAMQP(n *Node, b *broker.Broker, log *slog.Logger) error {
	if !c.opts.AMQP {
		return nil
	}
	ln := n.amqpLn
	n.amqpLn = nil
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", n.AMQPAddr); err != nil {
			return err
		}
	}
	n.AMQP = amqp.NewServer(amqp.Options{Handler: eventhubs.New(eventhubs.Options{Broker: b, Dev: true, Logger: log}), Logger: log})
	n.amqpDone = make(chan error, 1)
	srv := n.AMQP
	go func() { n.amqpDone <- srv.Serve(ln) }()
	return nil
}

// Restart starts a stopped node again on its data directory and addresses.
func (c *Cluster) Restart(n *Node) {
	c.t.Helper()
	if n.Running() {
		c.t.Fatalf("node %d is running", n.ID)
	}
	kafkaLn, err := net.Listen("tcp", n.KafkaAddr)
	if err != nil {
		c.t.Fatal(err)
	}
	var httpLn net.Listener
	if c.opts.HTTP {
		if httpLn, err = net.Listen("tcp", n.httpAddr); err != nil {
			kafkaLn.Close()
			c.t.Fatal(err)
		}
	}
	if err := c.start(n, kafkaLn, httpLn); err != nil {
		kafkaLn.Close()
		if httpLn != nil {
			httpLn.Close()
		}
		c.t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func listen(t testing.TB, i int) net.Listener {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Running reports whether the node has not been stopped.
func (n *Node) Running() bool { return n.Broker != nil }

// Stop closes the node's listeners, then its broker (and with it its raft node). It is
// idempotent.
func (n *Node) Stop() {
	if n.Broker == nil {
		return
	}
	n.StopHTTP()
	if n.AMQP != nil {
		n.AMQP.Close()
		<-n.amqpDone
		n.AMQP = nil
	}
	n.Kafka.Close()
	<-n.kafkaDone
	n.Broker.Close()
	n.Broker = nil
}

// StopHTTP closes the node's HTTP API server only; the node keeps its partitions and
// metadata role. It is idempotent.
func (n *Node) StopHTTP() {
	if n.httpSrv == nil {
		return
	}
	n.httpSrv.Close()
	<-n.httpDone
	n.HTTP.Close()
	n.httpSrv = nil
}

// Close stops every node.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// Running lists the nodes not stopped.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// Eventually polls cond every 20ms until it holds, failing the test after a generous
// minute (the machine may be slow and shared).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MetaLeader returns the running node that is the confirmed metadata leader, or nil.
func (c *Cluster) MetaLeader() *Node {
	for _, n := range c.Running() {
		if n.Raft.Confirmed(cluster.MetaGroup) {
			return n
		}
	}
	return nil
}

// WaitMetaLeader waits for a confirmed metadata leader whose id is not in not.
func (c *Cluster) WaitMetaLeader(not ...uint64) *Node {
	c.t.Helper()
	var l *Node
	Eventually(c.t, "a confirmed metadata leader", func() bool {
		l = c.MetaLeader()
		if l == nil {
			return false
		}
		for _, id := range not {
			if l.ID == id {
				return false
			}
		}
		return true
	})
	return l
}

// TransferMetaLeader asks the metadata leader to hand leadership to node to and waits until
// to is the confirmed leader (asking again while it is not).
func (c *Cluster) TransferMetaLeader(to *Node) {
	c.t.Helper()
	Eventually(c.t, fmt.Sprintf("node %d to lead the metadata", to.ID), func() bool {
		if to.Raft.Confirmed(cluster.MetaGroup) {
			return true
		}
		if l := c.MetaLeader(); l != nil {
			_ = l.Raft.TransferLeader(cluster.MetaGroup, to.ID)
		}
		return false
	})
}

// CreateHub waits for the dev namespace on every running node, creates hub with parts
// partitions through the metadata leader and waits until every partition has a confirmed
// leader and every running node knows the hub.
func (c *Cluster) CreateHub(hub string, parts int32) {
	c.t.Helper()
	ctx := context.Background()
	Eventually(c.t, "the dev namespace on every node", func() bool {
		for _, n := range c.Running() {
			if _, err := n.Broker.Namespace(broker.DevNamespace); err != nil {
				return false
			}
		}
		return true
	})
	Eventually(c.t, "the hub to be created through the metadata leader", func() bool {
		for _, n := range c.Running() {
			err := n.Broker.CreateHub(ctx, broker.DevNamespace, broker.HubSpec{Name: hub, Partitions: parts})
			if err == nil || errcode.Is(err, errcode.AlreadyExists) {
				return true
			}
		}
		return false
	})
	Eventually(c.t, "a confirmed leader for every partition, known on every node", func() bool {
		for p := range parts {
			if c.PartitionLeader(hub, p) == nil {
				return false
			}
			for _, n := range c.Running() {
				if _, err := n.Broker.Hub(broker.DevNamespace, hub); err != nil {
					return false
				}
			}
		}
		return true
	})
}

// RecordEndpoints waits until every running node knows every running member's endpoints. A
// node records its own through a metadata write; while such writes work on the metadata
// leader only, leadership is handed to each node whose endpoints are missing in turn.
func (c *Cluster) RecordEndpoints() {
	c.t.Helper()
	recorded := func(m *Node) bool {
		for _, n := range c.Running() {
			if e, ok := n.Broker.MemberEndpoints(m.ID); !ok || e.Kafka != m.KafkaAddr || e.HTTP != m.HTTPURL {
				return false
			}
		}
		return true
	}
	for _, m := range c.Running() {
		deadline := time.Now().Add(5 * time.Second)
		for !recorded(m) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !recorded(m) {
			c.TransferMetaLeader(m)
			Eventually(c.t, fmt.Sprintf("node %d's endpoints recorded everywhere", m.ID), func() bool { return recorded(m) })
		}
	}
}

// PartitionLeader returns the running node that is the confirmed leader of partition p of
// dev hub hub, or nil.
func (c *Cluster) PartitionLeader(hub string, p int32) *Node {
	for _, n := range c.Running() {
		if _, err := n.Broker.Partition(broker.DevNamespace, hub, p); err == nil {
			return n
		}
	}
	return nil
}
