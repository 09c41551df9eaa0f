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

// DefaultReceiveBytes bounds the events one read returns when ReadLimits.MaxBytes is 0,
// counted after decompression (keys, bodies and properties).
const DefaultReceiveBytes = 16 << 20

// ReadLimits bound one read of events. The first event is always returned, whatever its
// size, so an event larger than MaxBytes can still be read, one per call.
type ReadLimits struct {
	Max      int // events; 0 means 100
	MaxBytes int // bytes of keys, bodies and properties after decompression; 0 means DefaultReceiveBytes
	// MemoryWait is how long a read waits for the node's decode memory (Options.DecodeMemory)
	// before it fails with Unavailable; 0 waits as long as the context lets it.
	MemoryWait time.Duration
}

// Receive reads up to max events (and DefaultReceiveBytes) of one partition from a position.
// When nothing is there it waits up to wait for an append. next is the offset to continue from.
func (b *Broker) Receive(ctx context.Context, ns, hub string, partition int32, from Position, max int, wait time.Duration) (events []ReceivedEvent, next int64, err error) {
	offset, err := b.Await(ctx, ns, hub, partition, from, wait)
	if err != nil {
		return nil, offset, err
	}
	next, err = b.ReadEach(ctx, ns, hub, partition, offset, ReadLimits{Max: max}, func(e ReceivedEvent) error {
		events = append(events, e)
		return nil
	})
	if err != nil {
		return nil, offset, err
	}
	return events, next, nil
}

// Await resolves from to an offset of one partition and waits up to wait until an event is
// there. It returns the offset either way; an expired wait is not an error.
func (b *Broker) Await(ctx context.Context, ns, hub string, partition int32, from Position, wait time.Duration) (int64, error) {
	p, err := b.Partition(ns, hub, partition)
	if err != nil {
		return 0, err
	}
	offset, err := resolvePosition(p, from)
	if err != nil || wait <= 0 {
		return offset, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		changed := p.Changed()
		if offset < p.EndOffset() {
			return offset, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return offset, nil
		case <-ctx.Done():
			return offset, ctx.Err()
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

// ReadEach decodes the events of one partition from offset and calls fn for each, in order,
// until lim is reached or the partition ends; an error from fn stops it. It returns the offset
// to continue from. Records are decoded (and decompressed) one at a time and each event is
// handed to fn before the next is decoded, so a caller that does not keep the events holds
// one event, and a read that stops at its limit decompresses no more than it returns. The
// zstd window or whole snappy batch a batch needs is reserved from the node's decode memory
// while the batch is decoded (see ReadLimits.MemoryWait).
func (b *Broker) ReadEach(ctx context.Context, ns, hub string, partition int32, offset int64, lim ReadLimits, fn func(ReceivedEvent) error) (int64, error) {
	return b.ReadRecords(ctx, ns, hub, partition, offset, lim, func(r batch.Record) error {
		return fn(receivedEvent(partition, r))
	})
}

// ReadRecords is ReadEach for front ends that map records themselves (AMQP): fn gets each
// record as stored, its Timestamp the enqueued time and its Offset the sequence number.
func (b *Broker) ReadRecords(ctx context.Context, ns, hub string, partition int32, offset int64, lim ReadLimits, fn func(batch.Record) error) (int64, error) {
	p, err := b.Partition(ns, hub, partition)
	if err != nil {
		return offset, err
	}
	if lim.Max <= 0 {
		lim.Max = 100
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultReceiveBytes
	}
	mem := readMemory{ctx: ctx, m: b.decodeMem, wait: lim.MemoryWait}
	n, used, next := 0, 0, offset
	for n < lim.Max && next < p.EndOffset() {
		raw, err := b.Read(nil, p, next, 1<<20)
		if err != nil {
			return next, err
		}
		if len(raw) == 0 {
			break
		}
		batches, err := batch.Split(raw)
		if err != nil {
			return next, errcode.New(errcode.Internal, "reading partition %d of %s/%s: %w", p.ID, p.Namespace, p.Hub, err)
		}
		for _, bb := range batches {
			full := false
			var fnErr error
			err := batch.EachRecordIn(bb, mem, func(r batch.Record) (bool, error) {
				if r.Offset < next {
					return true, nil
				}
				size := eventSize(r)
				if n >= lim.Max || (n > 0 && used+size > lim.MaxBytes) {
					full = true
					return false, nil
				}
				if fnErr = fn(r); fnErr != nil {
					return false, fnErr
				}
				n, used, next = n+1, used+size, r.Offset+1
				return true, nil
			})
			switch {
			case fnErr != nil:
				return next, fnErr
			case err != nil && n > 0 && errcode.CodeOf(err) == errcode.Unavailable:
				return next, nil // no decode memory for more: answer what was read
			case err != nil && (errcode.CodeOf(err) == errcode.Unavailable || ctx.Err() != nil):
				return next, err // no decode memory: the data is fine
			case err != nil:
				return next, errcode.New(errcode.Internal, "decoding partition %d of %s/%s: %w", p.ID, p.Namespace, p.Hub, err)
			case full:
				return next, nil
			}
			if h, err := batch.PeekHeader(bb); err == nil && h.NextOffset() > next {
				next = h.NextOffset()
			}
		}
	}
	return next, nil
}

// eventSize is what an event counts against ReadLimits.MaxBytes.
func eventSize(r batch.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

func receivedEvent(partition int32, r batch.Record) ReceivedEvent {
	ev := ReceivedEvent{Body: r.Value, PartitionKey: string(r.Key), Partition: partition,
		Offset: r.Offset, SequenceNumber: r.Offset, EnqueuedTime: time.UnixMilli(r.Timestamp).UTC()}
	if len(r.Headers) > 0 {
		ev.Properties = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			if h.Key == AMQPMessageHeader {
				continue // the AMQP front end's own copy of the message's sections
			}
			ev.Properties[h.Key] = string(h.Value)
		}
		if len(ev.Properties) == 0 {
			ev.Properties = nil
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
