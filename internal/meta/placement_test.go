package meta

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// threeZones is a region of three nodes in zones a, b, c: the zone ring is 1, 2, 3, so the
// partition at cursor k has replicas starting at node k%3+1.
var threeZones = ClusterMembers{Members: []Member{{ID: 3, Zone: "c", Name: "n3"}, {ID: 1, Zone: "a", Name: "n1"}, {ID: 2, Zone: "b", Name: "n2"}}}

const other = "billing-ns"

func createNS(name string) Command {
	return CreateNamespace{Namespace: name, RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0}
}

func createHub(nsName, hub string, partitions int32) Command {
	return CreateHub{Namespace: nsName, Hub: hub, PartitionCount: partitions, Time: t0}
}

// placed is what a hub's placement should be: its incarnation and replicas.
type placed struct {
	inc      uint64
	replicas [][]uint64
}

func TestPlacementApply(t *testing.T) {
	r123, r231, r312 := []uint64{1, 2, 3}, []uint64{2, 3, 1}, []uint64{3, 1, 2}
	for _, tc := range []struct {
		name   string
		cmds   []Command
		want   map[string]placed // "ns/hub" → placement; inc 0 means unplaced
		cursor uint64
	}{{
		name: "create hub places at the cursor",
		cmds: []Command{threeZones, createNS(ns), createHub(ns, "orders", 4), createHub(ns, "second", 2)},
		want: map[string]placed{
			ns + "/orders": {1, [][]uint64{r123, r231, r312, r123}},
			ns + "/second": {2, [][]uint64{r231, r312}},
		},
		cursor: 6,
	}, {
		name:   "default partition count is placed",
		cmds:   []Command{threeZones, createNS(ns), CreateHub{Namespace: ns, Hub: "orders", Time: t0}},
		want:   map[string]placed{ns + "/orders": {1, [][]uint64{r123, r231, r312, r123}}},
		cursor: 4,
	}, {
		name: "raising the partition count places only the new partitions",
		cmds: []Command{threeZones, createNS(ns), createHub(ns, "orders", 2), createHub(ns, "other", 1),
			UpdateHub{Namespace: ns, Hub: "orders", PartitionCount: 4, Time: t1},
			UpdateHub{Namespace: ns, Hub: "orders", PartitionCount: 4, Time: t1}, // no change, nothing placed
			UpdateHub{Namespace: ns, Hub: "other", MaxEventBytes: 4096, Time: t1}},
		want: map[string]placed{
			ns + "/orders": {1, [][]uint64{r123, r231, r123, r231}},
			ns + "/other":  {2, [][]uint64{r312}},
		},
		cursor: 5,
	}, {
		name: "deleting frees no incarnation and rewinds no cursor",
		cmds: []Command{threeZones, createNS(ns), createHub(ns, "a", 2), DeleteHub{Namespace: ns, Hub: "a"},
			createHub(ns, "a", 2), DeleteNamespace{Namespace: ns}, createNS(ns), createHub(ns, "a", 1)},
		want:   map[string]placed{ns + "/a": {3, [][]uint64{r231}}},
		cursor: 5,
	}, {
		name: "hubs created before members are unplaced until the list is recorded, then placed in name order",
		cmds: []Command{createNS(ns), createNS(other), createHub(ns, "zeta", 2), createHub(ns, "alpha", 1),
			createHub(other, "x", 1), UpdateHub{Namespace: ns, Hub: "zeta", PartitionCount: 3, Time: t1}},
		want: map[string]placed{ns + "/zeta": {}, ns + "/alpha": {}, other + "/x": {}},
	}, {
		name: "recording members places the unplaced hubs in name order",
		cmds: []Command{createNS(ns), createNS(other), createHub(ns, "zeta", 2), createHub(ns, "alpha", 1),
			createHub(other, "x", 1), UpdateHub{Namespace: ns, Hub: "zeta", PartitionCount: 3, Time: t1},
			threeZones, createHub(ns, "later", 1)},
		want: map[string]placed{
			other + "/x":  {1, [][]uint64{r123}},
			ns + "/alpha": {2, [][]uint64{r231}},
			ns + "/zeta":  {3, [][]uint64{r312, r123, r231}},
			ns + "/later": {4, [][]uint64{r312}},
		},
		cursor: 6,
	}, {
		name:   "a single-node region records itself",
		cmds:   []Command{ClusterMembers{Members: []Member{{ID: 1, Zone: "default", Name: "node-1"}}}, createNS(ns), createHub(ns, "orders", 3)},
		want:   map[string]placed{ns + "/orders": {1, [][]uint64{{1}, {1}, {1}}}},
		cursor: 3,
	}, {
		name: "a changed member list places new hubs only",
		cmds: []Command{threeZones, createNS(ns), createHub(ns, "old", 1),
			ClusterMembers{Members: []Member{{ID: 1, Zone: "a", Name: "n1"}, {ID: 2, Zone: "b", Name: "n2"}, {ID: 3, Zone: "c", Name: "n3"}, {ID: 4, Zone: "a", Name: "n4"}}},
			createHub(ns, "new", 2)},
		// ring 1(a) 2(b) 3(c) 4(a): cursor 1 starts at 2, then 3 (c), 4 (a); cursor 2 at 3, 4, then 2 (b)
		want: map[string]placed{
			ns + "/old": {1, [][]uint64{r123}},
			ns + "/new": {2, [][]uint64{{2, 3, 4}, {3, 4, 2}}},
		},
		cursor: 3,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := applyAll(t, NewState(), tc.cmds)
			for key, want := range tc.want {
				n, hub, _ := strings.Cut(key, "/")
				inc, reps, err := s.HubPlacement(n, hub)
				if want.inc == 0 {
					if !errcode.Is(err, errcode.Unavailable) || !strings.Contains(err.Error(), "no cluster member list") {
						t.Errorf("%s: placement %d %v, %v; want unplaced (Unavailable)", key, inc, reps, err)
					}
					continue
				}
				if err != nil || inc != want.inc || !reflect.DeepEqual(reps, want.replicas) {
					t.Errorf("%s: incarnation %d replicas %v (%v); want %d %v", key, inc, reps, err, want.inc, want.replicas)
				}
			}
			if got := s.PlacementCursor(); got != tc.cursor {
				t.Errorf("cursor %d, want %d", got, tc.cursor)
			}
			checkRoundTrip(t, s)
		})
	}
}

