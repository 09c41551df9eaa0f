package broker

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/meta"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// What an operator sees of a region: GET /cluster and `tandem cluster status`. A node only
// sees the raft state of the groups it holds, and the replication progress of the groups it
// leads, so ClusterStatus is one node's view (Partitions.Scope "node") and MergeClusterStatus
// combines the views of every node into the region's (Scope "region"); the HTTP handler asks
// the other nodes for theirs.

// Scopes of PartitionHealth.
const (
	ScopeNode    = "node"    // what the answering node knows: the groups it holds
	ScopeRegion  = "region"  // every node's view merged (or a single node, which is the region)
	ScopePartial = "partial" // merged, but some nodes did not answer
)

// ReachableFromLeader is ClusterStatus.ReachableSource when nodes[].reachable comes from the
// metadata leader's raft progress (RecentActive: the follower answered within the last
// election timeout).
const ReachableFromLeader = "metadataLeaderProgress"

// ClusterStatus is a region's state as one node (or the merge of every node's view) sees it.
// Its JSON is the body of GET /cluster.
type ClusterStatus struct {
	Region         string `json:"region"`
	NodeID         uint64 `json:"nodeId"`
	Clustered      bool   `json:"clustered"`      // false: a single node, no raft
	MetadataLeader uint64 `json:"metadataLeader"` // 0: none known
	// ReachableSource says where nodes[].reachable comes from; "" when nobody knows (no view
	// of the metadata leader).
	ReachableSource string              `json:"reachableSource,omitempty"`
	Nodes           []ClusterNodeStatus `json:"nodes"`
	Partitions      PartitionHealth     `json:"partitions"`
	Metadata        MetadataRaft        `json:"metadata"`
}

// ClusterNodeStatus is one member of the region.
type ClusterNodeStatus struct {
	ID          uint64 `json:"id"`
	Name        string `json:"name"`
	Zone        string `json:"zone"`
	RaftAddress string `json:"raftAddress"`
	// Kafka, KafkaTLS, HTTP and AMQP are the endpoints the node recorded in the metadata (on
	// a single node, AMQP is Options.AMQPAddr).
	Kafka    string `json:"kafka,omitempty"`
	KafkaTLS string `json:"kafkaTLS,omitempty"`
	HTTP     string `json:"http,omitempty"`
	AMQP     string `json:"amqp,omitempty"`
	// Reachable is nil when the view has no knowledge of it (see ReachableSource).
	Reachable *bool `json:"reachable"`
	// LeaderOf is how many partitions the node leads.
	LeaderOf int `json:"leaderOf"`
	// Answered: in a merged status, the node answered for its own view; nil in one node's view.
	Answered *bool  `json:"answered,omitempty"`
	Error    string `json:"error,omitempty"` // why it did not answer
}

// PartitionHealth counts the region's partitions. Total is every placed partition in the
// metadata; in a node's view (Scope "node") Leaderless counts only the partitions it holds
// with no known leader, and UnderReplicated only those it leads.
type PartitionHealth struct {
	Scope           string `json:"scope"`
	Total           int    `json:"total"`
	Held            int    `json:"held,omitempty"` // replicas on the answering node (node scope)
	Led             int    `json:"led,omitempty"`  // led by the answering node (node scope)
	UnderReplicated int    `json:"underReplicated"`
	Leaderless      int    `json:"leaderless"`
}

