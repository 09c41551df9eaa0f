package broker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/clustertest"
)

// In a cluster every node records its AMQP listener (Options.AMQPAddr) with its other
// endpoints, so any node's GET /cluster lists every node's, which `tandem connection-string
// --amqp` reads.
func TestClusterRecordsAMQPEndpoints(t *testing.T) {
	amqpAddr := func(id uint64) string { return fmt.Sprintf("127.0.0.%d:5672", id) }
	c := clustertest.Start(t, clustertest.Options{
		Broker: func(id uint64, o *broker.Options) { o.AMQPAddr = amqpAddr(id) },
	})
	c.RecordEndpoints()
	for _, n := range c.Nodes {
		for _, m := range c.Nodes {
			if e, ok := n.Broker.MemberEndpoints(m.ID); !ok || e.AMQP != amqpAddr(m.ID) {
				t.Fatalf("node %d records node %d's endpoints as %+v (%v); want amqp %s", n.ID, m.ID, e, ok, amqpAddr(m.ID))
			}
		}
		st := n.Broker.ClusterStatus(context.Background())
		if len(st.Nodes) != len(c.Nodes) {
			t.Fatalf("node %d's status lists %d nodes", n.ID, len(st.Nodes))
		}
		for _, sn := range st.Nodes {
			if sn.AMQP != amqpAddr(sn.ID) {
				t.Fatalf("node %d's status shows node %d's AMQP endpoint as %q, want %q", n.ID, sn.ID, sn.AMQP, amqpAddr(sn.ID))
			}
		}
	}
}
