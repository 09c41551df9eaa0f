package meta

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Placement: where each event hub's partitions live in the region's cluster.
//
// The metadata holds the region's member list (ClusterMembers), a placement cursor (the number
// of partitions placed so far) and the last hub incarnation it assigned. Placement is computed
// at apply, deterministically, from the command and that state with cluster.Place, so every
// replica and every replay gets the same result without the placement travelling in the
// command:
//
//   - CreateHub gives the hub the next incarnation (a counter in the state, never decremented,
//     so never reused, also not by a hub deleted and created again under the same name) and
//     places its partitions at the cursor, which advances by the partition count.
//   - UpdateHub raising the partition count places the new partitions the same way; existing
//     partitions never move.
//   - DeleteHub and DeleteNamespace free nothing: the counter and the cursor stay.
//   - A hub created while no member list is recorded (every hub of a log written before
//     placement existed) is unplaced: incarnation 0, no replicas. The ClusterMembers command
//     that records a list places every unplaced hub, in (namespace, hub) name order, so an old
//     log replayed and an old snapshot loaded give the same state.
//
// Placement is region-local: geo-DR replicates commands, never placements, so a Replicated
// CreateHub on a secondary is placed with the secondary's members; ClusterMembers is not
// Replicable.

// Member is one node of the region's cluster as the metadata records it.
type Member struct {
	ID   uint64 `json:"id"`
	Zone string `json:"zone"`
	Name string `json:"name"`
	// Endpoints are what the member recorded with SetMemberEndpoints (endpoints.go); nil
	// until it does.
	Endpoints *Endpoints `json:"endpoints,omitempty"`
}

// MaxMembers bounds a member list; far above any cluster a region runs.
const MaxMembers = 1024

// ClusterMembers records the region's member list. The node that bootstraps the metadata
// proposes it once (a single-node region records itself); afterwards it changes only by
// another explicit ClusterMembers. Recording a list places every hub not yet placed. A member
// that holds replicas cannot be dropped: moving replicas off a node is not implemented yet.
type ClusterMembers struct {
	Members []Member `json:"members"`
}

// TypeClusterMembers is the type of ClusterMembers.
const TypeClusterMembers CommandType = "ClusterMembers"

// Type implements Command.
func (ClusterMembers) Type() CommandType { return TypeClusterMembers }

func (c ClusterMembers) check(s *State) error {
	if len(c.Members) == 0 || len(c.Members) > MaxMembers {
		return errcode.New(errcode.InvalidArgument,
			"a cluster member list has %d members; record 1 to %d (a single-node region records itself)", len(c.Members), MaxMembers)
	}
	seen := map[uint64]bool{}
	for _, m := range c.Members {
		if m.ID == 0 {
			return errcode.New(errcode.InvalidArgument, "cluster member %q has node id 0; node ids start at 1", m.Name)
		}
		if seen[m.ID] {
			return errcode.New(errcode.InvalidArgument, "cluster member list names node id %d twice; give every node its own id", m.ID)
		}
		seen[m.ID] = true
		if err := validMemberLabel("zone", m.ID, m.Zone); err != nil {
			return err
		}
		if err := validMemberLabel("name", m.ID, m.Name); err != nil {
			return err
		}
	}
	for _, id := range s.replicaHolders() {
		if !seen[id] {
			return errcode.New(errcode.Conflict,
				"node %d holds partition replicas and cannot leave the cluster member list; moving replicas off a node is not supported yet, keep it in the list",
				id)
		}
	}
	return nil
}

// validMemberLabel checks a member's zone or name: 1 to 128 printable characters.
func validMemberLabel(what string, id uint64, v string) error {
	ok := len(v) > 0 && len(v) <= 128 && !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
	if !ok {
		return errcode.New(errcode.InvalidArgument,
			"cluster member %d has %s %q; use 1 to 128 printable characters", id, what, v)
	}
	return nil
}

