package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Metadata: v0-12
//
// Topics are the event hubs of the connection's namespace (only the EntityPath hub when the
// connection string names one). On a single node every partition is led by this node; in a
// cluster Metadata lists every member (rack = zone) and each partition's raft leader, replicas
// and in-sync replicas. Topics are never
// auto-created: Event Hubs creates hubs through management only, so unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION.

func init() { register(3, 0, 12) }

func (c *conn) handleMetadata(ctx context.Context, req *kmsg.MetadataRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := c.s.opts.Broker
	ns := c.principal.Namespace
	self := int32(0)
	for _, n := range b.KafkaNodes(*c.principal, c.s.opts.AdvertisedHost, c.port) {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = n.NodeID, n.Host, n.Port
		if n.Rack != "" {
			mb.Rack = kmsg.StringPtr(n.Rack)
		}
		resp.Brokers = append(resp.Brokers, mb)
		self = n.NodeID
	}
	cluster := b.ClusterID()
	resp.ClusterID = &cluster
	resp.ControllerID = b.CoordinatorNode(*c.principal, c.s.opts.AdvertisedHost, c.port).NodeID

	addTopic := func(name string, h broker.HubInfo, err error) {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = kmsg.StringPtr(name)
		if err != nil {
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, t)
			return
		}
		t.TopicID = h.ID
		for i := int32(0); i < h.Partitions; i++ {
			p := kmsg.NewMetadataResponseTopicPartition()
			p.Partition = i
			l, err := b.Leadership(h, i, self)
			if err != nil {
				p.ErrorCode = kerr.LeaderNotAvailable.Code
			}
			p.Leader, p.LeaderEpoch, p.Replicas, p.ISR = l.Leader, l.LeaderEpoch, l.Replicas, l.ISR
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		for _, h := range b.Hubs(ns) {
			if c.principal.CanSee(h.Name) {
				addTopic(h.Name, h, nil)
			}
		}
		return resp
	}
	synced := false
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			continue
		}
		name := *rt.Topic
		if !c.principal.CanSee(name) {
			addTopic(name, broker.HubInfo{}, errHidden)
			continue
		}
		h, err := b.Hub(ns, name)
		if errcode.Is(err, errcode.NotFound) && !synced {
			// In a cluster this node may not have applied a hub created through another node
			// yet: catch up once (a raft ReadIndex round) before answering that it is unknown.
			synced = true
			if b.SyncMetadata(ctx) == nil {
				h, err = b.Hub(ns, name)
			}
		}
		addTopic(name, h, err)
	}
	return resp
}
