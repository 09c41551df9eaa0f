package cluster

import (
	"fmt"
	"slices"
)

// MetaGroup is the raft group of the region's metadata.
const MetaGroup uint64 = 1

// Partition group ids: the hub's incarnation id in the high bits, the
// partition in the low PartitionBits. The incarnation is a number the
// metadata group assigns when a hub is created and never reuses (the raft
// index of the create command is one), so two hubs — including a hub deleted
// and re-created under the same name — never share a group, and the id is
// collision-free as long as incarnation < 2^(64-PartitionBits) and partition
// < 2^PartitionBits, which GroupID checks. Every partition group id is
// ≥ 2^PartitionBits, so ids below it (MetaGroup = 1) stay free for system groups.
const (
	PartitionBits  = 20 // up to 1,048,576 partitions per hub
	MaxIncarnation = 1<<(64-PartitionBits) - 1
)

// GroupID returns the raft group of partition p of the hub incarnation inc.
func GroupID(inc uint64, p int) (uint64, error) {
	if inc == 0 || inc > MaxIncarnation {
		return 0, fmt.Errorf("cluster: hub incarnation %d is outside 1..%d", inc, uint64(MaxIncarnation))
	}
	if p < 0 || p >= 1<<PartitionBits {
		return 0, fmt.Errorf("cluster: partition %d is outside 0..%d", p, 1<<PartitionBits-1)
	}
	return inc<<PartitionBits | uint64(p), nil
}

// SplitGroupID is the inverse of GroupID; ok is false for a non-partition group.
func SplitGroupID(g uint64) (inc uint64, p int, ok bool) {
	inc = g >> PartitionBits
	return inc, int(g & (1<<PartitionBits - 1)), inc != 0
}

// HubPlacement is where a hub's partitions live: Replicas[p] lists the nodes
// holding partition p, the first being its preferred leader.
type HubPlacement struct {
	Replicas [][]uint64
}

// Place assigns replicas to the partitions of a new hub. It is a pure
// function of the member list, the partition count and cursor, the number of
// partitions placed before this hub (the metadata keeps it and advances it by
// partitions after each create). Placements are stored, never recomputed, so
// adding a hub moves no existing one.
//
// Nodes are laid on a ring interleaved by zone (first node of each zone in
// zone order, then the second of each, ...). Partition k of all partitions
// ever placed starts at ring position k mod n: its preferred leader is that
// node, and the other replicas are the next nodes on the ring in zones not yet
// used (then any other node when zones run out). So preferred leaders go
// round the ring — balanced over nodes, and over zones since the ring
// interleaves them — and, with zones of equal size, every replica set spans
// Replicas distinct zones with an even load.
func Place(nodes []Member, cursor uint64, partitions int) HubPlacement {
	ring := zoneRing(nodes)
	r := min(Replicas, len(ring))
	hp := HubPlacement{Replicas: make([][]uint64, partitions)}
	if len(ring) == 0 {
		return hp
	}
	for p := range partitions {
		start := int((cursor + uint64(p)) % uint64(len(ring)))
		hp.Replicas[p] = pick(ring, start, r)
	}
	return hp
}

// pick takes r nodes from ring starting at start: distinct zones first.
func pick(ring []Member, start, r int) []uint64 {
	out := make([]uint64, 0, r)
	var zones []string
	for pass := 0; pass < 2 && len(out) < r; pass++ {
		for i := range ring {
			m := ring[(start+i)%len(ring)]
			if len(out) == r {
				break
			}
			if slices.Contains(out, m.ID) || (pass == 0 && slices.Contains(zones, m.Zone)) {
				continue
			}
			out = append(out, m.ID)
			zones = append(zones, m.Zone)
		}
	}
	return out
}

// zoneRing orders nodes: zones sorted, nodes in a zone by id, interleaved.
func zoneRing(nodes []Member) []Member {
	byZone := map[string][]Member{}
	var zones []string
	for _, m := range nodes {
		if _, ok := byZone[m.Zone]; !ok {
			zones = append(zones, m.Zone)
		}
		byZone[m.Zone] = append(byZone[m.Zone], m)
	}
	slices.Sort(zones)
	for _, z := range zones {
		slices.SortFunc(byZone[z], func(a, b Member) int { return compareID(a.ID, b.ID) })
	}
	ring := make([]Member, 0, len(nodes))
	for i := 0; len(ring) < len(nodes); i++ {
		for _, z := range zones {
			if i < len(byZone[z]) {
				ring = append(ring, byZone[z][i])
			}
		}
	}
	return ring
}
