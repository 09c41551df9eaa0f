package eventhubs

import (
	"context"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Receiver links: the client receives from "<hub>/ConsumerGroups/<group>/Partitions/<id>",
// starting where its selector filter says, as the owner (epoch) rules allow. Each Next reads
// what the partition holds from the link's position, at most the link credit and
// maxNextBytes, and otherwise waits for an append.

const (
	propEpoch        = "com.microsoft:epoch"
	propReceiverName = "com.microsoft:receiver-name"
	capRuntimeMetric = "com.microsoft:enable-receiver-runtime-metric"
	// maxNextEvents and maxNextBytes bound what one Next reads and holds (the engine sends
	// it, then asks again).
	maxNextEvents = 5000
	maxNextBytes  = 4 << 20
)

type receiverLink struct {
	c       *conn
	ns      string
	hub     string
	entity  string
	id      int32
	key     epochKey
	owner   *receiverEntry
	metrics bool // delivery annotations with the partition's last enqueued event
	next    int64
}

// receiverAddress splits <hub>/ConsumerGroups/<group>/Partitions/<id>.
func receiverAddress(addr string) (hub, group, partition string, ok bool) {
	s := strings.Split(addr, "/")
	if len(s) != 5 || !strings.EqualFold(s[1], "ConsumerGroups") || !strings.EqualFold(s[3], "Partitions") || s[0] == "" || s[2] == "" {
		return "", "", "", false
	}
	return s[0], s[2], s[4], true
}

// attachReceiver attaches a receiver for a connection holding Listen on the hub.
func (c *conn) attachReceiver(ctx context.Context, a *frames.Attach, addr string) (amqp.Outgoing, *frames.Error) {
	hubName, groupName, pid, ok := receiverAddress(addr)
	if !ok {
		return nil, errorf(condNotFound, "%q is not an address Tandem receives from: use <hub>/ConsumerGroups/<group>/Partitions/<id>", clip(addr))
	}
	ns, _, err := c.namespace()
	if err != nil {
		return nil, amqpError(err)
	}
	hub, herr := c.resolveHub(ns, hubName)
	if herr == nil {
		hubName = hub.Name
	}
	if _, err := c.authorize(addr, hubName, broker.RightListen); err != nil {
		return nil, amqpError(err)
	}
	if herr != nil {
		return nil, amqpError(herr)
	}
	group, found := "", false
	for _, g := range hub.ConsumerGroups {
		if strings.EqualFold(g, groupName) {
			group, found = g, true
			break
		}
	}
	if !found {
		return nil, errorf(condNotFound, "consumer group %q does not exist on event hub %s/%s (it has %s); create it with 'tandem group create %s/%s %s'",
			clip(groupName), ns, hub.Name, strings.Join(hub.ConsumerGroups, ", "), ns, hub.Name, clip(groupName))
	}
	id, err := partitionID(hub, pid)
	if err != nil {
		return nil, amqpError(err)
	}
	pos, err := ParseFilter(a.Source.Filter)
	if err != nil {
		return nil, errorf(condArgument, "%v", err)
	}
	p, err := c.h.b.Partition(ns, hub.Name, id)
	if err != nil {
		return nil, amqpError(err)
	}
	start, err := pos.Resolve(Bounds{Start: p.StartOffset(), End: p.EndOffset(), OffsetForTime: p.OffsetForTime})
	if err != nil {
		return nil, amqpError(err)
	}
	epoch, err := linkEpoch(a.Properties)
	if err != nil {
		return nil, errorf(condArgument, "%v", err)
	}
	name := a.Name
	if v, ok := a.Properties.Get(propReceiverName); ok {
		if s, isStr := v.(string); isStr && s != "" {
			name = s
		}
	}
	key := epochKey{ns: ns, hub: hub.Name, group: group, partition: id}
	owner, ferr := c.h.epochs.register(key, name, epoch)
	if ferr != nil && ferr.Condition == condStolen {
		// Refused by the owner rules: attach, then detach with amqp:link:stolen at the first
		// receive, as Event Hubs does. The SDKs report ownership lost only for a link that
		// detaches (go-amqp's *LinkError); a refused attach would be retried for a minute.
		return &refusedLink{err: ferr}, nil
	}
	if ferr != nil {
		return nil, ferr
	}
	return &receiverLink{c: c, ns: ns, hub: hub.Name, entity: addr, id: id, key: key, owner: owner,
		metrics: slices.Contains(a.DesiredCapabilities, codec.Symbol(capRuntimeMetric)), next: start}, nil
}

// linkEpoch reads com.microsoft:epoch (an AMQP long; other integer types are taken too).
func linkEpoch(props *codec.Map) (*int64, error) {
	v, ok := props.Get(propEpoch)
	if !ok || v == nil {
		return nil, nil
	}
	var e int64
	switch v := v.(type) {
	case int64:
		e = v
	case int32:
		e = int64(v)
	case int16:
		e = int64(v)
	case int8:
		e = int64(v)
	case uint32:
		e = int64(v)
	case uint16:
		e = int64(v)
	case uint8:
		e = int64(v)
	case uint64:
		if v > 1<<62 {
			return nil, errcode.New(errcode.InvalidArgument, "link property %s %d is too large", propEpoch, v)
		}
		e = int64(v)
	default:
		return nil, errcode.New(errcode.InvalidArgument, "link property %s is a %T; it must be a long", propEpoch, v)
	}
	return &e, nil
}

// Next returns the events from the link's position, waiting for one when there is none.
func (l *receiverLink) Next(ctx context.Context, max int) ([]amqp.Delivery, error) {
	max = min(max, maxNextEvents)
	for {
		select {
		case <-l.owner.Stolen():
			return nil, l.owner.Reason()
		default:
		}
		if _, err := l.c.authorize(l.entity, l.hub, broker.RightListen); err != nil {
			return nil, amqpError(err)
		}
		p, err := l.c.h.b.Partition(l.ns, l.hub, l.id)
		if err != nil {
			return nil, amqpError(err)
		}
		changed := p.Changed()
		start, end := p.StartOffset(), p.EndOffset()
		if l.next < start {
			l.next = start // retention removed what the receiver had not read yet
		}
		if l.next > end {
			return nil, errorf(condDetachForced, "partition %d of %s/%s ends at %d, before this receiver's position %d (the event hub was created again?); reopen the receiver", l.id, l.ns, l.hub, end, l.next)
		}
		if l.next < end {
			ds, err := l.read(ctx, p, max, end)
			if err != nil {
				return nil, amqpError(err)
			}
			if len(ds) > 0 {
				return ds, nil
			}
		}
		select {
		case <-changed:
		case <-l.owner.Stolen():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// read encodes up to max events from the link's position.
func (l *receiverLink) read(ctx context.Context, p *broker.Partition, max int, end int64) ([]amqp.Delivery, error) {
	var rt *runtimeInfo
	if l.metrics {
		rt = &runtimeInfo{lastSeq: end - 1, now: l.c.h.opts.Now().UTC()}
		if ms := p.LastEnqueuedTime(); ms >= 0 {
			rt.lastTime = timeMillis(ms)
		}
	}
	var ds []amqp.Delivery
	next, err := l.c.h.b.ReadRecords(ctx, l.ns, l.hub, l.id, l.next, broker.ReadLimits{Max: max, MaxBytes: maxNextBytes}, func(r batch.Record) error {
		msg, err := appendDelivery(nil, r, rt)
		if err != nil {
			return errcode.New(errcode.Internal, "encoding event %d of partition %d of %s/%s: %w", r.Offset, l.id, l.ns, l.hub, err)
		}
		ds = append(ds, amqp.Delivery{Message: msg})
		return nil
	})
	if err != nil && len(ds) == 0 {
		return nil, err
	}
	l.next = next
	return ds, nil
}

// Close releases the link's place among the partition's receivers.
func (l *receiverLink) Close() { l.c.h.epochs.unregister(l.key, l.owner) }

// refusedLink is a receiver the owner rules refused: its first Next detaches it.
type refusedLink struct{ err *frames.Error }

func (l *refusedLink) Next(context.Context, int) ([]amqp.Delivery, error) { return nil, l.err }
func (l *refusedLink) Close()                                             {}
