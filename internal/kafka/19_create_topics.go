package kafka

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// CreateTopics: v0-7
//
// A topic is an event hub. NumPartitions -1 takes the default (broker.DefaultPartitions);
// configs retention.ms, retention.bytes and max.message.bytes set the hub's retention and
// max event size; other configs are refused with INVALID_CONFIG naming them. Needs Manage.

func init() { register(19, 0, 7) }

func (c *conn) handleCreateTopics(ctx context.Context, req *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	b := c.s.opts.Broker
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = rt.NumPartitions, 1
		spec, err := hubSpecFromCreate(rt)
		switch {
		case err != nil:
		case !c.principal.Can(broker.RightManage, ""):
			err = errcode.New(errcode.Forbidden, "creating event hub %q needs the Manage right", rt.Topic)
		case req.ValidateOnly:
			err = b.ValidateHub(c.principal.Namespace, spec)
		default:
			err = b.CreateHub(ctx, c.principal.Namespace, spec)
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = c.codeMsg(err)
			if errcode.Is(err, errcode.Forbidden) {
				st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if errcode.Is(err, errcode.InvalidArgument) {
				st.ErrorCode = kerr.InvalidRequest.Code
				if rt.NumPartitions != -1 && (rt.NumPartitions < 1 || rt.NumPartitions > broker.MaxPartitions) {
					st.ErrorCode = kerr.InvalidPartitions.Code
				}
			}
		} else {
			st.NumPartitions = spec.Partitions
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func hubSpecFromCreate(rt kmsg.CreateTopicsRequestTopic) (broker.HubSpec, error) {
	spec := broker.HubSpec{Name: rt.Topic, Partitions: rt.NumPartitions}
	if spec.Partitions == -1 {
		spec.Partitions = broker.DefaultPartitions
	}
	if spec.Partitions < 1 || spec.Partitions > broker.MaxPartitions {
		return spec, errcode.New(errcode.InvalidArgument,
			"partition count %d is out of range; an event hub has 1 to %d partitions", spec.Partitions, broker.MaxPartitions)
	}
	if len(rt.ReplicaAssignment) > 0 {
		return spec, errcode.New(errcode.InvalidArgument, "manual replica assignment is not supported; give a partition count")
	}
	for _, cfg := range rt.Configs {
		if cfg.Value == nil {
			continue
		}
		if err := applyTopicConfig(&spec, cfg.Name, *cfg.Value); err != nil {
			return spec, err
		}
	}
	return spec, nil
}

// applyTopicConfig maps one Kafka topic config onto a hub spec.
func applyTopicConfig(spec *broker.HubSpec, name, value string) error {
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil && name != "cleanup.policy" && name != "message.timestamp.type" {
		return errcode.New(errcode.InvalidArgument, "config %s=%q is not a number", name, value)
	}
	switch name {
	case "retention.ms":
		spec.RetentionTime = time.Duration(n) * time.Millisecond
	case "retention.bytes":
		spec.RetentionBytes = n
	case "max.message.bytes":
		spec.MaxEventBytes = int32(n)
	case "cleanup.policy":
		if value != "delete" {
			return errcode.New(errcode.InvalidArgument, "cleanup.policy=%s is not supported; event hubs only delete by retention", value)
		}
	case "message.timestamp.type":
		if value != "LogAppendTime" {
			return errcode.New(errcode.InvalidArgument, "message.timestamp.type=%s is not supported; event hubs stamp the enqueued time (LogAppendTime)", value)
		}
	default:
		return errcode.New(errcode.InvalidArgument, "topic config %q is not supported; supported: retention.ms, retention.bytes, max.message.bytes", name)
	}
	return nil
}
