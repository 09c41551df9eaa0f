package broker

import (
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Where the HTTP API finds a partition's leader. A node serves a partition's data only as its
// confirmed leader; the HTTP API forwards other requests to the leader's HTTP endpoint, which
// every node records in the metadata (SetEndpoints).

// PartitionRoute says where partition requests are served.
type PartitionRoute struct {
	Local  bool   // this node serves it: its confirmed leader, or a single node
	Leader uint64 // otherwise the node that leads it (as raft here knows), 0 if none known
	HTTP   string // the leader's HTTP API base URL (http(s)://host:port), "" if not recorded
}

// InCluster reports whether the broker runs in cluster mode.
func (b *Broker) InCluster() bool { return b.cl != nil }

// NodeID is this node's member id in a cluster (0 on a single node).
func (b *Broker) NodeID() uint64 {
	if b.cl == nil {
		return 0
	}
	return b.cl.self
}

// PartitionLeaderEndpoint returns where partition id of h is served. A node that holds a
// replica names the leader its raft group knows; one that holds none names the partition's
// preferred leader (the first replica of its placement), which may have moved. With no
// leader known it fails with Unavailable; a leader with no recorded HTTP endpoint is returned
// with HTTP "".
func (b *Broker) PartitionLeaderEndpoint(h HubInfo, id int32) (PartitionRoute, error) {
	if b.cl == nil {
		return PartitionRoute{Local: true}, nil
	}
	r, g, err := b.localReplica(h, id)
	if err != nil {
		return PartitionRoute{}, err
	}
	var leader uint64
	if r != nil {
		if b.cl.node.Confirmed(g) {
			return PartitionRoute{Local: true}, nil
		}
		if st, err := b.cl.node.Status(g); err == nil {
			leader = st.Leader
		}
	} else {
		b.meta.View(func(s *meta.State) {
			if _, reps, err := s.HubPlacement(h.Namespace, h.Name); err == nil && int(id) < len(reps) && len(reps[id]) > 0 {
				leader = reps[id][0]
			}
		})
	}
	if leader == 0 {
		return PartitionRoute{}, errcode.New(errcode.Unavailable,
			"partition %d of %s/%s has no leader right now (an election may be in progress); retry shortly", id, h.Namespace, h.Name)
	}
	if leader == b.cl.self { // elected, not confirmed yet: the broker answers NotLeader
		return PartitionRoute{Local: true}, nil
	}
	out := PartitionRoute{Leader: leader}
	if e, ok := b.MemberEndpoints(leader); ok {
		out.HTTP = e.HTTP
	}
	return out, nil
}

// LedPartitions lists the partitions of h this node serves: every partition on a single
// node, the ones it is the confirmed leader of in a cluster.
func (b *Broker) LedPartitions(h HubInfo) []int32 {
	var out []int32
	for p := range h.Partitions {
		if b.cl == nil {
			out = append(out, p)
			continue
		}
		if r, g, err := b.localReplica(h, p); err == nil && r != nil && b.cl.node.Confirmed(g) {
			out = append(out, p)
		}
	}
	return out
}
