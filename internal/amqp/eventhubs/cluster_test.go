package eventhubs_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/clustertest"
)

// AMQP in a 3-node region (internal/clustertest, every node with the Event Hubs handler on
// its own AMQP listener): go-amqp does what azeventhubs does, against any node.

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect dials a node anonymously (the cluster runs in dev mode), as the SDKs dial the
// emulator's connection string.
func connect(t *testing.T, addr string) (*goamqp.Conn, *goamqp.Session) {
	t.Helper()
	ctx := ctxFor(t)
	c, err := goamqp.Dial(ctx, "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous(), HostName: addr})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("session on %s: %v", addr, err)
	}
	return c, s
}

func newSender(t *testing.T, s *goamqp.Session, target string) *goamqp.Sender {
	t.Helper()
	snd, err := s.NewSender(ctxFor(t), target, &goamqp.SenderOptions{SettlementMode: goamqp.SenderSettleModeMixed.Ptr(),
		RequestedReceiverSettleMode: goamqp.ReceiverSettleModeFirst.Ptr()})
	if err != nil {
		t.Fatalf("sender to %s: %v", target, err)
	}
	return snd
}

// newReceiver opens a partition receiver after sequence number after (-1: from the start),
// with an owner level unless epoch is nil.
func newReceiver(t *testing.T, s *goamqp.Session, hub string, part int32, after int64, name string, epoch *int64) (*goamqp.Receiver, error) {
	t.Helper()
	props := map[string]any{"com.microsoft:receiver-name": name}
	if epoch != nil {
		props["com.microsoft:epoch"] = *epoch
	}
	return s.NewReceiver(ctxFor(t), fmt.Sprintf("%s/ConsumerGroups/$Default/Partitions/%d", hub, part), &goamqp.ReceiverOptions{
		SettlementMode: goamqp.ReceiverSettleModeFirst.Ptr(), Credit: 300, TargetAddress: name,
		Filters:    []goamqp.LinkFilter{goamqp.NewSelectorFilter(fmt.Sprintf("amqp.annotation.x-opt-sequence-number > %d", after))},
		Properties: props})
}

func seqOf(t *testing.T, m *goamqp.Message) int64 {
	t.Helper()
	s, ok := m.Annotations["x-opt-sequence-number"].(int64)
	if !ok {
		t.Fatalf("x-opt-sequence-number %#v", m.Annotations["x-opt-sequence-number"])
	}
	return s
}

// receiveN receives n events and checks that their sequence numbers follow from after on.
func receiveN(t *testing.T, r *goamqp.Receiver, after int64, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		m, err := r.Receive(ctxFor(t), nil)
		if err != nil {
			t.Fatalf("receive %d of %d: %v", i, n, err)
		}
		if got := seqOf(t, m); got != after+1+int64(i) {
			t.Fatalf("event %d has sequence number %d, want %d (a gap or a repeat)", i, got, after+1+int64(i))
		}
		out = append(out, string(m.GetData()))
	}
	return out
}

// follower returns a running node that does not lead partition p of hub.
func follower(c *clustertest.Cluster, hub string, p int32, not ...uint64) *clustertest.Node {
	l := c.PartitionLeader(hub, p)
	for _, n := range c.Running() {
		skip := l != nil && n.ID == l.ID
		for _, id := range not {
			skip = skip || n.ID == id
		}
		if !skip {
			return n
		}
	}
	return nil
}

func endOffset(n *clustertest.Node, hub string, p int32) int64 {
	if part, err := n.Broker.LocalPartition(broker.DevNamespace, hub, p); err == nil {
		return part.EndOffset()
	}
	return -1
}