func applyAll(t *testing.T, s *State, cmds []Command) *State {
	t.Helper()
	for _, c := range cmds {
		if err := s.Check(c); err != nil {
			t.Fatalf("check %s: %v", c.Type(), err)
		}
		if err := s.Apply(s.Index()+1, c); err != nil {
			t.Fatalf("apply %s: %v", c.Type(), err)
		}
	}
	return s
}

// checkRoundTrip checks that s survives a snapshot round trip byte for byte.
func checkRoundTrip(t *testing.T, s *State) {
	t.Helper()
	b := snap(t, s)
	r, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatalf("snapshot round trip: %v", err)
	}
	if b2 := snap(t, r); !bytes.Equal(b, b2) {
		t.Fatalf("snapshot round trip changed the state:\n%s\n%s", b, b2)
	}
}

func TestClusterMembersRefused(t *testing.T) {
	placedState := applyAll(t, NewState(), []Command{threeZones, createNS(ns), createHub(ns, "orders", 1)})
	for _, tc := range []struct {
		name string
		s    *State
		cmd  ClusterMembers
		code errcode.Code
		msg  string
	}{
		{"empty", NewState(), ClusterMembers{}, errcode.InvalidArgument, "has 0 members"},
		{"id 0", NewState(), ClusterMembers{Members: []Member{{ID: 0, Zone: "a", Name: "n"}}}, errcode.InvalidArgument, "node id 0"},
		{"duplicate id", NewState(), ClusterMembers{Members: []Member{{ID: 1, Zone: "a", Name: "n"}, {ID: 1, Zone: "b", Name: "m"}}}, errcode.InvalidArgument, "twice"},
		{"no zone", NewState(), ClusterMembers{Members: []Member{{ID: 1, Zone: "", Name: "n"}}}, errcode.InvalidArgument, "zone"},
		{"no name", NewState(), ClusterMembers{Members: []Member{{ID: 1, Zone: "a", Name: ""}}}, errcode.InvalidArgument, "name"},
		{"control character", NewState(), ClusterMembers{Members: []Member{{ID: 1, Zone: "a\n", Name: "n"}}}, errcode.InvalidArgument, "printable"},
		{"dropping a replica holder", placedState, ClusterMembers{Members: []Member{{ID: 1, Zone: "a", Name: "n1"}, {ID: 2, Zone: "b", Name: "n2"}, {ID: 4, Zone: "c", Name: "n4"}}},
			errcode.Conflict, "node 3 holds partition replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snap(t, tc.s)
			err := tc.s.Apply(tc.s.Index()+1, tc.cmd)
			if !errcode.Is(err, tc.code) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Apply: %v; want %s containing %q", err, tc.code, tc.msg)
			}
			if !bytes.Equal(before, snap(t, tc.s)) {
				t.Fatal("a refused command changed the state")
			}
		})
	}
	// A node that holds nothing may leave; a holder may change zone or name.
	s := applyAll(t, NewState(), []Command{
		ClusterMembers{Members: []Member{{ID: 1, Zone: "a", Name: "n1"}, {ID: 2, Zone: "b", Name: "n2"}, {ID: 3, Zone: "c", Name: "n3"}, {ID: 4, Zone: "a", Name: "n4"}}},
		createNS(ns), createHub(ns, "orders", 1),
		ClusterMembers{Members: []Member{{ID: 1, Zone: "z", Name: "renamed"}, {ID: 2, Zone: "b", Name: "n2"}, {ID: 3, Zone: "c", Name: "n3"}}},
	})
	if got := s.Members(); !reflect.DeepEqual(got, []Member{{ID: 1, Zone: "z", Name: "renamed"}, {ID: 2, Zone: "b", Name: "n2"}, {ID: 3, Zone: "c", Name: "n3"}}) {
		t.Fatalf("members %v", got)
	}
}

