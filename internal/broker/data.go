package broker

import (
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// roundRobin spreads keyless, partition-less HTTP sends over partitions.
var roundRobin atomic.Uint32

// Send appends events to a hub over the HTTP path and returns once they are durable.
// Routing: SendOptions.PartitionID if set, else the event's partition key hashed as Kafka's
// default partitioner does (murmur2), else round-robin. Events of one call that go to the
// same partition are written as one batch, in order.
func (b *Broker) Send(ctx context.Context, ns, hub string, events []Event, opts SendOptions) ([]SendResult, error) {
	h, err := b.writableHub(ns, hub)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, errcode.New(errcode.InvalidArgument, "no events to send")
	}
	// Every event is checked before any is written, so a send is refused whole.
	recs := make([]batch.Record, len(events))
	for i, ev := range events {
		recs[i] = eventRecord(ev)
		if n := batch.RecordSize(recs[i]); n > int(h.MaxEventBytes) {
			return nil, errcode.New(errcode.MessageTooLarge,
				"event %d is %d bytes with its partition key and properties, more than the maximum event size of event hub %s/%s (%d bytes); send smaller events or fewer properties, or raise the hub's max event size",
				i, n, ns, hub, h.MaxEventBytes)
		}
	}
	byPart := map[int32][]int{}
	rr := int32(roundRobin.Add(1) % uint32(h.Partitions))
	for i, ev := range events {
		var p int32
		switch {
		case opts.PartitionID != nil:
			p = *opts.PartitionID
		case ev.PartitionKey != "":
			p = KeyPartition([]byte(ev.PartitionKey), h.Partitions)
		default:
			p = rr
		}
		byPart[p] = append(byPart[p], i)
	}
	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	out := make([]SendResult, len(events))
	for _, pid := range parts {
		idx := byPart[pid]
		part := make([]batch.Record, len(idx))
		for j, i := range idx {
			part[j] = recs[i]
		}
		raw := batch.Build(part, batch.BuildOptions{ProducerID: -1, Timestamp: b.opts.Now().UnixMilli()})
		res, p, err := b.Append(ns, hub, pid, raw)
		if err != nil {
			return nil, err
		}
		if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
			return nil, err
		}
		for j, i := range idx {
			off := res.BaseOffset + int64(j)
			out[i] = SendResult{Partition: pid, Offset: off, SequenceNumber: off, EnqueuedTime: time.UnixMilli(res.AppendTime).UTC()}
		}
	}
	return out, nil
}

func eventRecord(ev Event) batch.Record {
	r := batch.Record{Value: ev.Body}
	if ev.PartitionKey != "" {
		r.Key = []byte(ev.PartitionKey)
	}
	keys := make([]string, 0, len(ev.Properties))
	for k := range ev.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Headers = append(r.Headers, batch.RecordHeader{Key: k, Value: []byte(ev.Properties[k])})
	}
	return r
}

// Receive reads up to max events of one partition from a position. When nothing is there
// it waits up to wait for an append. next is the offset to continue from.
func (b *Broker) Receive(ctx context.Context, ns, hub string, partition int32, from Position, max int, wait time.Duration) (events []ReceivedEvent, next int64, err error) {
	p, err := b.Partition(ns, hub, partition)
	if err != nil {
		return nil, 0, err
	}
	offset, err := resolvePosition(p, from)
	if err != nil {
		return nil, 0, err
	}
	if max <= 0 {
		max = 100
	}
	var timer *time.Timer
	for {
		changed := p.Changed()
		events, next, err = b.readEvents(p, offset, max)
		if err != nil || len(events) > 0 || wait <= 0 {
			return events, next, err
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, offset, nil
		case <-ctx.Done():
			return nil, offset, ctx.Err()
		}
	}
}

func resolvePosition(p *Partition, from Position) (int64, error) {
	switch from.Kind {
	case FromStart:
		return p.StartOffset(), nil
	case FromEnd:
		return p.EndOffset(), nil
	case FromEnqueuedTime:
		return p.OffsetForTime(from.Time.UnixMilli())
	default:
		if err := p.checkOffset(from.Offset); err != nil {
			return 0, err
		}
		return from.Offset, nil
	}
}

func (b *Broker) readEvents(p *Partition, offset int64, max int) ([]ReceivedEvent, int64, error) {
	var out []ReceivedEvent
	next := offset
	for len(out) < max && next < p.EndOffset() {
		raw, err := b.Read(nil, p, next, 1<<20)
		if err != nil {
			return nil, offset, err
		}
		if len(raw) == 0 {
			break
		}
		batches, err := batch.Split(raw)
		if err != nil {
			return nil, offset, errcode.New(errcode.Internal, "reading partition %d of %s/%s: %w", p.ID, p.Namespace, p.Hub, err)
		}
		for _, bb := range batches {
			recs, err := batch.Records(bb)
			if err != nil {
				return nil, offset, errcode.New(errcode.Internal, "decoding partition %d of %s/%s: %w", p.ID, p.Namespace, p.Hub, err)
			}
			for _, r := range recs {
				if r.Offset < next || len(out) >= max {
					continue
				}
				out = append(out, receivedEvent(p.ID, r))
				next = r.Offset + 1
			}
			if h, err := batch.PeekHeader(bb); err == nil && h.NextOffset() > next && len(out) < max {
				next = h.NextOffset()
			}
		}
	}
	return out, next, nil
}

func receivedEvent(partition int32, r batch.Record) ReceivedEvent {
	ev := ReceivedEvent{Body: r.Value, PartitionKey: string(r.Key), Partition: partition,
		Offset: r.Offset, SequenceNumber: r.Offset, EnqueuedTime: time.UnixMilli(r.Timestamp).UTC()}
	if len(r.Headers) > 0 {
		ev.Properties = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			ev.Properties[h.Key] = string(h.Value)
		}
	}
	return ev
}

// KeyPartition maps a partition key to a partition as Kafka's default partitioner does:
// murmur2(key) made positive, modulo the partition count.
func KeyPartition(key []byte, partitions int32) int32 {
	return int32((murmur2(key) & 0x7fffffff) % uint32(partitions))
}

// murmur2 is Kafka's murmur2 hash (seed 0x9747b28c).
func murmur2(data []byte) uint32 {
	const m, r = 0x5bd1e995, 24
	length := len(data)
	h := uint32(0x9747b28c) ^ uint32(length)
	for ; len(data) >= 4; data = data[4:] {
		k := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16 | uint32(data[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