// A send on a follower lands on the leader and is read back on every node; $management and
// round-robin sends work there too.
func TestClusterSendOnFollower(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{AMQP: true})
	c.CreateHub("hub1", 3)
	leader := c.PartitionLeader("hub1", 0)
	f := follower(c, "hub1", 0)
	t.Logf("partition 0: leader node %d, sending on node %d", leader.ID, f.ID)
	_, fs := connect(t, f.AMQPAddr)
	snd := newSender(t, fs, "hub1/Partitions/0")
	for i := range 10 {
		if err := snd.Send(ctxFor(t), &goamqp.Message{Data: [][]byte{[]byte(fmt.Sprint("event-", i))}}, nil); err != nil {
			t.Fatalf("send %d on the follower: %v", i, err)
		}
	}
	// Acknowledged means applied on the sending node, committed by a majority.
	if end := endOffset(f, "hub1", 0); end != 10 {
		t.Fatalf("the follower's replica ends at %d after 10 accepted sends", end)
	}
	clustertest.Eventually(t, "the leader to hold the 10 events", func() bool { return endOffset(leader, "hub1", 0) == 10 })
	for _, n := range c.Nodes {
		_, s := connect(t, n.AMQPAddr)
		r, err := newReceiver(t, s, "hub1", 0, -1, fmt.Sprint("reader-on-", n.ID), nil)
		if err != nil {
			t.Fatalf("receiver on node %d: %v", n.ID, err)
		}
		got := receiveN(t, r, -1, 10)
		if got[0] != "event-0" || got[9] != "event-9" {
			t.Fatalf("node %d read %q", n.ID, got)
		}
	}

	// Round-robin sends from the follower reach every partition, whoever leads it.
	rr := newSender(t, fs, "hub1")
	for i := range 6 {
		if err := rr.Send(ctxFor(t), &goamqp.Message{Data: [][]byte{[]byte("rr")}}, nil); err != nil {
			t.Fatalf("round-robin send %d: %v", i, err)
		}
	}
	total := int64(0)
	for p := range int32(3) {
		e := endOffset(f, "hub1", p)
		if p != 0 && e == 0 {
			t.Errorf("round-robin sends never reached partition %d", p)
		}
		total += e
	}
	if total != 16 {
		t.Fatalf("the follower's replicas hold %d events, want 16", total)
	}

	// $management on the follower: the partition as its replica holds it.
	props := readPartition(t, f.AMQPAddr, "hub1", "0")
	if props["last_enqueued_sequence_number"] != endOffset(f, "hub1", 0)-1 {
		t.Fatalf("partition properties on the follower: %v", props)
	}
}

