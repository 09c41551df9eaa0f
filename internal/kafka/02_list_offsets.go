package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// ListOffsets: v1-8
//
// Timestamp -2 is the earliest retained offset (Event Hubs' "start of stream"), -1 the next
// offset to be written ("end of stream"), -3 the last batch's enqueued time (v7+), and any
// other value the first offset enqueued at or after that Unix-millisecond time (Event Hubs'
// FromEnqueuedTime).

func init() { register(2, 1, 8) }

func (c *conn) handleListOffsets(req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	b := c.s.opts.Broker
	aliasErr := b.CheckAliasActive(*c.principal) // alias clients must go to the active region
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = -1, -1, 0
			switch {
			case !c.principal.CanSee(rt.Topic):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !c.principal.Can(broker.RightListen, rt.Topic):
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case aliasErr != nil:
				sp.ErrorCode, _ = c.codeMsg(aliasErr)
			default:
				part, err := b.Partition(c.principal.Namespace, rt.Topic, rp.Partition)
				if err == nil {
					err = b.CheckLeaderEpoch(c.principal.Namespace, rt.Topic, rp.Partition, rp.CurrentLeaderEpoch)
				}
				if err != nil {
					sp.ErrorCode, _ = c.codeMsg(err)
					break
				}
				sp.Offset, sp.Timestamp, err = listOffset(part, rp.Timestamp)
				if err != nil {
					sp.ErrorCode, _ = c.codeMsg(err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func listOffset(p *broker.Partition, ts int64) (offset, timestamp int64, err error) {
	switch ts {
	case -2:
		return p.StartOffset(), -1, nil
	case -1:
		return p.EndOffset(), -1, nil
	case -3:
		end := p.EndOffset()
		if end == p.StartOffset() {
			return -1, -1, nil
		}
		return end - 1, p.LastEnqueuedTime(), nil
	}
	off, err := p.OffsetForTime(ts)
	if err != nil {
		return -1, -1, err
	}
	if off >= p.EndOffset() {
		return -1, -1, nil // no event at or after ts: Kafka answers offset -1
	}
	return off, ts, nil
}
