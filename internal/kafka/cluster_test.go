package kafka_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/kafka"
)

// clusterNode is one broker of an in-process 3-node region: its raft node, broker and Kafka
// listener.
type clusterNode struct {
	dir  string
	b    *broker.Broker
	srv  *kafka.Server
	addr string
	done chan error
}

func (n *clusterNode) stop() {
	if n.srv == nil {
		return
	}
	n.srv.Close()
	<-n.done
	n.b.Close()
	n.srv, n.b = nil, nil
}

func startCluster(t *testing.T) []*clusterNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raftPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	spec := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", raftPort, raftPort, raftPort)
	lns := make([]net.Listener, 3)
	for i := range lns {
		if lns[i], err = net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		cfg, _, err := cluster.ParseConfig(uint64(i+1), "", spec, []byte("0123456789abcdef-secret"))
		if err != nil {
			t.Fatal(err)
		}
		for j := range cfg.Nodes {
			cfg.Nodes[j].KafkaAddr = lns[j].Addr().String()
		}
		dir := t.TempDir()
		cn, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir,
			Logger: quietLogger(), TickInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Dev: true,
			Logger: quietLogger(), Cluster: cn})
		if err != nil {
			cn.Close()
			t.Fatal(err)
		}
		n := &clusterNode{dir: dir, b: b, addr: lns[i].Addr().String(), done: make(chan error, 1)}
		n.srv = kafka.New(lns[i], kafka.Options{Broker: b, Dev: true, Logger: quietLogger()})
		go func() { n.done <- n.srv.Serve() }()
		nodes[i] = n
		t.Cleanup(n.stop)
	}
	return nodes
}

// segmentDigests hashes the segment files of every partition of hub under dir.
func segmentDigests(t *testing.T, dir, hub string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	files, _ := filepath.Glob(filepath.Join(dir, "hubs", "default", hub+".*", "*", "*.log"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(filepath.Dir(filepath.Dir(filepath.Dir(f))), f)
		out[rel] = sha256.Sum256(data)
	}
	return out
}

func TestClusterProduceConsumeFailover(t *testing.T) {
	nodes := startCluster(t)
	ctx := context.Background()
	eventually(t, "the dev namespace on every node", func() bool {
		for _, n := range nodes {
			if _, err := n.b.Namespace(broker.DevNamespace); err != nil {
				return false
			}
		}
		return true
	})
	const hub, parts = "orders", 3
	eventually(t, "the hub to be created through the metadata leader", func() bool {
		for _, n := range nodes {
			err := n.b.CreateHub(ctx, broker.DevNamespace, broker.HubSpec{Name: hub, Partitions: parts})
			if err == nil || errcode.Is(err, errcode.AlreadyExists) {
				return true
			}
		}
		return false
	})
	leaderOf := func(p int32) int {
		for i, n := range nodes {
			if n.b == nil {
				continue
			}
			if _, err := n.b.Partition(broker.DevNamespace, hub, p); err == nil {
				return i
			}
		}
		return -1
	}
	eventually(t, "a confirmed leader for every partition", func() bool {
		for p := int32(0); p < parts; p++ {
			if leaderOf(p) < 0 {
				return false
			}
		}
		return true
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(nodes[1].addr), kgo.DefaultProduceTopic(hub),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	type ack struct {
		p   int32
		off int64
	}
	acked := map[ack]string{}
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i += 50 {
			var rs []*kgo.Record
			for j := i; j < min(i+50, to); j++ {
				rs = append(rs, &kgo.Record{Partition: int32(j % parts), Value: []byte(fmt.Sprintf("event-%04d", j))})
			}
			pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			res := cl.ProduceSync(pctx, rs...)
			cancel()
			for _, r := range res {
				if r.Err != nil {
					t.Fatalf("produce %s: %v", r.Record.Value, r.Err)
				}
				acked[ack{r.Record.Partition, r.Record.Offset}] = string(r.Record.Value)
			}
		}
	}
	produce(0, 500)

	victim := leaderOf(0)
	t.Logf("closing node %d, the leader of partition 0", victim+1)
	nodes[victim].stop()
	produce(500, 1000)
	if len(acked) != 1000 {
		t.Fatalf("%d distinct acknowledged offsets, want 1000", len(acked))
	}

	live := nodes[(victim+1)%3]
	cons, err := kgo.NewClient(kgo.SeedBrokers(live.addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		hub: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[ack]string{}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for len(got) < len(acked) && cctx.Err() == nil {
		fs := cons.PollFetches(cctx)
		fs.EachRecord(func(r *kgo.Record) { got[ack{r.Partition, r.Offset}] = string(r.Value) })
	}
	for a, v := range acked {
		if got[a] != v {
			t.Errorf("partition %d offset %d: read %q, acknowledged %q", a.p, a.off, got[a], v)
		}
	}

	var liveNodes []*clusterNode
	for _, n := range nodes {
		if n.b != nil {
			liveNodes = append(liveNodes, n)
		}
	}
	var last string
	eventually(t, "byte-identical segment files on the live replicas", func() bool {
		a, b := segmentDigests(t, liveNodes[0].dir, hub), segmentDigests(t, liveNodes[1].dir, hub)
		last = fmt.Sprint(len(a), len(b))
		if len(a) != parts || len(a) != len(b) {
			return false
		}
		for k, d := range a {
			if b[k] != d {
				return false
			}
		}
		return true
	})
	if !strings.Contains(last, "3") {
		t.Fatalf("digests %s", last)
	}
}
