package broker

import (
	"context"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Region-wide duties in a cluster: what exactly one node of the region does at a time. Geo-DR's
// alias checks and replication runners run on the confirmed metadata leader
// (IsMetadataLeader); a stream job runs on the node holding its lease in the metadata
// (meta.AcquireJobLease), and reads its inputs from this node's replicas (ReceiveLocal). On a
// single node every duty is this node's.

// IsMetadataLeader reports whether this node is the confirmed leader of the region's metadata
// group (it leads and has applied an entry of its term, so its state holds every acknowledged
// change). A single node always is.
func (b *Broker) IsMetadataLeader() bool {
	if b.cl == nil {
		return true
	}
	return b.cl.node.Confirmed(cluster.MetaGroup)
}

// ClusterNodeID returns this node's member id and true in cluster mode; 0 and false on a
// single node.
func (b *Broker) ClusterNodeID() (uint64, bool) {
	if b.cl == nil {
		return 0, false
	}
	return b.cl.self, true
}

// MetaIndex returns the index of the last metadata change applied on this node.
func (b *Broker) MetaIndex() uint64 { return b.meta.Index() }

// ProposeJob records a stream job change (meta.PutJob, DeleteJob, AcquireJobLease,
// ReleaseJobLease, SaveJobCheckpoint) in the region's metadata. view, when not nil, sees the
// state right after the change applied.
func (b *Broker) ProposeJob(ctx context.Context, c meta.Command, view func(*meta.State)) error {
	if !meta.IsJobCommand(c) {
		return errcode.New(errcode.Internal, "ProposeJob takes job commands only, not %T", c)
	}
	_, err := b.meta.ProposeView(ctx, c, view)
	return err
}

// ViewJobs calls fn with this node's applied metadata state under its read lock; fn reads the
// jobs (State.Jobs, State.Job) and must not keep the pointer.
func (b *Broker) ViewJobs(fn func(s *meta.State)) { b.meta.View(fn) }

// LocalPartition returns this node's replica of a partition: in cluster mode whether it leads
// the partition or follows (a follower holds the committed entries it has applied, possibly
// behind the leader); on a single node the partition itself.
func (b *Broker) LocalPartition(ns, hub string, id int32) (*Partition, error) {
	if b.cl == nil {
		return b.Partition(ns, hub, id)
	}
	h, err := b.Hub(ns, hub)
	if err != nil {
		return nil, err
	}
	if err := checkPartitionID(h, id); err != nil {
		return nil, err
	}
	r, _, err := b.localReplica(h, id)
	if err != nil {
		return nil, err
	}
	if r == nil || r.rp == nil {
		return nil, errcode.New(errcode.Unavailable,
			"node %d holds no replica of partition %d of %s/%s; a stream job reads its inputs from the replicas of the node it runs on",
			b.cl.self, id, ns, hub)
	}
	return r.rp.Partition(), nil
}

// ReceiveLocal reads up to max events from offset of this node's replica of a partition
// (LocalPartition) without waiting, and returns them with the offset to read next. On a single
// node it is Receive from that offset.
func (b *Broker) ReceiveLocal(ctx context.Context, ns, hub string, id int32, offset int64, max int) ([]ReceivedEvent, int64, error) {
	if b.cl == nil {
		return b.Receive(ctx, ns, hub, id, Position{Kind: FromOffset, Offset: offset}, max, 0)
	}
	p, err := b.LocalPartition(ns, hub, id)
	if err != nil {
		return nil, offset, err
	}
	if offset, err = resolvePosition(p, Position{Kind: FromOffset, Offset: offset}); err != nil {
		return nil, offset, err
	}
	mem := readMemory{ctx: ctx, m: b.decodeMem}
	var events []ReceivedEvent
	next := offset
	for len(events) < max && next < p.EndOffset() {
		raw, err := b.Read(nil, p, next, 1<<20)
		if err != nil {
			return events, next, err
		}
		if len(raw) == 0 {
			break
		}
		batches, err := batch.Split(raw)
		if err != nil {
			return events, next, errcode.New(errcode.Internal, "reading partition %d of %s/%s: %w", id, ns, hub, err)
		}
		full := false
		for _, bb := range batches {
			err := batch.EachRecordIn(bb, mem, func(r batch.Record) (bool, error) {
				if r.Offset < next {
					return true, nil
				}
				if len(events) >= max {
					full = true
					return false, nil
				}
				events = append(events, receivedEvent(id, r))
				next = r.Offset + 1
				return true, nil
			})
			if err != nil {
				if len(events) > 0 && errcode.CodeOf(err) == errcode.Unavailable {
					return events, next, nil // no decode memory for more: answer what was read
				}
				return events, next, err
			}
			if full {
				return events, next, nil
			}
			if h, err := batch.PeekHeader(bb); err == nil && h.NextOffset() > next {
				next = h.NextOffset()
			}
		}
	}
	return events, next, nil
}

// Closed reports whether Close has been called: work that retries through the broker (a job's
// checkpoint in the metadata) gives up rather than wait for a node that is going away.
func (b *Broker) Closed() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}
