package eventhubs

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/amqp/message"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// $management: READ of an event hub's or a partition's runtime information, which the SDKs'
// GetEventHubProperties and GetPartitionProperties send:
//
//	request:  application-properties operation="READ", type="com.microsoft:eventhub" or
//	          "com.microsoft:partition", name=<hub>, [partition=<id>], [security_token]
//	reply:    body amqp-value map; the value types are what the SDKs decode (Go fails on a list
//	          where an array of strings is expected, on a missing georeplication_factor, …)
//
// A request is authorized by a claim covering <hub>/$management (or the hub), or by its own
// security_token; any of Send, Listen or Manage on the hub will do.

const (
	typeEventHub  = "com.microsoft:eventhub"
	typePartition = "com.microsoft:partition"
)

// managementLink is the client's sending link to $management.
type managementLink struct{ c *conn }

func (l *managementLink) MaxMessageSize() uint64 { return requestMaxBytes }
func (l *managementLink) Close()                 {}

func (l *managementLink) Message(ctx context.Context, format uint32, msg []byte) (frames.DeliveryState, []amqp.Reply) {
	m, err := message.Parse(msg)
	if err != nil {
		return &frames.Rejected{Error: errorf(condDecodeError, "the $management request is not an AMQP message: %v", err)}, nil
	}
	body, err := l.c.read(m)
	if err != nil {
		status, cond := managementStatus(err)
		return replyTo(m, status, err.Error(), &cond, nil)
	}
	return replyTo(m, 200, "OK", nil, body)
}

// managementStatus is the status code and error condition of a failed request.
func managementStatus(err error) (int32, codec.Symbol) {
	fe := amqpError(err)
	switch fe.Condition {
	case condNotFound, condArgumentOutRange:
		// 404, not 400, for a bad partition too: the Go SDK treats RPC statuses other than 401
		// and 404 as retriable and would retry a request that cannot succeed for ~45 s.
		return 404, fe.Condition
	case condUnauthorized:
		return 401, fe.Condition
	case condServerBusy:
		return 503, fe.Condition
	case condInternal:
		return 500, fe.Condition
	}
	return 400, fe.Condition
}

// read answers a READ request.
func (c *conn) read(m *message.Message) (*codec.Map, error) {
	op := appString(m, "operation")
	if op != "READ" {
		return nil, &frames.Error{Condition: condNotImplemented,
			Description: "$management supports operation READ (of com.microsoft:eventhub or com.microsoft:partition), not " + strconv.Quote(clip(op))}
	}
	ns, name, err := c.namespace()
	if err != nil {
		return nil, err
	}
	hubName := appString(m, "name")
	if hubName == "" {
		return nil, errcode.New(errcode.InvalidArgument, "the READ request needs the event hub in application property name")
	}
	hub, herr := c.resolveHub(ns, hubName)
	if herr == nil {
		hubName = hub.Name
	}
	if err := c.authorizeManagement(name, hubName, appString(m, "security_token")); err != nil {
		return nil, err
	}
	if herr != nil {
		return nil, herr
	}
	switch typ := appString(m, "type"); typ {
	case typeEventHub:
		return hubProperties(hub), nil
	case typePartition:
		id, err := partitionID(hub, appString(m, "partition"))
		if err != nil {
			return nil, err
		}
		p, err := c.h.b.Partition(ns, hub.Name, id)
		if err != nil {
			return nil, err
		}
		return partitionProperties(hub.Name, id, p.StartOffset(), p.EndOffset(), p.LastEnqueuedTime()), nil
	default:
		return nil, &frames.Error{Condition: condNotImplemented,
			Description: "$management READ supports type com.microsoft:eventhub or com.microsoft:partition, not " + strconv.Quote(clip(typ))}
	}
}

// authorizeManagement accepts a claim of the connection or the request's own token.
func (c *conn) authorizeManagement(name, hub, token string) error {
	entity := hub + "/$management"
	var err error
	for _, r := range []broker.Right{broker.RightListen, broker.RightSend, broker.RightManage} {
		if _, err = c.authorize(entity, hub, r); err == nil {
			return nil
		}
	}
	if token == "" {
		return err
	}
	p, terr := c.h.b.AuthenticateToken(name, entity, token)
	if terr != nil {
		return terr
	}
	if !p.Can(broker.RightListen, hub) && !p.Can(broker.RightSend, hub) {
		return errcode.New(errcode.Forbidden, "rule %q grants no right on event hub %s", p.KeyName, hub)
	}
	return c.h.b.Recheck(&p, c.remote)
}

// partitionID parses a partition id of hub: a decimal number below its partition count.
func partitionID(hub broker.HubInfo, s string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil || n < 0 || n >= int64(hub.Partitions) {
		return 0, &frames.Error{Condition: condArgumentOutRange, Description: "The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and " +
			strconv.Itoa(int(hub.Partitions)-1) + " (event hub " + hub.Namespace + "/" + hub.Name + " has " + strconv.Itoa(int(hub.Partitions)) + " partitions), not " + strconv.Quote(clip(s))}
	}
	return int32(n), nil
}

// hubProperties is the READ com.microsoft:eventhub answer.
func hubProperties(h broker.HubInfo) *codec.Map {
	ids := make([]string, h.Partitions)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	m := &codec.Map{}
	m.Set("name", h.Name)
	m.Set("created_at", h.CreatedAt.UTC())
	m.Set("partition_count", h.Partitions)
	m.Set("partition_ids", ids) // an array of strings, not a list
	m.Set("georeplication_factor", int32(1))
	return m
}

// partitionProperties is the READ com.microsoft:partition answer for a partition holding
// offsets [start, end) whose last batch was enqueued at lastMs (-1 when empty). A partition
// never written answers -1, -1, "-1" and the epoch, as Event Hubs does.
func partitionProperties(hub string, id int32, start, end, lastMs int64) *codec.Map {
	m := &codec.Map{}
	m.Set("name", hub)
	m.Set("partition", strconv.Itoa(int(id)))
	begin, last := start, end-1
	if end == 0 {
		begin = -1
	}
	lastTime := time.Unix(0, 0).UTC()
	if lastMs >= 0 {
		lastTime = time.UnixMilli(lastMs).UTC()
	}
	m.Set("begin_sequence_number", begin)
	m.Set("last_enqueued_sequence_number", last)
	m.Set("last_enqueued_offset", strconv.FormatInt(last, 10))
	m.Set("last_enqueued_time_utc", lastTime)
	m.Set("is_partition_empty", start == end)
	return m
}
