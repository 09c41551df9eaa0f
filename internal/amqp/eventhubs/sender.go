package eventhubs

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/amqp/message"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Sender links: the client sends events to "<hub>" (Event Hubs picks the partition: the
// partition key's lookup3 hash, else round-robin) or to "<hub>/Partitions/<id>". A message
// is one event, or, with message-format 0x80013700, a batch envelope whose data sections are
// each one encoded event; the envelope's x-opt-partition-key applies to every inner event.
// Each message is appended through the broker (one batch per partition) and accepted only
// once durable; errors reject it with the condition the SDKs act on.

type senderLink struct {
	c         *conn
	ns        string
	hub       broker.HubInfo
	entity    string
	partition int32 // -1: the hub routes
}

// attachSender attaches a sender to addr, which must name a hub or a partition of one, for
// a connection holding Send on the hub.
func (c *conn) attachSender(ctx context.Context, a *frames.Attach, addr string) (amqp.Incoming, *frames.Error) {
	hubName, rest, _ := strings.Cut(addr, "/")
	ns, _, err := c.namespace()
	if err != nil {
		return nil, amqpError(err)
	}
	hub, herr := c.resolveHub(ns, hubName)
	if herr == nil {
		hubName = hub.Name // rights of hub-scoped rules name the hub as stored
	}
	if _, err := c.authorize(addr, hubName, broker.RightSend); err != nil {
		return nil, amqpError(err)
	}
	if herr != nil {
		return nil, amqpError(herr)
	}
	l := &senderLink{c: c, ns: ns, hub: hub, entity: addr, partition: -1}
	if rest != "" {
		seg, id, ok := strings.Cut(rest, "/")
		if !ok || !strings.EqualFold(seg, "Partitions") || strings.Contains(id, "/") {
			return nil, errorf(condNotFound, "%q is not an address Tandem sends to: use <hub> or <hub>/Partitions/<id>", clip(addr))
		}
		p, err := partitionID(hub, id)
		if err != nil {
			return nil, amqpError(err)
		}
		l.partition = p
	}
	return l, nil
}

// MaxMessageSize is the hub's max event size: a batch envelope counts whole, as Event Hubs'
// 1 MB publication limit does, so every event the SDKs fit into a batch is within it.
func (l *senderLink) MaxMessageSize() uint64 { return uint64(l.hub.MaxEventBytes) }

func (l *senderLink) Close() {}

// Message appends one event or one batch of them.
func (l *senderLink) Message(ctx context.Context, format uint32, msg []byte) (frames.DeliveryState, []amqp.Reply) {
	if err := l.send(ctx, format, msg); err != nil {
		if fe := amqpError(err); fe.Condition != condMessageSize && fe.Condition != condArgument {
			l.c.h.log.Info("send refused", "remote", l.c.remote, "entity", l.ns+"/"+l.entity, "err", err)
		}
		return &frames.Rejected{Error: amqpError(err)}, nil
	}
	return &frames.Accepted{}, nil
}

func (l *senderLink) send(ctx context.Context, format uint32, msg []byte) error {
	if _, err := l.c.authorize(l.entity, l.hub.Name, broker.RightSend); err != nil {
		return err
	}
	events, err := unpackEvents(format, msg)
	if err != nil {
		return err
	}
	byPart := map[int32][]batch.Record{}
	rr := int32(-1)
	for _, ev := range events {
		p := l.partition
		switch {
		case p >= 0:
		case ev.key != "":
			p = KeyPartition(ev.key, l.hub.Partitions)
		default:
			if rr < 0 { // one partition for a whole keyless batch, as Event Hubs does
				rr = int32(l.c.h.rr.Add(1) % uint32(l.hub.Partitions))
			}
			p = rr
		}
		byPart[p] = append(byPart[p], eventRecord(ev.m, ev.key))
	}
	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		if _, err := l.c.h.b.AppendRecords(ctx, l.ns, l.hub.Name, p, byPart[p]); err != nil {
			return err
		}
	}
	return nil
}

// event is one event of a transfer and its partition key.
type event struct {
	m   *message.Message
	key string
}

// unpackEvents returns the events of a message: itself, or for the batch format the message
// in each data section of the envelope.
func unpackEvents(format uint32, msg []byte) ([]event, error) {
	m, err := message.Parse(msg)
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "the message is not an AMQP message: %v", err)
	}
	key, err := partitionKey(m)
	if err != nil {
		return nil, err
	}
	if format != message.BatchFormat {
		return []event{{m: m, key: key}}, nil
	}
	if len(m.Data) == 0 || m.HasValue {
		return nil, errcode.New(errcode.InvalidArgument, "the batch (message format 0x80013700) has no events: its body must be one data section per encoded event")
	}
	out := make([]event, 0, len(m.Data))
	for i, d := range m.Data {
		inner, err := message.Parse(d)
		if err != nil {
			return nil, errcode.New(errcode.InvalidArgument, "event %d of the batch is not an AMQP message: %v", i, err)
		}
		k, err := partitionKey(inner)
		if err != nil {
			return nil, err
		}
		out = append(out, event{m: inner, key: firstNonEmpty(k, key)})
	}
	return out, nil
}

// partitionKey is a message's x-opt-partition-key annotation ("" when absent).
func partitionKey(m *message.Message) (string, error) {
	v, ok := m.MessageAnnotations.Get(annPartitionKey)
	if !ok || v == nil {
		return "", nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", errcode.New(errcode.InvalidArgument, "annotation x-opt-partition-key is a %s; it must be a string", fmt.Sprintf("%T", v))
	}
	return s, nil
}
