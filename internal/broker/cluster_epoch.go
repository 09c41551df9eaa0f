package broker

import (
	"context"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Leader epochs on the read path (KIP-320). A node that led a partition and was cut off or
// paused still believes it leads until it hears a higher term (raft's CheckQuorum steps it
// down within an election timeout). Meanwhile it must not tell a consumer that an offset the
// new leader already served is "out of range": franz-go, like every Kafka client, then resets
// the consumer to auto.offset.reset (the start or the end), re-reading or skipping records.
// Two checks prevent it: the client's CurrentLeaderEpoch against this replica's, and a raft
// ReadIndex round before any "out of range past the end" answer.

// CheckLeaderEpoch compares the leader epoch a client believes current for partition id of
// ns/hub (Fetch and ListOffsets CurrentLeaderEpoch; -1: the client does not say) with this
// replica's: older is FencedLeaderEpoch, newer is UnknownLeaderEpoch (a newer leader exists
// and this node has not applied its term yet). On a single node it accepts any epoch.
func (b *Broker) CheckLeaderEpoch(ns, hub string, id int32, epoch int32) error {
	if b.cl == nil || epoch < 0 {
		return nil
	}
	h, err := b.Hub(ns, hub)
	if err != nil {
		return err
	}
	r, _, err := b.localReplica(h, id)
	if err != nil || r == nil {
		return err
	}
	switch cur := r.rp.LeaderEpoch(); {
	case epoch < cur:
		return errcode.New(errcode.FencedLeaderEpoch,
			"partition %d of %s/%s is at leader epoch %d, the request names %d; refresh metadata", id, ns, hub, cur, epoch)
	case epoch > cur:
		return errcode.New(errcode.UnknownLeaderEpoch,
			"the request names leader epoch %d of partition %d of %s/%s, newer than this node's %d: another node leads it now; refresh metadata", epoch, id, ns, hub, cur)
	}
	return nil
}

// confirmLeaderPast checks, before p answers that offset lies past its end, that this node
// still leads p's partition group (a raft ReadIndex round with a quorum) and has applied
// everything committed before the check; it returns a NotLeader error if it does not.
func (b *Broker) confirmLeaderPast(p *Partition, offset int64) error {
	h, err := b.Hub(p.Namespace, p.Hub)
	if err != nil {
		return err
	}
	_, g, err := b.localReplica(h, p.ID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := b.cl.node.Host().ReadIndex(ctx, g); err != nil || !b.cl.node.Confirmed(g) {
		return errcode.New(errcode.NotLeader,
			"offset %d is past the end of partition %d of %s/%s here, and this node could not confirm that it still leads the partition; refresh metadata and retry",
			offset, p.ID, p.Namespace, p.Hub)
	}
	return nil
}
