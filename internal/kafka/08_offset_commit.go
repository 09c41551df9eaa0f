package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/group"
)

// OffsetCommit: v2-8
//
// The commit is checked against the group's generation (classic protocol) and the member's
// principal, then written to the metadata log as a checkpoint of consumer group <group> on
// each hub, which is where the HTTP checkpoint API reads it too. Committing needs Listen on
// the hub. A group that does not yet exist on a hub is created there, as Event Hubs' Kafka
// endpoint does, but only for a principal with Manage (as creating it over HTTP needs) and
// within the groups-per-hub quota: a Listen-only principal gets GROUP_AUTHORIZATION_FAILED,
// the code Kafka gives a principal that may not use a group id (clients report it to the
// application rather than retry), and a commit over the quota POLICY_VIOLATION.
//
// In a cluster only the confirmed metadata leader takes commits (NOT_COORDINATOR elsewhere,
// COORDINATOR_NOT_AVAILABLE while none is confirmed); see broker.CoordinatorContext.

func init() { register(8, 2, 8) }

func (c *conn) handleOffsetCommit(ctx context.Context, p broker.Principal, client group.Client, req *kmsg.OffsetCommitRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	b := c.s.opts.Broker
	ns := p.Namespace
	gctx, err := b.CoordinatorContext(group.WithClient(ctx, client))
	code := int16(0)
	if err != nil {
		code, _ = c.codeMsg(err)
	} else {
		code = b.Groups().ValidateCommit(gctx, ns, req.Group, req.MemberID, req.Generation)
	}
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		topicCode := code
		switch {
		case topicCode != 0:
		case !p.CanSee(rt.Topic):
			topicCode = kerr.UnknownTopicOrPartition.Code
		case !p.Can(broker.RightListen, rt.Topic):
			topicCode = kerr.TopicAuthorizationFailed.Code
		case !p.Can(broker.RightManage, rt.Topic) && !b.GroupExists(ns, rt.Topic, req.Group):
			topicCode = kerr.GroupAuthorizationFailed.Code
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
				topicCode, _ = c.codeMsg(b.CoordinatorError(err))
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
