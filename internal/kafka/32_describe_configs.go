package kafka

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// DescribeConfigs: v0-4
//
// Topics describe their hub: retention.ms, retention.bytes, max.message.bytes,
// message.timestamp.type (always LogAppendTime: the enqueued time), cleanup.policy (delete)
// and segment.bytes. Brokers describe a few read-only values clients look for.

func init() { register(32, 0, 4) }

func (c *conn) handleDescribeConfigs(req *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var cfgs [][2]string
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if !c.principal.CanSee(rr.ResourceName) {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			h, err := c.s.opts.Broker.Hub(c.principal.Namespace, rr.ResourceName)
			if err != nil {
				sr.ErrorCode, sr.ErrorMessage = c.codeMsg(err)
				break
			}
			cfgs = topicConfigs(h)
		case kmsg.ConfigResourceTypeBroker:
			cfgs = [][2]string{{"message.max.bytes", strconv.Itoa(broker.DefaultMaxEventBytes)},
				{"auto.create.topics.enable", "false"}, {"num.partitions", strconv.Itoa(broker.DefaultPartitions)}}
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
		}
		for _, kv := range cfgs {
			if !wanted(rr.ConfigNames, kv[0]) {
				continue
			}
			rc := kmsg.NewDescribeConfigsResponseResourceConfig()
			rc.Name = kv[0]
			rc.Value = kmsg.StringPtr(kv[1])
			rc.ReadOnly = rr.ResourceType == kmsg.ConfigResourceTypeBroker
			rc.Source = kmsg.ConfigSourceDynamicTopicConfig
			sr.Configs = append(sr.Configs, rc)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

func topicConfigs(h broker.HubInfo) [][2]string {
	retention := int64(-1)
	if h.RetentionTime > 0 {
		retention = h.RetentionTime.Milliseconds()
	}
	retBytes := int64(-1)
	if h.RetentionBytes > 0 {
		retBytes = h.RetentionBytes
	}
	return [][2]string{
		{"retention.ms", strconv.FormatInt(retention, 10)},
		{"retention.bytes", strconv.FormatInt(retBytes, 10)},
		{"max.message.bytes", strconv.Itoa(int(h.MaxEventBytes))},
		{"message.timestamp.type", "LogAppendTime"},
		{"cleanup.policy", "delete"},
		{"segment.bytes", strconv.FormatInt(h.SegmentBytes, 10)},
	}
}

func wanted(names []string, name string) bool {
	if names == nil {
		return true
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