func TestPartitionGroup(t *testing.T) {
	s := applyAll(t, NewState(), []Command{createNS(ns), createHub(ns, "early", 1), threeZones,
		createHub(ns, "orders", 4), DeleteHub{Namespace: ns, Hub: "orders"}, createHub(ns, "orders", 4)})
	for _, tc := range []struct {
		hub  string
		p    int32
		want uint64
		code errcode.Code
	}{
		{"early", 0, 1<<cluster.PartitionBits | 0, ""},
		{"orders", 0, 3<<cluster.PartitionBits | 0, ""}, // incarnation 3: the deleted one had 2
		{"orders", 3, 3<<cluster.PartitionBits | 3, ""},
		{"orders", 4, 0, errcode.PartitionNotFound},
		{"orders", -1, 0, errcode.PartitionNotFound},
		{"missing", 0, 0, errcode.NotFound},
	} {
		g, err := s.PartitionGroup(ns, tc.hub, tc.p)
		if g != tc.want || errcode.CodeOf(err) != tc.code {
			t.Errorf("PartitionGroup(%s, %d) = %d, %v; want %d, code %q", tc.hub, tc.p, g, err, tc.want, tc.code)
		}
	}
	unplaced := applyAll(t, NewState(), []Command{createNS(ns), createHub(ns, "orders", 1)})
	if _, err := unplaced.PartitionGroup(ns, "orders", 0); !errcode.Is(err, errcode.Unavailable) {
		t.Fatalf("unplaced hub: %v, want Unavailable", err)
	}
}

func TestPlacementReadersReturnCopies(t *testing.T) {
	s := applyAll(t, NewState(), []Command{threeZones, createNS(ns), createHub(ns, "orders", 2)})
	before := snap(t, s)
	_, reps, _ := s.HubPlacement(ns, "orders")
	reps[0][0] = 99
	h, _ := s.Hub(ns, "orders")
	h.Replicas[1][0] = 99
	s.Members()[0].ID = 99
	if !bytes.Equal(before, snap(t, s)) {
		t.Fatal("a reader's result aliases the state")
	}
}

