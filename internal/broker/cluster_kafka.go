package broker

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// isrLag is how many raft entries a voter's log may trail the commit index and still count
// as in sync.
const isrLag = 1000

// PartitionLeadership is what Kafka Metadata reports for one partition.
type PartitionLeadership struct {
	Leader      int32 // -1: none known here
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
}

// Leadership reports partition id of h: on a single node, this node (selfID) leads every
// partition at epoch 0; in a cluster, the leader raft knows, the placement's replicas, the
// voters whose log is close to the commit (on the leader; elsewhere the replica list) and
// the leader epoch applied here.
func (b *Broker) Leadership(h HubInfo, id int32, selfID int32) (PartitionLeadership, error) {
	if b.cl == nil {
		return PartitionLeadership{Leader: selfID, Replicas: []int32{selfID}, ISR: []int32{selfID}}, nil
	}
	out := PartitionLeadership{Leader: -1}
	r, g, err := b.localReplica(h, id)
	if err != nil {
		return out, err
	}
	if r == nil {
		return out, errcode.New(errcode.NotLeader, "this node holds no replica of partition %d of %s/%s; ask another node", id, h.Namespace, h.Name)
	}
	peers := r.peers
	for _, p := range peers {
		out.Replicas = append(out.Replicas, int32(p))
	}
	st, err := b.cl.node.Status(g)
	if err != nil || st.Leader == 0 {
		out.ISR = out.Replicas
		return out, errcode.New(errcode.NotLeader, "partition %d of %s/%s has no leader right now", id, h.Namespace, h.Name)
	}
	out.Leader = int32(st.Leader)
	out.LeaderEpoch = r.rp.LeaderEpoch()
	if st.Progress == nil {
		out.ISR = out.Replicas
		return out, nil
	}
	for _, p := range peers {
		if pr, ok := st.Progress[p]; ok && pr.Match+isrLag >= st.Commit {
			out.ISR = append(out.ISR, int32(p))
		}
	}
	return out, nil
}

// clusterKafkaNodes lists every member with a Kafka address, with its zone as rack: the
// addresses members recorded in the metadata (SetMemberEndpoints), on the listener kind
// (plaintext or TLS) the client came in on, else the address in the member's configuration.
func (b *Broker) clusterKafkaNodes(selfPort int32) []Node {
	var recorded []meta.Member
	b.meta.View(func(s *meta.State) { recorded = s.Members() })
	tls := false
	for _, m := range recorded {
		if m.ID == b.cl.self && m.Endpoints != nil && m.Endpoints.KafkaTLS != "" {
			_, port, _ := net.SplitHostPort(m.Endpoints.KafkaTLS)
			tls = port == strconv.Itoa(int(selfPort))
		}
	}
	var out []Node
	for _, m := range b.cl.node.Config().Nodes {
		addr := m.KafkaAddr
		for _, r := range recorded {
			if r.ID == m.ID && r.Endpoints != nil {
				addr = r.Endpoints.Kafka
				if tls {
					addr = r.Endpoints.KafkaTLS
				}
			}
		}
		if n, ok := kafkaNode(int32(m.ID), addr, m.Zone); ok {
			out = append(out, n)
		}
	}
	return out
}

// PeerNodes are this cluster's Kafka brokers as a partner region records them for alias
// clients (meta.Peer.Nodes): every member with the Kafka listener it recorded in the metadata,
// the SASL_SSL one when it has one (the listener geo-DR advertises on a single node too).
// Members that recorded none yet are left out; nil on a single node.
func (b *Broker) PeerNodes() []meta.PeerNode {
	if b.cl == nil {
		return nil
	}
	var recorded []meta.Member
	b.meta.View(func(s *meta.State) { recorded = s.Members() })
	var out []meta.PeerNode
	for _, m := range b.cl.node.Config().Nodes {
		for _, r := range recorded {
			if r.ID != m.ID || r.Endpoints == nil {
				continue
			}
			addr := r.Endpoints.KafkaTLS
			if addr == "" {
				addr = r.Endpoints.Kafka
			}
			if addr != "" {
				out = append(out, meta.PeerNode{ID: int32(m.ID), Kafka: addr, Zone: m.Zone, AMQP: r.Endpoints.AMQP})
			}
		}
	}
	return out
}

// SetEndpoints tells the broker where clients reach this node; in a cluster, the node records
// them in the metadata (and again whenever they differ from what is recorded) so that every
// node lists them. On a single node it does nothing. An empty e.AMQP is Options.AMQPAddr.
func (b *Broker) SetEndpoints(e meta.Endpoints) {
	if b.cl == nil {
		return
	}
	if e.AMQP == "" {
		e.AMQP = b.opts.AMQPAddr
	}
	b.cl.mu.Lock()
	b.cl.endpoints = &e
	b.cl.mu.Unlock()
}

// MemberEndpoints returns the endpoints node id recorded in the metadata.
func (b *Broker) MemberEndpoints(id uint64) (meta.Endpoints, bool) {
	var e meta.Endpoints
	var ok bool
	b.meta.View(func(s *meta.State) { e, ok = s.MemberEndpoints(id) })
	return e, ok
}

// recordEndpoints proposes this node's endpoints when the metadata records other ones.
func (b *Broker) recordEndpoints(ctx context.Context) {
	b.cl.mu.Lock()
	want := b.cl.endpoints
	b.cl.mu.Unlock()
	if want == nil {
		return
	}
	if got, ok := b.MemberEndpoints(b.cl.self); ok && got == *want {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.meta.Propose(ctx, meta.SetMemberEndpoints{ID: b.cl.self, Endpoints: *want}); err != nil {
		b.log.Debug("recording this node's endpoints in the metadata (retried)", "err", err)
	}
}

// CoordinatorNode is the node that coordinates consumer groups: this node on a single node,
// the metadata leader in a cluster (offsets are metadata commands), or this node while no
// leader is known.
func (b *Broker) CoordinatorNode(p Principal, selfHost string, selfPort int32) Node {
	nodes := b.KafkaNodes(p, selfHost, selfPort)
	if b.cl == nil || len(nodes) == 0 {
		return nodes[0]
	}
	want := b.cl.self
	if st, err := b.cl.node.Status(cluster.MetaGroup); err == nil && st.Leader != 0 {
		want = st.Leader
	}
	for _, n := range nodes {
		if uint64(n.NodeID) == want {
			return n
		}
	}
	return nodes[0]
}
