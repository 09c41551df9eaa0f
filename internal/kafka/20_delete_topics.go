package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// DeleteTopics: v0-6
//
// Deletes event hubs with their events, consumer groups and checkpoints. Needs Manage.
// Deleting by topic id (v6) is answered UNKNOWN_TOPIC_ID unless the name is given too.

func init() { register(20, 0, 6) }

func (c *conn) handleDeleteTopics(ctx context.Context, req *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	names := req.TopicNames
	if req.Version >= 6 {
		names = names[:0]
		for _, t := range req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			}
		}
	}
	for _, name := range names {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic = kmsg.StringPtr(name)
		switch {
		case !c.principal.CanSee(name):
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
		case !c.principal.Can(broker.RightManage, ""):
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
		default:
			if err := c.s.opts.Broker.DeleteHub(ctx, c.principal.Namespace, name); err != nil {
				st.ErrorCode, st.ErrorMessage = c.codeMsg(err)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