// TestLegacyReplay: a log and a snapshot written before placement existed replay to the same
// bytes, and recording the member list then places their hubs identically on both paths.
func TestLegacyReplay(t *testing.T) {
	want, err := os.ReadFile("testdata/legacy-snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/legacy-log.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	replayed := NewState()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if err := replayed.Apply(e.Index, e.Command); err != nil {
			t.Fatalf("entry %d: %v", e.Index, err)
		}
	}
	if got := snap(t, replayed); !bytes.Equal(got, want) {
		t.Fatalf("the legacy log replays to other bytes:\n got %s\nwant %s", got, want)
	}
	loaded, err := UnmarshalSnapshot(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap(t, loaded); !bytes.Equal(got, want) {
		t.Fatalf("the legacy snapshot re-encodes to other bytes:\n got %s\nwant %s", got, want)
	}
	for _, s := range []*State{replayed, loaded} {
		applyAll(t, s, []Command{threeZones})
	}
	if a, b := snap(t, replayed), snap(t, loaded); !bytes.Equal(a, b) {
		t.Fatalf("replayed log and loaded snapshot differ after recording members:\n%s\n%s", a, b)
	}
	// Name order: billing-ns/invoices (2), orders-ns/audit (1), orders-ns/orders (6).
	for _, w := range []struct {
		ns, hub string
		inc     uint64
		first   uint64 // preferred leader of partition 0
	}{{other, "invoices", 1, 1}, {ns, "audit", 2, 3}, {ns, "orders", 3, 1}} {
		inc, reps, err := replayed.HubPlacement(w.ns, w.hub)
		if err != nil || inc != w.inc || reps[0][0] != w.first {
			t.Errorf("%s/%s: incarnation %d replicas %v (%v); want incarnation %d led by %d", w.ns, w.hub, inc, reps, err, w.inc, w.first)
		}
	}
	if c := replayed.PlacementCursor(); c != 9 {
		t.Errorf("cursor %d, want 9", c)
	}
}

// TestReplicatedHubPlacedWithOwnMembers: a geo-DR secondary places a replicated hub with its
// own members and its own incarnation counter, never the primary's.
func TestReplicatedHubPlacedWithOwnMembers(t *testing.T) {
	const prim, sec = "prim-ns", "seco-ns"
	p := applyAll(t, NewState(), []Command{threeZones, createNS(prim), createHub(prim, "pre", 5), createHub(prim, "orders", 2)})
	s := applyAll(t, NewState(), []Command{
		ClusterMembers{Members: []Member{{ID: 7, Zone: "x", Name: "n7"}, {ID: 8, Zone: "y", Name: "n8"}}},
		createNS(sec),
		SetAlias{Namespace: sec, Alias: AliasConfig{Name: "the-alias", Role: RoleSecondary, Epoch: 1,
			Partner: &Peer{Region: "east", Namespace: prim}, ProvisioningState: ProvisioningAccepted}, Time: t0},
	})
	rc, _ := ForSecondary(createHub(prim, "orders", 2), sec)
	applyAll(t, s, []Command{Replicated{Namespace: sec, Alias: "the-alias", Through: p.Index(), Command: rc}})
	rc, _ = ForSecondary(UpdateHub{Namespace: prim, Hub: "orders", PartitionCount: 3, Time: t1}, sec)
	applyAll(t, s, []Command{Replicated{Namespace: sec, Alias: "the-alias", Through: p.Index() + 1, Command: rc}})
	inc, reps, err := s.HubPlacement(sec, "orders")
	if err != nil || inc != 1 || !reflect.DeepEqual(reps, [][]uint64{{7, 8}, {8, 7}, {7, 8}}) {
		t.Fatalf("secondary placement: incarnation %d replicas %v (%v); want 1 [[7 8] [8 7] [7 8]]", inc, reps, err)
	}
	if pinc, _, _ := p.HubPlacement(prim, "orders"); pinc != 2 {
		t.Fatalf("primary incarnation %d, want 2", pinc)
	}
	// The member list is region-local: it is not replicated.
	err = s.Apply(s.Index()+1, Replicated{Namespace: sec, Alias: "the-alias", Through: p.Index() + 2, Command: threeZones})
	if !errcode.Is(err, errcode.InvalidArgument) || Replicable(threeZones) {
		t.Fatalf("replicating ClusterMembers: %v, want InvalidArgument", err)
	}
}

func TestBootstrapMembers(t *testing.T) {
	nodes := []cluster.Member{{ID: 2, Zone: "b", Name: "n2"}, {ID: 1, Zone: "a", Name: "n1"}}
	s := NewState()
	c, err := BootstrapMembers(s, nodes)
	if err != nil || !reflect.DeepEqual(c, ClusterMembers{Members: []Member{{ID: 1, Zone: "a", Name: "n1"}, {ID: 2, Zone: "b", Name: "n2"}}}) {
		t.Fatalf("first boot: %v, %v", c, err)
	}
	applyAll(t, s, []Command{c})
	if c, err := BootstrapMembers(s, nodes); c != nil || err != nil {
		t.Fatalf("same list: %v, %v; want nothing to do", c, err)
	}
	nodes[0].Zone = "c"
	if _, err := BootstrapMembers(s, nodes); !errcode.Is(err, errcode.Mismatch) || !strings.Contains(err.Error(), "2=c/n2") {
		t.Fatalf("different list: %v, want Mismatch naming 2=c/n2", err)
	}
}

