package kafka

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator: v0-4
//
// Every group and transactional id is coordinated by one node: this one on a single node, the
// metadata leader in a cluster (COORDINATOR_NOT_AVAILABLE while no leader is known, and
// clients ask again).

func init() { register(10, 0, 4) }

func (c *conn) handleFindCoordinator(req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	n, err := c.s.opts.Broker.FindCoordinator(*c.principal, c.s.opts.AdvertisedHost, c.port)
	code, msg := c.codeMsg(err)
	if err != nil {
		n.NodeID = -1
	}
	if req.Version < 4 {
		resp.NodeID, resp.Host, resp.Port = n.NodeID, n.Host, n.Port
		resp.ErrorCode = code
		if req.Version >= 1 {
			resp.ErrorMessage = msg
		}
		return resp
	}
	for _, key := range req.CoordinatorKeys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		rc.NodeID, rc.Host, rc.Port = n.NodeID, n.Host, n.Port
		rc.ErrorCode, rc.ErrorMessage = code, msg
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return resp
}
