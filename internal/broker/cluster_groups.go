package broker

import (
	"context"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/group"
)

// Consumer groups in a cluster. The confirmed metadata leader coordinates every group: its
// group.Manager holds the members, and offsets are metadata commands it proposes. Serving
// only once the leader is confirmed (it applied an entry of its own term) means every commit
// an earlier leader acknowledged is applied here first, so committed offsets never go back
// across a coordinator move. The groups of a spell of leadership are tagged with its raft
// term (group.WithEpoch); when the term changes or leadership is lost they are dropped, and
// members rejoin on the new coordinator, as they do when a Kafka coordinator moves.

// CoordinatorContext checks that this node coordinates consumer groups now and returns ctx
// tagged with the coordinator epoch for the group.Manager. On a single node it returns ctx
// unchanged. Elsewhere it fails with NotCoordinator (another node leads the metadata) or
// CoordinatorNotAvailable (no leader, or this node's leadership is not confirmed yet).
func (b *Broker) CoordinatorContext(ctx context.Context) (context.Context, error) {
	if b.cl == nil {
		return ctx, nil
	}
	b.groups.SetFence(b.coordinatorEpoch)
	st, err := b.cl.node.Status(cluster.MetaGroup)
	switch {
	case err != nil:
		return ctx, errcode.New(errcode.CoordinatorNotAvailable, "the metadata group is not running on this node (%v); find the coordinator again", err)
	case st.Confirmed:
		return group.WithEpoch(ctx, st.Term), nil
	case st.Leader == 0:
		return ctx, errcode.New(errcode.CoordinatorNotAvailable, "no node coordinates consumer groups right now (a metadata leader election is in progress); retry shortly")
	case st.Leader == b.cl.self:
		return ctx, errcode.New(errcode.CoordinatorNotAvailable, "this node was just elected metadata leader and is still applying the metadata log; retry shortly")
	}
	return ctx, errcode.New(errcode.NotCoordinator, "node %d coordinates consumer groups (it leads the region's metadata), not node %d; find the coordinator again", st.Leader, b.cl.self)
}

// coordinatorEpoch is the group.Manager's fence: the metadata term while this node is the
// confirmed metadata leader, else 0.
func (b *Broker) coordinatorEpoch() uint64 {
	st, err := b.cl.node.Status(cluster.MetaGroup)
	if err != nil || !st.Confirmed {
		return 0
	}
	return st.Term
}

// CoordinatorError turns the failure of a group's metadata write (an offset commit) into
// NotCoordinator or CoordinatorNotAvailable when this node stopped coordinating meanwhile, so
// Kafka clients find the coordinator again; other errors are returned unchanged.
func (b *Broker) CoordinatorError(err error) error {
	if b.cl == nil || !errcode.Is(err, errcode.Unavailable) {
		return err
	}
	if _, cerr := b.CoordinatorContext(context.Background()); cerr != nil {
		return errcode.New(errcode.CodeOf(cerr), "%v (the write failed: %w)", cerr, err)
	}
	return err
}

// FindCoordinator returns the node that coordinates consumer groups for a Kafka client: this
// node on a single node, the metadata leader in a cluster. While no leader is known it fails
// with CoordinatorNotAvailable.
func (b *Broker) FindCoordinator(p Principal, selfHost string, selfPort int32) (Node, error) {
	if b.cl == nil {
		return b.CoordinatorNode(p, selfHost, selfPort), nil
	}
	st, err := b.cl.node.Status(cluster.MetaGroup)
	if err != nil || st.Leader == 0 {
		return Node{}, errcode.New(errcode.CoordinatorNotAvailable, "no node coordinates consumer groups right now (a metadata leader election is in progress); retry shortly")
	}
	for _, n := range b.KafkaNodes(p, selfHost, selfPort) {
		if uint64(n.NodeID) == st.Leader {
			return n, nil
		}
	}
	return Node{}, errcode.New(errcode.CoordinatorNotAvailable, "node %d coordinates consumer groups but its Kafka address is not known here yet; retry shortly", st.Leader)
}
