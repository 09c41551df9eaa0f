package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/clustertest"
)

// A topic created through one node is known at once to Metadata on every other node: a node
// that has not applied the creation yet catches up before it answers UNKNOWN_TOPIC.
func TestClusterMetadataSeesTopicsCreatedElsewhere(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateHub("warmup", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers := make([]*kgo.Broker, len(c.Nodes))
	for i, n := range c.Nodes {
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		brokers[i] = cl.SeedBrokers()[0]
	}
	for i := range 30 {
		w, r := i%3, (i+1)%3
		hub := fmt.Sprintf("t-%d", i)
		if err := c.Nodes[w].Broker.CreateHub(ctx, broker.DevNamespace, broker.HubSpec{Name: hub, Partitions: 2}); err != nil {
			t.Fatalf("create %s through node %d: %v", hub, c.Nodes[w].ID, err)
		}
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(hub)
		req.Topics = append(req.Topics, rt)
		resp, err := brokers[r].Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		m := resp.(*kmsg.MetadataResponse)
		if len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != 2 {
			t.Fatalf("Metadata for %s on node %d right after its creation through node %d: %+v", hub, c.Nodes[r].ID, c.Nodes[w].ID, m.Topics)
		}
	}
}
