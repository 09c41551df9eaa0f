package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/client"
)

// The Event Hubs SDKs know one endpoint, never a cluster's nodes: whichever node of a 3-node
// region a client reaches over AMQP, it sends to and reads every partition, as over HTTP. The
// nodes run with --dev, whose anonymous connections act in namespace "default" (go-amqp
// speaks SASL ANONYMOUS and no $cbs here).
//
// Known open bug (the interop helper's BUGS-interop.md 3): a node refuses the partitions it
// does not lead with com.microsoft:server-busy "led by node N; refresh metadata", which the SDKs
// cannot do. TANDEM_E2E_KNOWN_BUGS=1 runs the test.
func TestAMQPClusterEveryNodeServesEveryPartition(t *testing.T) {
	if os.Getenv("TANDEM_E2E_KNOWN_BUGS") != "1" {
		t.Skip("known bug: AMQP on a cluster serves only the partitions the connected node leads; TANDEM_E2E_KNOWN_BUGS=1 runs it")
	}
	r := startClusterGeoRegion(t, "east")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lc, _ := r.leader(t, ctx)
	const hub, parts = "orders", 3
	waitFor(t, 60*time.Second, "hub default/orders", func() (bool, string) {
		_, err := lc.CreateHub(ctx, "default", hub, client.HubOptions{Partitions: parts})
		return err == nil, fmt.Sprint(err)
	})
	// The partitions' leaders, elected after the hub exists: one event each over HTTP (which
	// forwards to the leader) once they have one.
	for p := range int32(parts) {
		waitFor(t, 60*time.Second, fmt.Sprintf("partition %d to take an event over HTTP", p), func() (bool, string) {
			_, err := lc.Send(ctx, "default", hub, []client.Event{{Body: []byte("via HTTP")}}, client.SendOptions{PartitionID: client.Partition(p)})
			return err == nil, fmt.Sprint(err)
		})
	}
	conns := make([]*amqp.Conn, len(r.nodes))
	for i, n := range r.nodes {
		ready, _ := n.proc.Ready()
		c, err := amqp.Dial(ctx, "amqp://"+ready.AMQP, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
		if err != nil {
			t.Fatalf("node %d: dialing its AMQP listener %s: %v", i+1, ready.AMQP, err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		s, err := c.NewSession(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for p := range parts {
			sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
			snd, err := s.NewSender(sctx, fmt.Sprintf("%s/Partitions/%d", hub, p), nil)
			if err == nil {
				err = snd.Send(sctx, amqp.NewMessage(fmt.Appendf(nil, "via node %d", i+1)), nil)
				snd.Close(sctx)
			}
			scancel()
			if err != nil {
				t.Errorf("node %d: sending to partition %d: %v", i+1, p, err)
			}
		}
	}
	for i, c := range conns {
		s, err := c.NewSession(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for p := range parts {
			rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
			got := 0
			rcv, err := s.NewReceiver(rctx, fmt.Sprintf("%s/ConsumerGroups/$Default/Partitions/%d", hub, p), &amqp.ReceiverOptions{
				Credit: 10, Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("amqp.annotation.x-opt-offset > '-1'")}})
			for err == nil && got < 1+len(conns) {
				if _, err = rcv.Receive(rctx, nil); err == nil {
					got++
				}
			}
			if rcv != nil {
				rcv.Close(rctx)
			}
			rcancel()
			if got != 1+len(conns) {
				t.Errorf("node %d: read %d of the %d events of partition %d: %v", i+1, got, 1+len(conns), p, err)
			}
		}
	}
}
