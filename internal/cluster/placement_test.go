package cluster

import (
	"fmt"
	"slices"
	"testing"
)

func members(spec ...string) []Member { // "1a" = node 1 in zone a
	var ms []Member
	for _, s := range spec {
		var id uint64
		var zone string
		if _, err := fmt.Sscanf(s, "%d%s", &id, &zone); err != nil {
			panic(s)
		}
		ms = append(ms, Member{ID: id, Zone: zone})
	}
	return ms
}

func TestPlaceExact(t *testing.T) {
	tests := []struct {
		name       string
		nodes      []Member
		cursor     uint64
		partitions int
		want       [][]uint64
	}{
		{"one node", members("1a"), 0, 2, [][]uint64{{1}, {1}}},
		{"two nodes", members("1a", "2b"), 0, 3, [][]uint64{{1, 2}, {2, 1}, {1, 2}}},
		{"three zones", members("3c", "1a", "2b"), 0, 4, [][]uint64{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}, {1, 2, 3}}},
		{"cursor rotates", members("1a", "2b", "3c"), 2, 2, [][]uint64{{3, 1, 2}, {1, 2, 3}}},
		// ring: 1a 2b 3c 4a 5b 6c
		{"six nodes", members("1a", "4a", "2b", "5b", "3c", "6c"), 0, 6,
			[][]uint64{{1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {4, 5, 6}, {5, 6, 1}, {6, 1, 2}}},
		// ring: 1a 3b 2a 4a; zone b is on every replica set
		{"uneven zones", members("1a", "2a", "4a", "3b"), 0, 4,
			[][]uint64{{1, 3, 2}, {3, 2, 4}, {2, 3, 4}, {4, 3, 1}}},
		{"one zone", members("1a", "2a", "3a", "4a"), 1, 2, [][]uint64{{2, 3, 4}, {3, 4, 1}}},
		{"no nodes", nil, 0, 1, [][]uint64{nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Place(tc.nodes, tc.cursor, tc.partitions).Replicas
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlaceProperties checks, over many cluster shapes and hub sequences:
// replica count, distinct nodes, distinct zones when there are enough, and
// preferred leaders and replicas spread evenly over nodes and zones.
func TestPlaceProperties(t *testing.T) {
	for zones := 1; zones <= 4; zones++ {
		for perZone := 1; perZone <= 3; perZone++ {
			var nodes []Member
			zoneOf := map[uint64]string{}
			for z := range zones {
				for i := range perZone {
					id := uint64(100*z + i + 1)
					m := Member{ID: id, Zone: string(rune('a' + z))}
					nodes = append(nodes, m)
					zoneOf[id] = m.Zone
				}
			}
			n := len(nodes)
			lead := map[uint64]int{}
			load := map[uint64]int{}
			zoneLead := map[string]int{}
			var cursor uint64
			hubs := []int{1, 3, 4, 2, 7, 1, 1, 5, 8, 4} // 36 partitions
			for _, parts := range hubs {
				hp := Place(nodes, cursor, parts)
				cursor += uint64(parts)
				for p, rs := range hp.Replicas {
					want := min(Replicas, n)
					if len(rs) != want {
						t.Fatalf("%dx%d: partition %d has %d replicas, want %d", zones, perZone, p, len(rs), want)
					}
					seen := map[uint64]bool{}
					zs := map[string]bool{}
					for _, id := range rs {
						if seen[id] {
							t.Fatalf("%dx%d: node %d twice in %v", zones, perZone, id, rs)
						}
						seen[id], zs[zoneOf[id]] = true, true
						load[id]++
					}
					if len(zs) != min(want, zones) {
						t.Fatalf("%dx%d: replicas %v span %d zones, want %d", zones, perZone, rs, len(zs), min(want, zones))
					}
					lead[rs[0]]++
					zoneLead[zoneOf[rs[0]]]++
				}
			}
			total := int(cursor)
			for _, m := range nodes {
				if l := lead[m.ID]; l < total/n || l > total/n+1 {
					t.Errorf("%dx%d: node %d leads %d of %d partitions, want %d or %d", zones, perZone, m.ID, l, total, total/n, total/n+1)
				}
				if want := total * min(Replicas, n) / n; load[m.ID] < want-Replicas || load[m.ID] > want+Replicas {
					t.Errorf("%dx%d: node %d holds %d replicas, want about %d", zones, perZone, m.ID, load[m.ID], want)
				}
			}
			for z, l := range zoneLead {
				if w := total / zones; l < w-1 || l > w+perZone {
					t.Errorf("%dx%d: zone %s leads %d of %d", zones, perZone, z, l, total)
				}
			}
		}
	}
}

// TestPlaceStable: placing hub B after hub A gives A the placement it had
// alone, and the result depends only on the member set, not its order.
func TestPlaceStable(t *testing.T) {
	nodes := members("1a", "2b", "3c", "4a", "5b")
	a := Place(nodes, 0, 5)
	b := Place(nodes, 5, 3)
	shuffled := slices.Clone(nodes)
	slices.Reverse(shuffled)
	if fmt.Sprint(Place(shuffled, 0, 5)) != fmt.Sprint(a) || fmt.Sprint(Place(shuffled, 5, 3)) != fmt.Sprint(b) {
		t.Fatal("placement depends on the order of the member list")
	}
	if again := Place(nodes, 0, 5); fmt.Sprint(again) != fmt.Sprint(a) {
		t.Fatalf("not deterministic: %v then %v", a, again)
	}
	// The next hub continues the leader rotation where the previous stopped.
	if a.Replicas[4][0] == b.Replicas[0][0] {
		t.Fatalf("hub b starts on the node hub a ended on: %v %v", a, b)
	}
}

func TestGroupID(t *testing.T) {
	seen := map[uint64]string{MetaGroup: "meta"}
	for _, inc := range []uint64{1, 2, 3, 1000, MaxIncarnation} {
		for _, p := range []int{0, 1, 2, 1023, 1<<PartitionBits - 1} {
			g, err := GroupID(inc, p)
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprint(inc, "/", p)
			if prev, dup := seen[g]; dup {
				t.Fatalf("group %d for %s and %s", g, key, prev)
			}
			seen[g] = key
			gi, gp, ok := SplitGroupID(g)
			if !ok || gi != inc || gp != p {
				t.Fatalf("SplitGroupID(%d) = %d,%d,%v; want %d,%d", g, gi, gp, ok, inc, p)
			}
		}
	}
	if _, _, ok := SplitGroupID(MetaGroup); ok {
		t.Fatal("the metadata group split as a partition")
	}
	for _, bad := range []struct {
		inc uint64
		p   int
	}{{0, 0}, {MaxIncarnation + 1, 0}, {1, -1}, {1, 1 << PartitionBits}} {
		if _, err := GroupID(bad.inc, bad.p); err == nil {
			t.Errorf("GroupID(%d, %d) accepted", bad.inc, bad.p)
		}
	}
}
