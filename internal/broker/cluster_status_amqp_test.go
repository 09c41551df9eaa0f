package broker

import (
	"context"
	"testing"
)

// A single node reports its AMQP listener (Options.AMQPAddr) in GET /cluster, where
// `tandem connection-string --amqp` finds it; a node without one reports none.
func TestSingleNodeStatusAMQP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:5672", ""} {
		b := openDiskBroker(t, Options{DataDir: t.TempDir(), Region: "east", NodeID: 1, AMQPAddr: addr})
		st := b.ClusterStatus(context.Background())
		if len(st.Nodes) != 1 || st.Nodes[0].AMQP != addr {
			t.Fatalf("AMQPAddr %q: nodes %+v", addr, st.Nodes)
		}
	}
}