// readPartition is GetPartitionProperties: a $management READ over the RPC link pair.
func readPartition(t *testing.T, addr, hub, part string) map[string]any {
	t.Helper()
	ctx := ctxFor(t)
	_, s := connect(t, addr)
	snd, err := s.NewSender(ctx, "$management", nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "$management", &goamqp.ReceiverOptions{TargetAddress: "$management-reply-to", Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	reply := "$management-reply-to"
	if err := snd.Send(ctx, &goamqp.Message{Properties: &goamqp.MessageProperties{MessageID: "m1", ReplyTo: &reply},
		ApplicationProperties: map[string]any{"operation": "READ", "name": hub, "type": "com.microsoft:partition", "partition": part}}, nil); err != nil {
		t.Fatal(err)
	}
	m, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := m.Value.(map[string]any)
	if m.ApplicationProperties["status-code"] != int32(200) || !ok {
		t.Fatalf("READ partition %s on %s: %v %#v", part, addr, m.ApplicationProperties, m.Value)
	}
	return v
}

// The leader of a partition stops mid-stream: sends on a surviving node go on once a new
// leader is elected (each is accepted, at least once), a receiver on a survivor reads on
// without a gap, and a receiver that was on the stopped node resumes on another by sequence
// number.
func TestClusterLeaderStops(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{AMQP: true})
	c.CreateHub("hub1", 1)
	leader := c.PartitionLeader("hub1", 0)
	s1 := follower(c, "hub1", 0)
	s2 := follower(c, "hub1", 0, s1.ID)
	t.Logf("leader node %d; sender and receiver on node %d; the other survivor node %d", leader.ID, s1.ID, s2.ID)
	_, ss := connect(t, s1.AMQPAddr)
	snd := newSender(t, ss, "hub1/Partitions/0")
	_, rs := connect(t, s1.AMQPAddr)
	survivor, err := newReceiver(t, rs, "hub1", 0, -1, "survivor", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, ls := connect(t, leader.AMQPAddr)
	onLeader, err := newReceiver(t, ls, "hub1", 0, -1, "on-leader", nil)
	if err != nil {
		t.Fatal(err)
	}
	const before, after = 20, 20
	send := func(i int) {
		t.Helper()
		for {
			err := snd.Send(ctxFor(t), &goamqp.Message{Data: [][]byte{[]byte(strconv.Itoa(i))}}, nil)
			if err == nil {
				return
			}
			var ae *goamqp.Error
			if !errors.As(err, &ae) {
				t.Fatalf("send %d: %v", i, err)
			}
			t.Logf("send %d refused (%v); retrying as the SDK does", i, err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	for i := range before {
		send(i)
	}
	got := receiveN(t, onLeader, -1, 10) // the receiver on the leader has read 10
	lastOnLeader := int64(len(got) - 1)

	leader.Stop()
	for i := before; i < before+after; i++ {
		send(i)
	}
	if l := c.PartitionLeader("hub1", 0); l != nil {
		t.Logf("new leader: node %d", l.ID)
	}

	// The receiver on the survivor reads every event, in order, without a gap; a send
	// accepted twice (outcome unknown at the leader change) shows as a repeat of its value.
	seen := map[string]bool{}
	var next int64 = -1
	for len(seen) < before+after {
		m, err := survivor.Receive(ctxFor(t), nil)
		if err != nil {
			t.Fatalf("the survivor's receiver after %d events: %v", len(seen), err)
		}
		if sq := seqOf(t, m); sq != next+1 {
			t.Fatalf("survivor: sequence number %d after %d", sq, next)
		} else {
			next = sq
		}
		seen[string(m.GetData())] = true
	}
	for i := range before + after {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("event %d was accepted but never read", i)
		}
	}

	// The receiver that was on the stopped node resumes on the other survivor.
	_, rs2 := connect(t, s2.AMQPAddr)
	resumed, err := newReceiver(t, rs2, "hub1", 0, lastOnLeader, "resumed", nil)
	if err != nil {
		t.Fatal(err)
	}
	rest := receiveN(t, resumed, lastOnLeader, int(next-lastOnLeader))
	if rest[0] != strconv.Itoa(int(lastOnLeader)+1) {
		t.Fatalf("resumed at %q", rest[0])
	}
	if !strings.Contains(strings.Join(rest, ","), strconv.Itoa(before+after-1)) {
		t.Fatalf("the resumed receiver did not reach the last event: %q", rest)
	}
}

// stolenWithin waits for r's next receive to fail with amqp:link:stolen; it returns the
// description.
func stolenWithin(t *testing.T, r *goamqp.Receiver, what string) string {
	t.Helper()
	m, err := r.Receive(ctxFor(t), nil)
	return stolenError(t, m, err, what)
}

func stolenError(t *testing.T, m *goamqp.Message, err error, what string) string {
	t.Helper()
	var le *goamqp.LinkError
	if !errors.As(err, &le) || le.RemoteErr == nil || le.RemoteErr.Condition != goamqp.ErrCond("amqp:link:stolen") {
		t.Fatalf("%s: receive gave %v, %v; want amqp:link:stolen", what, m, err)
	}
	return le.RemoteErr.Description
}

func sendOn(t *testing.T, n *clustertest.Node, data string) {
	t.Helper()
	_, s := connect(t, n.AMQPAddr)
	if err := newSender(t, s, "hub1/Partitions/0").Send(ctxFor(t), &goamqp.Message{Data: [][]byte{[]byte(data)}}, nil); err != nil {
		t.Fatalf("send on node %d: %v", n.ID, err)
	}
}

// Owner levels across nodes: a higher epoch on node B steals from node A; a lower epoch or a
// receiver without one on other nodes is detached while B's receiver lives, and admitted
// once it closed.
func TestClusterEpochs(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{AMQP: true})
	c.CreateHub("hub1", 1)
	a, b, cc := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	for i := range 3 {
		sendOn(t, a, fmt.Sprint("e", i))
	}
	one, two := int64(1), int64(2)
	_, sa := connect(t, a.AMQPAddr)
	r1, err := newReceiver(t, sa, "hub1", 0, -1, "r1-on-a", &one)
	if err != nil {
		t.Fatal(err)
	}
	receiveN(t, r1, -1, 3)
	type result struct {
		m   *goamqp.Message
		err error
	}
	errc := make(chan result, 1)
	go func() {
		m, err := r1.Receive(ctxFor(t), nil)
		errc <- result{m, err}
	}()

	_, sb := connect(t, b.AMQPAddr)
	r2, err := newReceiver(t, sb, "hub1", 0, -1, "r2-on-b", &two)
	if err != nil {
		t.Fatal(err)
	}
	res := <-errc
	if d := stolenError(t, res.m, res.err, "epoch 1 on node A after epoch 2 on node B"); !strings.Contains(d, "r2-on-b") || !strings.Contains(d, "r1-on-a") {
		t.Fatalf("the stolen receiver's error: %q", d)
	}
	receiveN(t, r2, -1, 3)

	// A lower epoch on node C attaches and is detached (node B answers its claim).
	_, sc := connect(t, cc.AMQPAddr)
	r3, err := newReceiver(t, sc, "hub1", 0, 2, "r3-on-c", &one)
	if err != nil {
		t.Fatal(err)
	}
	if d := stolenWithin(t, r3, "epoch 1 on node C beside epoch 2 on node B"); !strings.Contains(d, "r2-on-b") {
		t.Fatalf("lower epoch refusal: %q", d)
	}
	// So is a receiver without an epoch on node A.
	r4, err := newReceiver(t, sa, "hub1", 0, 2, "r4-on-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	stolenWithin(t, r4, "no epoch on node A beside epoch 2 on node B")

	// Node B's receiver was not disturbed by its answers.
	sendOn(t, cc, "e3")
	receiveN(t, r2, 2, 1)

	// Once it closed, a receiver without an epoch works anywhere.
	if err := r2.Close(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	r5, err := newReceiver(t, sc, "hub1", 0, 2, "r5-on-c", nil)
	if err != nil {
		t.Fatal(err)
	}
	receiveN(t, r5, 2, 1)
	sendOn(t, a, "e4")
	receiveN(t, r5, 3, 1)
}

// BenchmarkClusterSend measures one link's sequential sends (each accepted once durable) on
// the partition's leader and on a follower, which proposes through raft's forwarding.
func BenchmarkClusterSend(b *testing.B) {
	for _, where := range []string{"leader", "follower"} {
		b.Run(where, func(b *testing.B) {
			c := clustertest.Start(b, clustertest.Options{AMQP: true})
			c.CreateHub("hub1", 1)
			n := c.PartitionLeader("hub1", 0)
			if where == "follower" {
				n = follower(c, "hub1", 0)
			}
			ctx := context.Background()
			conn, err := goamqp.Dial(ctx, "amqp://"+n.AMQPAddr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous(), HostName: n.AMQPAddr})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			s, err := conn.NewSession(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			snd, err := s.NewSender(ctx, "hub1/Partitions/0", nil)
			if err != nil {
				b.Fatal(err)
			}
			msg := &goamqp.Message{Data: [][]byte{make([]byte, 1024)}}
			b.ResetTimer()
			for range b.N {
				if err := snd.Send(ctx, msg, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
