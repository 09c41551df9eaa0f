package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// OffsetFetch: v1-7
//
// Answers the checkpoints of one group: for the requested hubs and partitions, or every hub
// the group has checkpoints on when Topics is null (v2+). A partition without a checkpoint
// answers offset -1. Reading checkpoints needs Listen on the hub. Batched groups (v8+) are not served.
//
// In a cluster only the confirmed metadata leader answers (NOT_COORDINATOR elsewhere,
// COORDINATOR_NOT_AVAILABLE while none is confirmed): it has applied every commit an
// earlier leader acknowledged, so a consumer never resumes from an older offset.

func init() { register(9, 1, 7) }

func (c *conn) handleOffsetFetch(ctx context.Context, p broker.Principal, req *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	b := c.s.opts.Broker
	ns := p.Namespace
	if _, err := b.CoordinatorContext(ctx); err != nil {
		code, _ := c.codeMsg(err)
		return offsetFetchError(req, code)
	}
	all := b.GroupOffsets(ns, req.Group)
	add := func(topic string, partitions []int32) {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = topic
		visible := p.CanSee(topic)
		listen := p.Can(broker.RightListen, topic)
		for _, p := range partitions {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition = p
			sp.Offset, sp.LeaderEpoch = -1, -1
			if !visible {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if !listen {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if cp, ok := all[topic][p]; ok {
				sp.Offset = cp.Offset
				md := cp.Metadata
				sp.Metadata = &md
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Topics == nil {
		for topic, parts := range all {
			if !p.Can(broker.RightListen, topic) {
				continue
			}
			ps := make([]int32, 0, len(parts))
			for p := range parts {
				ps = append(ps, p)
			}
			add(topic, ps)
		}
		return resp
	}
	for _, rt := range req.Topics {
		add(rt.Topic, rt.Partitions)
	}
	return resp
}

// offsetFetchError answers with code: at the top (v2+) and on every requested partition.
func offsetFetchError(req *kmsg.OffsetFetchRequest, code int16) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	resp.ErrorCode = code
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = p, -1, -1, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
