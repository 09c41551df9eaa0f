package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// InitProducerID: v0-4
//
// Idempotent producers get a fresh, never reused producer id with epoch 0. Transactional
// ids are refused: transactions are not supported. Needs Send (a principal that cannot
// produce has no use for producer ids and must not use up the node's): without it,
// CLUSTER_AUTHORIZATION_FAILED, Kafka's answer without IdempotentWrite.

func init() { register(22, 0, 4) }

func (c *conn) handleInitProducerID(ctx context.Context, req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	}
	if p := c.principal; !p.Can(broker.RightSend, p.EntityPath) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	id, err := c.s.opts.Broker.InitProducerID(ctx)
	if err != nil {
		resp.ErrorCode, _ = c.codeMsg(err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}