func TestSnapshotPlacementCorrupt(t *testing.T) {
	s := applyAll(t, NewState(), []Command{threeZones, createNS(ns), createHub(ns, "orders", 2)})
	good := string(snap(t, s))
	for name, bad := range map[string]string{
		"incarnation beyond the counter":    strings.Replace(good, `"incarnation":1,`, `"incarnation":5,`, 1),
		"replicas missing":                  strings.Replace(good, `"replicas":[[1,2,3],[2,3,1]]`, `"replicas":[[1,2,3]]`, 1),
		"placement in a version 1 snapshot": strings.Replace(good, `{"v":2,`, `{"v":1,`, 1),
		"members unsorted":                  strings.Replace(good, `{"id":1,"zone":"a","name":"n1"},{"id":2,`, `{"id":2,"zone":"a","name":"n1"},{"id":2,`, 1),
	} {
		if bad == good {
			t.Fatalf("%s: the replacement did not apply to %s", name, good)
		}
		if _, err := UnmarshalSnapshot([]byte(bad)); !errcode.Is(err, errcode.CorruptData) {
			t.Errorf("%s: %v, want CorruptData", name, err)
		}
	}
}

// randomPlacementCommand returns a random command touching placement (it may not apply).
func randomPlacementCommand(r *rand.Rand) Command {
	nss := []string{ns, other}
	n := nss[r.IntN(2)]
	hub := fmt.Sprintf("hub-%d", r.IntN(8))
	switch r.IntN(12) {
	case 0:
		var ms []Member
		for id := uint64(1); id <= 6; id++ {
			if id <= 3 || r.IntN(2) == 0 { // nodes 1-3 stay: they may hold replicas
				ms = append(ms, Member{ID: id, Zone: string(rune('a' + r.IntN(3))), Name: fmt.Sprint("n", id)})
			}
		}
		r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		return ClusterMembers{Members: ms}
	case 1:
		return createNS(n)
	case 2:
		return DeleteNamespace{Namespace: n}
	case 3, 4, 5, 6:
		return CreateHub{Namespace: n, Hub: hub, PartitionCount: int32(1 + r.IntN(6)), Time: t0}
	case 7, 8:
		return UpdateHub{Namespace: n, Hub: hub, PartitionCount: int32(1 + r.IntN(12)), Time: t1}
	default:
		return DeleteHub{Namespace: n, Hub: hub}
	}
}

// TestPlacementDeterministic: two states fed the same commands give identical snapshot bytes,
// as does a third restored from a snapshot halfway; incarnations are never reused and every
// placed hub has one replica set per partition, of members only.
func TestPlacementDeterministic(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 12))
		a, b := NewState(), NewState()
		var c *State
		tr := &placementTracker{}
		for step := range 400 {
			cmd := randomPlacementCommand(r)
			errA, errB := a.Apply(a.Index()+1, cmd), b.Apply(b.Index()+1, cmd)
			if errcode.CodeOf(errA) != errcode.CodeOf(errB) {
				t.Fatalf("seed %d step %d: %v vs %v", seed, step, errA, errB)
			}
			if c != nil {
				c.Apply(c.Index()+1, cmd)
			}
			if step == 200 {
				var err error
				if c, err = UnmarshalSnapshot(snap(t, a)); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
			}
			checkPlacementInvariants(t, a, tr, fmt.Sprintf("seed %d step %d", seed, step))
		}
		sa, sb, sc := snap(t, a), snap(t, b), snap(t, c)
		if !bytes.Equal(sa, sb) || !bytes.Equal(sa, sc) {
			t.Fatalf("seed %d: states fed the same commands differ:\n%s\n%s\n%s", seed, sa, sb, sc)
		}
		if a.PlacementCursor() == 0 {
			t.Fatalf("seed %d: nothing was placed", seed)
		}
	}
}

