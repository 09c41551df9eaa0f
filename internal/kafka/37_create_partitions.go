package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// CreatePartitions: v0-3
//
// Raises a hub's partition count (never lowers it, as in Kafka and Event Hubs dedicated).
// Needs Manage.

func init() { register(37, 0, 3) }

func (c *conn) handleCreatePartitions(ctx context.Context, req *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		switch {
		case !c.principal.CanSee(rt.Topic):
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
		case !c.principal.Can(broker.RightManage, ""):
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
		case len(rt.Assignment) > 0:
			err = errcode.New(errcode.InvalidArgument, "manual replica assignment is not supported")
		case req.ValidateOnly:
			_, err = c.s.opts.Broker.Hub(c.principal.Namespace, rt.Topic)
		default:
			err = c.s.opts.Broker.AddPartitions(ctx, c.principal.Namespace, rt.Topic, rt.Count)
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = c.codeMsg(err)
			if errcode.Is(err, errcode.InvalidArgument) {
				st.ErrorCode = kerr.InvalidPartitions.Code
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
