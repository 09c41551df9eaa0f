package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// OffsetCommit: v2-8
//
// The commit is checked against the group's generation (classic protocol), then written to
// the metadata log as a checkpoint of consumer group <group> on each hub, which is where the
// HTTP checkpoint API reads it too. A group that does not yet exist on a hub is created
// there, as Event Hubs' Kafka endpoint does.

func init() { register(8, 2, 8) }

func (c *conn) handleOffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	b := c.s.opts.Broker
	ns := c.principal.Namespace
	code := b.Groups().ValidateCommit(ctx, ns, req.Group, req.MemberID, req.Generation)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		topicCode := code
		if topicCode == 0 && !c.principal.CanSee(rt.Topic) {
			topicCode = kerr.UnknownTopicOrPartition.Code
		} else if topicCode == 0 && !c.principal.Can(broker.RightListen, rt.Topic) {
			topicCode = kerr.TopicAuthorizationFailed.Code
		}
		var commits []broker.OffsetCommit
		for _, rp := range rt.Partitions {
			md := ""
			if rp.Metadata != nil {
				md = *rp.Metadata
			}
			commits = append(commits, broker.OffsetCommit{Partition: rp.Partition, Offset: rp.Offset, Metadata: md})
		}
		if topicCode == 0 {
			if err := b.CommitOffsets(ctx, ns, req.Group, rt.Topic, commits); err != nil {
				topicCode, _ = c.codeMsg(err)
			}
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = topicCode
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