func (c ClusterMembers) apply(s *State) {
	old := s.members
	s.members = slices.Clone(c.Members)
	for i, m := range s.members { // a member's recorded endpoints stay with it
		if j := slices.IndexFunc(old, func(o Member) bool { return o.ID == m.ID }); j >= 0 && m.Endpoints == nil {
			s.members[i].Endpoints = old[j].Endpoints
		}
	}
	slices.SortFunc(s.members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	for _, nsName := range slices.Sorted(maps.Keys(s.namespaces)) {
		n := s.namespaces[nsName]
		for _, hubName := range slices.Sorted(maps.Keys(n.Hubs)) {
			if h := n.Hubs[hubName]; h.Incarnation == 0 {
				s.placeHub(h)
			}
		}
	}
}

// replicaHolders returns the ids of the nodes named in any placement, sorted.
func (s *State) replicaHolders() []uint64 {
	held := map[uint64]bool{}
	for _, n := range s.namespaces {
		for _, h := range n.Hubs {
			for _, rs := range h.Replicas {
				for _, id := range rs {
					held[id] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(held))
}

// placeHub gives an unplaced hub the next incarnation and places all its partitions. Without a
// member list it does nothing: the hub stays unplaced until ClusterMembers records one.
func (s *State) placeHub(h *Hub) {
	if len(s.members) == 0 {
		return
	}
	s.incarnation++
	h.Incarnation = s.incarnation
	h.Replicas = nil
	s.placePartitions(h)
}

// placePartitions places the partitions of a placed hub that have no replicas yet (those a
// partition count increase added) at the cursor, and advances the cursor.
func (s *State) placePartitions(h *Hub) {
	if h.Incarnation == 0 || len(s.members) == 0 {
		return
	}
	missing := int(h.PartitionCount) - len(h.Replicas)
	if missing <= 0 {
		return
	}
	p := cluster.Place(s.clusterMembers(), s.cursor, missing)
	h.Replicas = append(h.Replicas, p.Replicas...)
	s.cursor += uint64(missing)
}

func (s *State) clusterMembers() []cluster.Member {
	out := make([]cluster.Member, len(s.members))
	for i, m := range s.members {
		out[i] = cluster.Member{ID: m.ID, Zone: m.Zone, Name: m.Name}
	}
	return out
}

// Members returns the recorded cluster member list sorted by node id; nil when none is
// recorded.
func (s *State) Members() []Member { return slices.Clone(s.members) }

// PlacementCursor returns the number of partitions placed so far, the cursor cluster.Place
// takes for the next hub.
func (s *State) PlacementCursor() uint64 { return s.cursor }

// HubPlacement returns hub's incarnation and, for each partition, its replica node ids, the
// first being the preferred leader. A hub created before any member list was recorded has no
// placement yet (errcode.Unavailable).
func (s *State) HubPlacement(ns, hub string) (incarnation uint64, replicas [][]uint64, err error) {
	h, err := s.placedHub(ns, hub)
	if err != nil {
		return 0, nil, err
	}
	replicas = make([][]uint64, len(h.Replicas))
	for i, r := range h.Replicas {
		replicas[i] = slices.Clone(r)
	}
	return h.Incarnation, replicas, nil
}

// PartitionGroup returns the raft group of partition p of hub (cluster.GroupID of the hub's
// incarnation and p).
func (s *State) PartitionGroup(ns, hub string, p int32) (uint64, error) {
	h, err := s.placedHub(ns, hub)
	if err != nil {
		return 0, err
	}
	if err := checkPartition(ns, h, p); err != nil {
		return 0, err
	}
	g, err := cluster.GroupID(h.Incarnation, int(p))
	if err != nil {
		return 0, errcode.New(errcode.Internal, "event hub %s/%s: %w", ns, hub, err)
	}
	return g, nil
}

func (s *State) placedHub(ns, hub string) (*Hub, error) {
	h, err := s.hub(ns, hub)
	if err != nil {
		return nil, err
	}
	if h.Incarnation == 0 {
		return nil, errcode.New(errcode.Unavailable,
			"event hub %s/%s has no placement yet: no cluster member list is recorded in the metadata; the node records one when it boots",
			ns, hub)
	}
	return h, nil
}

// BootstrapMembers compares the member list a node was started with to the recorded one. It
// returns the ClusterMembers to propose when none is recorded, nil when they agree, and an
// error naming the difference otherwise: every node must be started with the recorded list,
// since placement depends on it.
func BootstrapMembers(s *State, nodes []cluster.Member) (Command, error) {
	want := make([]Member, len(nodes))
	for i, m := range nodes {
		want[i] = Member{ID: m.ID, Zone: m.Zone, Name: m.Name}
	}
	slices.SortFunc(want, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	if len(s.members) == 0 {
		return ClusterMembers{Members: want}, nil
	}
	if slices.EqualFunc(want, s.members, func(a, b Member) bool { return a.ID == b.ID && a.Zone == b.Zone && a.Name == b.Name }) {
		return nil, nil
	}
	return nil, errcode.New(errcode.Mismatch,
		"this node was started with cluster members %s but the metadata records %s; start every node with the recorded list (or change the list with a ClusterMembers command)",
		formatMembers(want), formatMembers(s.members))
}

func formatMembers(ms []Member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%d=%s/%s", m.ID, m.Zone, m.Name)
	}
	return strings.Join(parts, ",")
}

// checkPlacement checks the placement fields of a state decoded from a snapshot.
func (s *State) checkPlacement() error {
	for _, n := range s.namespaces {
		for _, h := range n.Hubs {
			switch {
			case h.Incarnation == 0 && len(h.Replicas) == 0:
			case h.Incarnation == 0 || h.Incarnation > s.incarnation || len(h.Replicas) != int(h.PartitionCount):
				return errcode.New(errcode.CorruptData,
					"metadata snapshot has a broken placement of event hub %s/%s (incarnation %d of %d, %d placed partitions of %d)",
					n.Name, h.Name, h.Incarnation, s.incarnation, len(h.Replicas), h.PartitionCount)
			}
		}
	}
	return nil
}

// checkMemberList checks the member list of a snapshot: ids from 1, strictly ascending.
func checkMemberList(ms []Member) error {
	for i, m := range ms {
		if m.ID == 0 || (i > 0 && ms[i-1].ID >= m.ID) {
			return errcode.New(errcode.CorruptData,
				"metadata snapshot has a broken cluster member list (node id %d at position %d)", m.ID, i)
		}
	}
	return nil
}