// placementTracker remembers the placed hubs of the previous step, to check that a newly
// placed hub always gets an incarnation above every one seen before (so none is reused).
type placementTracker struct {
	live    map[string]uint64 // "ns/hub" → incarnation
	maxSeen uint64
}

func checkPlacementInvariants(t *testing.T, s *State, tr *placementTracker, at string) {
	t.Helper()
	members := map[uint64]bool{}
	for _, m := range s.Members() {
		members[m.ID] = true
	}
	live := map[string]uint64{}
	var newMax uint64
	for _, n := range s.Namespaces() {
		hubs, _ := s.Hubs(n)
		for _, hub := range hubs {
			h, _ := s.Hub(n, hub)
			if len(members) == 0 {
				if h.Incarnation != 0 || h.Replicas != nil {
					t.Fatalf("%s: %s/%s placed without members", at, n, hub)
				}
				continue
			}
			key := n + "/" + hub
			live[key] = h.Incarnation
			if prev, ok := tr.live[key]; (!ok || prev != h.Incarnation) && h.Incarnation <= tr.maxSeen {
				t.Fatalf("%s: %s newly placed with incarnation %d, not above the %d seen before", at, key, h.Incarnation, tr.maxSeen)
			}
			newMax = max(newMax, h.Incarnation)
			if h.Incarnation == 0 || len(h.Replicas) != int(h.PartitionCount) {
				t.Fatalf("%s: %s incarnation %d, %d replica sets for %d partitions", at, key, h.Incarnation, len(h.Replicas), h.PartitionCount)
			}
			for _, rs := range h.Replicas {
				if len(rs) == 0 || len(rs) > cluster.Replicas || slices.ContainsFunc(rs, func(id uint64) bool { return !members[id] }) {
					t.Fatalf("%s: %s replicas %v, members %v", at, key, rs, s.Members())
				}
			}
		}
	}
	tr.live, tr.maxSeen = live, max(tr.maxSeen, newMax)
}

func TestSetMemberEndpoints(t *testing.T) {
	s := NewState()
	e := Endpoints{Kafka: "127.0.0.2:9092", HTTP: "http://127.0.0.2:8080", AMQP: "127.0.0.2:5672"}
	if err := s.Check(SetMemberEndpoints{ID: 2, Endpoints: e}); !errcode.Is(err, errcode.NotFound) {
		t.Fatalf("endpoints before a member list: %v, want NotFound", err)
	}
	applyAll(t, s, []Command{threeZones})
	for _, bad := range []Endpoints{{Kafka: "no-port"}, {KafkaTLS: "x"}, {HTTP: "ftp://h:1"}, {HTTP: "127.0.0.1:8080"}, {AMQP: "amqp://h:5672"}, {AMQP: "h"}} {
		if err := s.Check(SetMemberEndpoints{ID: 2, Endpoints: bad}); !errcode.Is(err, errcode.InvalidArgument) {
			t.Errorf("endpoints %+v: %v, want InvalidArgument", bad, err)
		}
	}
	before := s.Members()
	applyAll(t, s, []Command{SetMemberEndpoints{ID: 2, Endpoints: e}})
	if got, ok := s.MemberEndpoints(2); !ok || got != e {
		t.Fatalf("MemberEndpoints(2) = %+v, %v; want %+v", got, ok, e)
	}
	if _, ok := s.MemberEndpoints(1); ok {
		t.Fatal("node 1 recorded nothing but has endpoints")
	}
	if before[1].Endpoints != nil {
		t.Fatal("a member list read before SetMemberEndpoints changed under its reader")
	}
	// The member list recorded again keeps each member's endpoints, and still agrees with
	// the --cluster list a node starts with (which has no endpoints).
	applyAll(t, s, []Command{threeZones})
	if got, _ := s.MemberEndpoints(2); got != e {
		t.Fatalf("endpoints after ClusterMembers again = %+v, want %+v", got, e)
	}
	if cmd, err := BootstrapMembers(s, []cluster.Member{{ID: 1, Zone: "a", Name: "n1"}, {ID: 2, Zone: "b", Name: "n2"}, {ID: 3, Zone: "c", Name: "n3"}}); cmd != nil || err != nil {
		t.Fatalf("BootstrapMembers with endpoints recorded = %v, %v; want nil, nil", cmd, err)
	}
	b, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.MemberEndpoints(2); got != e {
		t.Fatalf("endpoints after a snapshot round trip = %+v, want %+v", got, e)
	}
}
