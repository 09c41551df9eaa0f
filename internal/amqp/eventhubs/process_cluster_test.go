package eventhubs_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// A region of three `tandem serve --cluster` processes (nodeproc.StartCluster, --dev): AMQP
// sends and a receiver on one node carry on through kill -9 of the partition's leader, and
// the killed node, restarted, serves every event to a receiver of its own.
func TestProcessClusterLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tandem and starts three processes")
	}
	dir, err := os.MkdirTemp("", "tandem-amqp-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the nodes' data directories and logs are kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := nodeproc.BuildTandem(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := nodeproc.StartCluster(ctx, nodeproc.ClusterSpec{
		Region: nodeproc.Region{Name: "east", Exe: bin, Nodes: 3, Dir: dir, Args: []string{"--dev"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		c.Stop(sctx)
		if t.Failed() {
			for _, n := range c.Nodes() {
				if p := n.Process(); p != nil {
					t.Logf("node %d ends with:\n%v", n.ID, p.LogTail(30))
				}
			}
		}
	})
	amqpAddr := func(n *nodeproc.ClusterNode) string {
		r, ok := n.Ready()
		if !ok || r.AMQP == "" || r.AMQP == "off" {
			t.Fatalf("node %d has no AMQP listener in its ready line (%+v)", n.ID, r)
		}
		return r.AMQP
	}
	adm, cl := kafkaAdmin(t, c)
	defer cl.Close()
	leader := createAndLead(t, ctx, adm, "hub1")
	var s1 *nodeproc.ClusterNode
	for _, n := range c.Nodes() {
		if n.ID != uint64(leader) {
			s1 = n
			break
		}
	}
	t.Logf("partition 0 is led by node %d; the client is on node %d", leader, s1.ID)

	_, ss := connect(t, amqpAddr(s1))
	snd := newSender(t, ss, "hub1/Partitions/0")
	send := func(i int) {
		t.Helper()
		for {
			err := snd.Send(ctxFor(t), &goamqp.Message{Data: [][]byte{[]byte(strconv.Itoa(i))}}, nil)
			if err == nil {
				return
			}
			var ae *goamqp.Error
			if !errors.As(err, &ae) || ctx.Err() != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			t.Logf("send %d refused (%v); retrying as the SDK does", i, err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	_, rs := connect(t, amqpAddr(s1))
	rcv, err := newReceiver(t, rs, "hub1", 0, -1, "survivor", nil)
	if err != nil {
		t.Fatal(err)
	}
	const total = 40
	for i := range total / 2 {
		send(i)
	}
	killed := c.Node(uint64(leader))
	if err := killed.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	for i := total / 2; i < total; i++ {
		send(i)
	}
	seen := map[string]bool{}
	last := int64(-1)
	for len(seen) < total {
		m, err := rcv.Receive(ctxFor(t), nil)
		if err != nil {
			t.Fatalf("receive after %d distinct events: %v", len(seen), err)
		}
		if sq := seqOf(t, m); sq != last+1 {
			t.Fatalf("sequence number %d after %d", sq, last)
		}
		last++
		seen[string(m.GetData())] = true
	}

	// The killed node comes back, catches up and serves every event from its own replica.
	if _, err := killed.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	_, ks := connect(t, amqpAddr(killed))
	var back *goamqp.Receiver
	deadline := time.Now().Add(60 * time.Second)
	for {
		back, err = newReceiver(t, ks, "hub1", 0, -1, "restarted", nil)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // its replica may not be open yet: server-busy
	}
	if err != nil {
		t.Fatalf("receiver on the restarted node: %v", err)
	}
	got := map[string]bool{}
	for i := int64(0); i <= last; i++ {
		m, err := back.Receive(ctxFor(t), nil)
		if err != nil {
			t.Fatalf("receive %d on the restarted node: %v", i, err)
		}
		if sq := seqOf(t, m); sq != i {
			t.Fatalf("restarted node: sequence number %d, want %d", sq, i)
		}
		got[string(m.GetData())] = true
	}
	if len(got) != total {
		t.Fatalf("the restarted node served %d distinct events, want %d", len(got), total)
	}
}

func kafkaAdmin(t *testing.T, c *nodeproc.Cluster) (*kadm.Client, *kgo.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.KafkaAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	return kadm.NewClient(cl), cl
}

// createAndLead creates hub with one partition through Kafka and returns its leader's node
// id once Metadata names one.
func createAndLead(t *testing.T, ctx context.Context, adm *kadm.Client, hub string) int32 {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := adm.CreateTopic(rctx, 1, 3, nil, hub); err != nil {
			last = err // or it exists already: a retry after a lost answer
		}
		md, err := adm.Metadata(rctx, hub)
		cancel()
		if err == nil {
			if td, ok := md.Topics[hub]; ok && td.Err == nil {
				if p, ok := td.Partitions[0]; ok && p.Leader >= 1 {
					return p.Leader
				}
			}
		} else {
			last = err
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("hub %s with a leader: %v", hub, last)
	return 0
}
