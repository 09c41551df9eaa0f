package broker

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/multiraft"
)

func nodeView(id, metaLeader uint64, total, led, under int, leaderOf map[uint64]int, reachable map[uint64]bool) ClusterStatus {
	v := ClusterStatus{Region: "east", NodeID: id, Clustered: true, MetadataLeader: metaLeader,
		Partitions: PartitionHealth{Scope: ScopeNode, Total: total, Held: total, Led: led, UnderReplicated: under}}
	if reachable != nil {
		v.ReachableSource = ReachableFromLeader
	}
	for n := uint64(1); n <= 3; n++ {
		cn := ClusterNodeStatus{ID: n, Name: "east-" + string(rune('a'+n-1)), LeaderOf: leaderOf[n]}
		if reachable != nil {
			r := reachable[n]
			cn.Reachable = &r
		}
		v.Nodes = append(v.Nodes, cn)
	}
	return v
}

func TestMergeClusterStatus(t *testing.T) {
	all := map[uint64]bool{1: true, 2: true, 3: true}
	lead := map[uint64]int{1: 2, 2: 1, 3: 1}
	tests := []struct {
		name          string
		self          ClusterStatus
		views         map[uint64]ClusterStatus
		errs          map[uint64]string
		scope         string
		under, noLead int
		leaderOf      [3]int
		reachable     []bool // nil: not known
	}{{
		name: "healthy, asked a follower",
		self: nodeView(2, 1, 4, 1, 0, lead, nil),
		views: map[uint64]ClusterStatus{
			1: nodeView(1, 1, 4, 2, 0, lead, all),
			3: nodeView(3, 1, 4, 1, 0, lead, nil),
		},
		scope: ScopeRegion, leaderOf: [3]int{2, 1, 1}, reachable: []bool{true, true, true},
	}, {
		name: "each leader counts its own under-replicated partitions",
		self: nodeView(1, 1, 4, 2, 2, map[uint64]int{1: 2, 2: 2}, map[uint64]bool{1: true, 2: true, 3: false}),
		views: map[uint64]ClusterStatus{
			2: nodeView(2, 1, 4, 2, 2, map[uint64]int{1: 2, 2: 2}, nil),
		},
		errs:  map[uint64]string{3: "connection refused"},
		scope: ScopePartial, under: 4, leaderOf: [3]int{2, 2, 0}, reachable: []bool{true, true, false},
	}, {
		name: "a silent node is credited with what the others see it lead",
		self: nodeView(1, 1, 4, 2, 0, lead, all),
		views: map[uint64]ClusterStatus{
			2: nodeView(2, 1, 4, 1, 0, lead, nil),
		},
		errs:  map[uint64]string{3: "no HTTP endpoint"},
		scope: ScopePartial, leaderOf: [3]int{2, 1, 1}, reachable: []bool{true, true, true},
	}, {
		name: "partitions nobody leads are leaderless",
		self: nodeView(1, 0, 4, 1, 0, map[uint64]int{1: 1}, nil),
		views: map[uint64]ClusterStatus{
			2: nodeView(2, 0, 4, 0, 0, map[uint64]int{1: 1}, nil),
			3: nodeView(3, 0, 4, 0, 0, map[uint64]int{1: 1}, nil),
		},
		scope: ScopeRegion, noLead: 3, leaderOf: [3]int{1, 0, 0},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MergeClusterStatus(tc.self, tc.views, tc.errs)
			p := got.Partitions
			if p.Scope != tc.scope || p.UnderReplicated != tc.under || p.Leaderless != tc.noLead || p.Total != 4 {
				t.Errorf("partitions %+v, want scope %s, %d under-replicated, %d leaderless", p, tc.scope, tc.under, tc.noLead)
			}
			for i, n := range got.Nodes {
				if n.LeaderOf != tc.leaderOf[i] {
					t.Errorf("node %d leads %d, want %d", n.ID, n.LeaderOf, tc.leaderOf[i])
				}
				_, silent := tc.errs[n.ID]
				if n.Answered == nil || *n.Answered == silent || n.Error != tc.errs[n.ID] {
					t.Errorf("node %d answered %v (%q)", n.ID, n.Answered, n.Error)
				}
				switch {
				case tc.reachable == nil && n.Reachable != nil:
					t.Errorf("node %d reachable %v, want unknown", n.ID, *n.Reachable)
				case tc.reachable != nil && (n.Reachable == nil || *n.Reachable != tc.reachable[i]):
					t.Errorf("node %d reachable %v, want %v", n.ID, n.Reachable, tc.reachable[i])
				}
			}
			if (tc.reachable != nil) != (got.ReachableSource == ReachableFromLeader) {
				t.Errorf("reachable source %q", got.ReachableSource)
			}
		})
	}
	single := ClusterStatus{NodeID: 7, MetadataLeader: 7, Partitions: PartitionHealth{Scope: ScopeRegion, Total: 2}}
	if got := MergeClusterStatus(single, nil, nil); got.Partitions != single.Partitions || got.NodeID != 7 {
		t.Errorf("a single node's status changed in the merge: %+v", got)
	}
}

func TestInactiveAndLaggingVoters(t *testing.T) {
	st := multiraft.Status{ID: 1, Leader: 1, Commit: 5000, Voters: []uint64{1, 2, 3, 4},
		Progress: map[uint64]multiraft.Progress{
			1: {Match: 5000, RecentActive: false}, // the leader itself never counts as inactive
			2: {Match: 4500, RecentActive: true},
			3: {Match: 3000, RecentActive: true}, // more than isrLag behind
			4: {Match: 5000, RecentActive: false},
		}}
	if got := inactiveVoters(st); len(got) != 1 || got[0] != 4 {
		t.Errorf("inactive voters %v, want [4]", got)
	}
	if got := laggingVoters(st); got != 1 {
		t.Errorf("lagging voters %d, want 1", got)
	}
}