// MetadataRaft is the metadata group's raft state on the answering node (on a single node
// Commit and Applied are the metadata index and Term is 0).
type MetadataRaft struct {
	Term    uint64 `json:"term"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	State   string `json:"state,omitempty"` // the answering node's raft role: StateLeader, StateFollower, ...
}

// activeRecheck is how long ClusterStatus waits before it reads again a follower that looked
// inactive: the leader clears RecentActive at every CheckQuorum (each election timeout) and a
// live follower sets it again with its next heartbeat response, so only a follower inactive in
// both reads counts.
const activeRecheck = 300 * time.Millisecond

// ClusterStatus is this node's view of the region (Partitions.Scope "node"; "region" on a
// single node). It may wait up to activeRecheck to tell a dead follower from a live one.
func (b *Broker) ClusterStatus(ctx context.Context) ClusterStatus {
	total := 0
	var recorded []meta.Member
	metaIndex := b.meta.Index()
	b.meta.View(func(s *meta.State) {
		recorded = s.Members()
		for _, ns := range s.Namespaces() {
			hubs, _ := s.Hubs(ns)
			for _, name := range hubs {
				if h, err := s.Hub(ns, name); err == nil {
					total += int(h.PartitionCount)
				}
			}
		}
	})
	if b.cl == nil {
		return b.singleNodeStatus(total, metaIndex)
	}
	out := ClusterStatus{Region: b.opts.Region, NodeID: b.cl.self, Clustered: true,
		Partitions: PartitionHealth{Scope: ScopeNode, Total: total}}
	leaderOf := map[uint64]int{}
	suspects := map[uint64][]uint64{} // group → voters that looked inactive
	metaSt, err := b.cl.node.Status(cluster.MetaGroup)
	if err == nil {
		out.MetadataLeader = metaSt.Leader
		out.Metadata = MetadataRaft{Term: metaSt.Term, Commit: metaSt.Commit, Applied: metaSt.Applied, State: metaSt.State}
		suspects[cluster.MetaGroup] = inactiveVoters(metaSt)
	}
	for _, g := range b.heldGroups() {
		st, err := b.cl.node.Status(g)
		if err != nil {
			continue
		}
		out.Partitions.Held++
		switch {
		case st.Leader == 0:
			out.Partitions.Leaderless++
		default:
			leaderOf[st.Leader]++
		}
		if st.Progress != nil && st.Leader == b.cl.self {
			out.Partitions.Led++
			if laggingVoters(st) > 0 {
				out.Partitions.UnderReplicated++ // far behind: no need to look twice
			} else if in := inactiveVoters(st); len(in) > 0 {
				suspects[g] = in
			}
		}
	}
	stillInactive := b.recheckInactive(ctx, suspects)
	for g, in := range stillInactive {
		if g != cluster.MetaGroup && len(in) > 0 {
			out.Partitions.UnderReplicated++
		}
	}
	if metaSt.Progress != nil && metaSt.Leader == b.cl.self {
		out.ReachableSource = ReachableFromLeader
	}
	for _, m := range b.cl.node.Config().Nodes {
		n := ClusterNodeStatus{ID: m.ID, Name: m.Name, Zone: m.Zone, RaftAddress: m.RaftAddr, LeaderOf: leaderOf[m.ID]}
		for _, r := range recorded {
			if r.ID == m.ID && r.Endpoints != nil {
				n.Kafka, n.KafkaTLS, n.HTTP, n.AMQP = r.Endpoints.Kafka, r.Endpoints.KafkaTLS, r.Endpoints.HTTP, r.Endpoints.AMQP
			}
		}
		if m.ID == b.cl.self && n.AMQP == "" {
			n.AMQP = b.opts.AMQPAddr // not recorded yet
		}
		if out.ReachableSource != "" {
			ok := m.ID == b.cl.self || !slices.Contains(stillInactive[cluster.MetaGroup], m.ID)
			n.Reachable = &ok
		}
		out.Nodes = append(out.Nodes, n)
	}
	return out
}

func (b *Broker) singleNodeStatus(total int, metaIndex uint64) ClusterStatus {
	yes := true
	name := "node-" + strconv.Itoa(int(b.opts.NodeID))
	return ClusterStatus{Region: b.opts.Region, NodeID: uint64(b.opts.NodeID), MetadataLeader: uint64(b.opts.NodeID),
		Nodes:      []ClusterNodeStatus{{ID: uint64(b.opts.NodeID), Name: name, AMQP: b.opts.AMQPAddr, Reachable: &yes, LeaderOf: total}},
		Partitions: PartitionHealth{Scope: ScopeRegion, Total: total, Held: total, Led: total},
		Metadata:   MetadataRaft{Commit: metaIndex, Applied: metaIndex}}
}

// heldGroups lists the partition groups this node holds.
func (b *Broker) heldGroups() []uint64 {
	b.cl.mu.Lock()
	defer b.cl.mu.Unlock()
	out := make([]uint64, 0, len(b.cl.reps))
	for g := range b.cl.reps {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// laggingVoters counts the voters whose log trails the commit by more than isrLag (Kafka's
// in-sync test in Leadership).
func laggingVoters(st multiraft.Status) int {
	n := 0
	for _, v := range st.Voters {
		if pr, ok := st.Progress[v]; !ok || pr.Match+isrLag < st.Commit {
			n++
		}
	}
	return n
}

// inactiveVoters lists the voters other than the leader that the leader has not heard from
// recently.
func inactiveVoters(st multiraft.Status) []uint64 {
	var out []uint64
	for _, v := range st.Voters {
		if pr, ok := st.Progress[v]; v != st.ID && ok && !pr.RecentActive {
			out = append(out, v)
		}
	}
	return out
}

// recheckInactive waits activeRecheck once when any voter looked inactive and returns, per
// group, those that still do (a group this node no longer leads drops out).
func (b *Broker) recheckInactive(ctx context.Context, suspects map[uint64][]uint64) map[uint64][]uint64 {
	out := map[uint64][]uint64{}
	found := false
	for _, in := range suspects {
		found = found || len(in) > 0
	}
	if !found {
		return out
	}
	t := time.NewTimer(activeRecheck)
	select {
	case <-ctx.Done():
		t.Stop()
		return suspects // no time to look again: report what was seen
	case <-t.C:
	}
	for g, in := range suspects {
		st, err := b.cl.node.Status(g)
		if err != nil || st.Progress == nil {
			continue
		}
		now := inactiveVoters(st)
		for _, v := range in {
			if slices.Contains(now, v) {
				out[g] = append(out[g], v)
			}
		}
	}
	return out
}

// MergeClusterStatus combines the answering node's view (self) with the other nodes' own
// views (views, by node id; a missing one did not answer, errs says why) into the region's:
// each node's LeaderOf and under-replicated partitions are what it reports of itself (only a
// leader sees its followers), reachability is the metadata leader's view, and Leaderless is
// the partitions no node leads. Scope is "partial" when a node did not answer: its LeaderOf is
// then what the others know from the groups they hold, and the replication of the partitions
// it leads is not checked (the status names the node, so it is never reported healthy).
func MergeClusterStatus(self ClusterStatus, views map[uint64]ClusterStatus, errs map[uint64]string) ClusterStatus {
	if !self.Clustered {
		return self
	}
	all := map[uint64]ClusterStatus{self.NodeID: self}
	for id, v := range views {
		all[id] = v
	}
	out := self
	out.Nodes = slices.Clone(self.Nodes)
	out.Partitions = PartitionHealth{Scope: ScopeRegion}
	out.ReachableSource = ""
	var leaderView *ClusterStatus
	for _, v := range all {
		out.Partitions.Total = max(out.Partitions.Total, v.Partitions.Total)
		out.Partitions.UnderReplicated += v.Partitions.UnderReplicated
		if v.ReachableSource != "" && v.NodeID == v.MetadataLeader {
			leaderView = &v
		}
		if out.MetadataLeader == 0 {
			out.MetadataLeader = v.MetadataLeader
		}
	}
	if leaderView != nil {
		out.ReachableSource = leaderView.ReachableSource
		out.MetadataLeader = leaderView.NodeID
	}
	led := 0
	for i := range out.Nodes {
		n := &out.Nodes[i]
		v, answered := all[n.ID]
		n.Answered, n.Error = &answered, errs[n.ID]
		n.Reachable = nil
		if answered {
			n.LeaderOf = v.Partitions.Led
		} else {
			// What the nodes that answered know of its leadership from the raft groups
			// they hold; how its followers are doing is unknown (Scope partial).
			out.Partitions.Scope = ScopePartial
			n.LeaderOf = 0
			for _, v := range all {
				for _, vn := range v.Nodes {
					if vn.ID == n.ID {
						n.LeaderOf = max(n.LeaderOf, vn.LeaderOf)
					}
				}
			}
		}
		if leaderView != nil {
			for _, ln := range leaderView.Nodes {
				if ln.ID == n.ID {
					n.Reachable = ln.Reachable
				}
			}
		}
		led += n.LeaderOf
	}
	out.Partitions.Leaderless = max(0, out.Partitions.Total-led)
	return out
}

// PeerHTTP is the client for calls to the other nodes of the region (Options.PeerHTTP: with
// TLS it trusts the nodes' CA); nil when none was given.
func (b *Broker) PeerHTTP() *http.Client { return b.opts.PeerHTTP }

// PartitionReplicas is one partition's replicas and leader as this node knows them (GET on
// an event hub and `tandem hub show` in a cluster).
type PartitionReplicas struct {
	ID       int32
	Replicas []int32 // placement order: the first is the preferred leader
	Leader   int32   // -1: none known here
	// LeaderEpoch is the epoch applied on this node's replica; -1 when it holds none.
	LeaderEpoch int32
	// InSync are the replicas whose log is close to the commit; nil unless this node leads
	// the partition (only the leader sees its followers' progress).
	InSync []int32
}

// HubReplicas reports every partition of h in a cluster; nil on a single node.
func (b *Broker) HubReplicas(h HubInfo) []PartitionReplicas {
	if b.cl == nil {
		return nil
	}
	var reps [][]uint64
	b.meta.View(func(s *meta.State) { _, reps, _ = s.HubPlacement(h.Namespace, h.Name) })
	out := make([]PartitionReplicas, 0, len(reps))
	for p, peers := range reps {
		pr := PartitionReplicas{ID: int32(p), Leader: -1, LeaderEpoch: -1}
		for _, id := range peers {
			pr.Replicas = append(pr.Replicas, int32(id))
		}
		if r, g, err := b.localReplica(h, int32(p)); err == nil && r != nil {
			pr.LeaderEpoch = r.rp.LeaderEpoch()
			if st, err := b.cl.node.Status(g); err == nil && st.Leader != 0 {
				pr.Leader = int32(st.Leader)
				if st.Progress != nil {
					pr.InSync = []int32{}
					for _, v := range peers {
						if s, ok := st.Progress[v]; ok && s.Match+isrLag >= st.Commit {
							pr.InSync = append(pr.InSync, int32(v))
						}
					}
				}
			}
		}
		out = append(out, pr)
	}
	return out
}
