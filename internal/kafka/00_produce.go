package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// Produce: v3-10
//
// Batches are validated (framing, CRC, event size), de-duplicated for idempotent producers,
// stamped with the log-append time (the Event Hubs enqueued time) and appended verbatim. The
// appends happen on the connection's reader goroutine, so pipelined requests land in order;
// with acks=all the response waits, off that goroutine, until the batches are fsynced under
// the server's fsync policy. acks=1 answers once the batch is in the log (page cache);
// acks=0 sends no response. Transactions are not supported.

func init() { register(0, 3, 10) }

func (c *conn) handleProduce(ctx context.Context, req *kmsg.ProduceRequest) func() kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	b := c.s.opts.Broker
	aliasErr := b.CheckAliasActive(*c.principal) // alias clients must go to the active region
	ns := c.principal.Namespace
	type wait struct {
		part   *broker.Partition
		until  int64
		ti, pi int
	}
	var waits []wait
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			switch {
			case req.TransactionID != nil:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			case !c.principal.CanSee(rt.Topic):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !c.principal.Can(broker.RightSend, rt.Topic):
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case aliasErr != nil:
				sp.ErrorCode, sp.ErrorMessage = c.codeMsg(aliasErr)
			default:
				res, part, err := b.Append(ns, rt.Topic, rp.Partition, rp.Records)
				if err != nil {
					sp.ErrorCode, sp.ErrorMessage = c.codeMsg(err)
					break
				}
				sp.BaseOffset = res.BaseOffset
				sp.LogAppendTime = res.AppendTime
				sp.LogStartOffset = part.StartOffset()
				if req.Acks == -1 {
					waits = append(waits, wait{part, res.LastOffset + 1, len(resp.Topics), len(st.Partitions)})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		return func() kmsg.Response { return nil }
	}
	if len(waits) == 0 {
		return now(resp)
	}
	return func() kmsg.Response {
		for _, w := range waits {
			if err := w.part.WaitDurable(ctx, w.until); err != nil {
				sp := &resp.Topics[w.ti].Partitions[w.pi]
				sp.ErrorCode, sp.ErrorMessage = c.codeMsg(err)
			}
		}
		return resp
	}
}
