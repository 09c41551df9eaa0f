package kafka

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator: v0-4
//
// Every group and transactional id is coordinated by this node.

func init() { register(10, 0, 4) }

func (c *conn) handleFindCoordinator(req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	nodes := c.s.opts.Broker.KafkaNodes(*c.principal, c.s.opts.AdvertisedHost, c.port)
	n := nodes[0]
	if req.Version < 4 {
		resp.NodeID, resp.Host, resp.Port = n.NodeID, n.Host, n.Port
		return resp
	}
	for _, key := range req.CoordinatorKeys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		rc.NodeID, rc.Host, rc.Port = n.NodeID, n.Host, n.Port
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return resp
}
