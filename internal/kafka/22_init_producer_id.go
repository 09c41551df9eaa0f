package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerID: v0-4
//
// Idempotent producers get a fresh, never reused producer id with epoch 0. Transactional
// ids are refused: transactions are not supported.

func init() { register(22, 0, 4) }

func (c *conn) handleInitProducerID(ctx context.Context, req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
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
