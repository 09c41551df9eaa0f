package broker

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// AMQP in a cluster. AMQP clients stay on the node they connected to (the Event Hubs SDKs
// have no redirect), so a node serves every partition it holds a replica of, whoever leads it:
//
//   - an append on a node that does not lead the partition is proposed through the
//     partition's raft group from this node (multiraft.ProposeForward: raft forwards the
//     entry to the leader, one hop over the authenticated raft transport) and answered when
//     this node applies it, i.e. once a majority has it in its fsynced WAL, as the leader's
//     own appends are; the entry's result (its offsets) is computed at apply identically on
//     every replica, so the proposer learns it from its own apply;
//   - reads come from the local replica, which holds only committed (applied) entries: a
//     follower may be behind the leader, never ahead of the commit, as Kafka's
//     fetch-from-follower.
//
// A node that holds no replica of the partition (a cluster larger than the replication
// factor) answers NotLeader, as before.

// amqpAppendWait bounds how long an AMQP append retries through an election (no leader
// known, leadership lost while waiting) when its ctx has no earlier deadline.
const amqpAppendWait = 30 * time.Second

// amqpRetryPause is the pause before an append is proposed again after a leader change.
const amqpRetryPause = 50 * time.Millisecond

// forwardProposer proposes from any replica of a group (GroupProposer over ProposeForward).
type forwardProposer struct{ h *multiraft.Host }

func (f forwardProposer) Propose(ctx context.Context, group uint64, data []byte) (uint64, error) {
	return f.h.ProposeForward(ctx, group, data)
}

// appendAnyReplica appends one built batch of events to partition id of h from this node,
// which must hold a replica, leader or not. A leader change while the batch is in flight
// (outcome unknown) makes it propose the batch again: at least once, as a Kafka producer
// without idempotence retrying. It returns once the batch is applied here.
func (b *Broker) appendAnyReplica(ctx context.Context, h HubInfo, id int32, raw []byte, events int) (AppendResult, *Partition, error) {
	ctx, cancel := context.WithTimeout(ctx, amqpAppendWait)
	defer cancel()
	prop := forwardProposer{b.cl.node.Host()}
	var last error
	for {
		r, g, err := b.localReplica(h, id)
		if err != nil {
			return AppendResult{}, nil, err
		}
		if r == nil {
			last = b.replicaMissing(h, id, g)
			if !b.placedHere(h, id) { // a cluster larger than the replicas: nothing to wait for
				return AppendResult{}, nil, last
			}
			// Placed here, the replica not started yet (a hub just created): wait for it.
		} else {
			res, err := r.rp.Append(ctx, prop, g, raw, b.opts.Now(), int(h.MaxEventBytes))
			if err == nil {
				b.metrics.inEvents.WithLabelValues(h.Namespace, h.Name).Add(float64(events))
				b.metrics.inBytes.WithLabelValues(h.Namespace, h.Name).Add(float64(len(raw)))
				return res, r.rp.Partition(), nil
			}
			var ec *errcode.Error
			if errors.As(err, &ec) { // refused by validation or at apply: final
				return AppendResult{}, nil, err
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return AppendResult{}, nil, errcode.New(errcode.Unavailable,
				"partition %d of %s/%s did not take the events within %s (an election may be in progress, or no quorum is reachable from this node): %v; retry", id, h.Namespace, h.Name, amqpAppendWait, last)
		case <-time.After(amqpRetryPause):
		}
	}
}

// replicaMissing is the error for a partition this node holds no replica of.
func (b *Broker) replicaMissing(h HubInfo, id int32, g uint64) error {
	leader := uint64(0)
	if st, err := b.cl.node.Status(g); err == nil {
		leader = st.Leader
	}
	return notLeader(h, id, leader)
}

// placedHere reports whether the placement of partition id of h names this node.
func (b *Broker) placedHere(h HubInfo, id int32) bool {
	here := false
	b.meta.View(func(s *meta.State) {
		if _, reps, err := s.HubPlacement(h.Namespace, h.Name); err == nil && int(id) < len(reps) {
			here = slices.Contains(reps[id], b.cl.self)
		}
	})
	return here
}

// PartitionWritable reports whether an append to partition id of h can be taken now from this
// node: always on a single node; in a cluster when this node holds a replica whose group
// knows a leader (an election in progress, or a partition cut off from a quorum, says no).
// Sends that let the service choose a partition (AMQP round-robin) skip the partitions it
// says no for, as Event Hubs routes around an unavailable partition.
func (b *Broker) PartitionWritable(h HubInfo, id int32) bool {
	if b.cl == nil {
		return true
	}
	r, g, err := b.localReplica(h, id)
	if err != nil || r == nil {
		return false
	}
	st, err := b.cl.node.Status(g)
	return err == nil && st.Leader != 0
}
