package client

import (
	"context"
	"net/http"
	"strconv"
)

// ClusterStatus is a region's state as GET /cluster reports it: its nodes, the metadata
// group's raft state and the health of its partitions. The answering node merges every
// node's own view (Partitions.Scope "region"; "partial" when a node did not answer).
type ClusterStatus struct {
	Region         string `json:"region"`
	NodeID         uint64 `json:"nodeId"`
	Clustered      bool   `json:"clustered"`      // false: a single node, no raft
	MetadataLeader uint64 `json:"metadataLeader"` // 0: none known
	// ReachableSource says where Nodes[].Reachable comes from ("metadataLeaderProgress": the
	// metadata leader heard from the node within an election timeout).
	ReachableSource string              `json:"reachableSource,omitempty"`
	Nodes           []ClusterNodeStatus `json:"nodes"`
	Partitions      PartitionHealth     `json:"partitions"`
	Metadata        MetadataRaft        `json:"metadata"`
}

// ClusterNodeStatus is one node of a region.
type ClusterNodeStatus struct {
	ID          uint64 `json:"id"`
	Name        string `json:"name"`
	Zone        string `json:"zone"`
	RaftAddress string `json:"raftAddress"`
	Kafka       string `json:"kafka,omitempty"`
	KafkaTLS    string `json:"kafkaTLS,omitempty"`
	HTTP        string `json:"http,omitempty"`
	AMQP        string `json:"amqp,omitempty"` // host:port of the plain AMQP listener; "" when none
	Reachable   *bool  `json:"reachable"`      // nil: not known
	LeaderOf    int    `json:"leaderOf"`       // partitions it leads
	Answered    *bool  `json:"answered,omitempty"`
	Error       string `json:"error,omitempty"`
}

// PartitionHealth counts a region's partitions.
type PartitionHealth struct {
	Scope           string `json:"scope"` // region, partial, or node (one node's view)
	Total           int    `json:"total"`
	Held            int    `json:"held,omitempty"`
	Led             int    `json:"led,omitempty"`
	UnderReplicated int    `json:"underReplicated"`
	Leaderless      int    `json:"leaderless"`
}

// MetadataRaft is the metadata group's raft state on the answering node.
type MetadataRaft struct {
	Term    uint64 `json:"term"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	State   string `json:"state,omitempty"`
}

// ClusterStatus asks the node for the region's status (the admin key, or anonymous in dev
// mode).
func (c *Client) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	var out ClusterStatus
	err := c.do(ctx, http.MethodGet, "/cluster", nil, &out)
	return out, err
}

// Problems lists what is wrong with the region; none means healthy: a metadata leader, no
// under-replicated or leaderless partition, every node reachable and answering, and the
// view covers the whole region.
func (s ClusterStatus) Problems() []string {
	var probs []string
	if s.Clustered && s.MetadataLeader == 0 {
		probs = append(probs, "the metadata group has no leader")
	}
	if n := s.Partitions.UnderReplicated; n > 0 {
		probs = append(probs, count(n, "partition is", "partitions are")+" under-replicated")
	}
	if n := s.Partitions.Leaderless; n > 0 {
		probs = append(probs, count(n, "partition has", "partitions have")+" no leader")
	}
	for _, n := range s.Nodes {
		switch {
		case n.Reachable != nil && !*n.Reachable:
			probs = append(probs, "node "+n.Name+" is not reachable from the metadata leader")
		case n.Answered != nil && !*n.Answered:
			probs = append(probs, "node "+n.Name+" did not answer: "+n.Error)
		}
	}
	if s.Partitions.Scope == "node" {
		probs = append(probs, "this is one node's view only: partitions it does not lead are not checked")
	}
	return probs
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
