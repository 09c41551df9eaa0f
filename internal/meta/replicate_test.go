package meta

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// randomChange returns a random replicable change to namespace n of s (it may not apply).
func randomChange(r *rand.Rand, s *State, n string, step int) Command {
	at := t0.Add(time.Duration(step) * time.Second)
	hubs, _ := s.Hubs(n)
	pick := func() string {
		if len(hubs) == 0 || r.IntN(4) == 0 {
			return fmt.Sprintf("hub-%d", r.IntN(12))
		}
		return hubs[r.IntN(len(hubs))]
	}
	switch r.IntN(10) {
	case 0, 1:
		return CreateHub{Namespace: n, Hub: pick(), PartitionCount: int32(1 + r.IntN(8)), MaxEventBytes: int32(1024 * (1 + r.IntN(100))), Time: at}
	case 2:
		rb := int64(r.IntN(3)) << 30
		return UpdateHub{Namespace: n, Hub: pick(), PartitionCount: int32(1 + r.IntN(16)), RetentionBytes: &rb, Time: at}
	case 3:
		return DeleteHub{Namespace: n, Hub: pick()}
	case 4, 5:
		return CreateGroup{Namespace: n, Hub: pick(), Group: fmt.Sprintf("g-%d", r.IntN(6)), UserMetadata: fmt.Sprint(r.IntN(3)), Time: at}
	case 6:
		return DeleteGroup{Namespace: n, Hub: pick(), Group: fmt.Sprintf("g-%d", r.IntN(6))}
	case 7:
		hub := ""
		if r.IntN(2) == 0 {
			hub = pick()
		}
		return PutPolicy{Namespace: n, Hub: hub, Name: fmt.Sprintf("rule-%d", r.IntN(3)), Rights: auth.Rights{auth.Send},
			PrimaryKey: []string{key1, key2, key3}[r.IntN(3)], SecondaryKey: key2, Time: at}
	case 8:
		return RegenerateKey{Namespace: n, Name: RootPolicyName, KeyType: PrimaryKey, Key: []string{key1, key3}[r.IntN(2)], Time: at}
	default:
		return UpdateNamespace{Namespace: n, NetworkRules: &NetworkRules{DefaultAction: Deny,
			IPRules: []IPRule{{CIDR: fmt.Sprintf("10.0.%d.0/24", r.IntN(4)), Action: Allow}}},
			SetLabels: map[string]string{"env": fmt.Sprint(r.IntN(3))}, Tier: Premium, Time: at}
	}
}

// replicated is the part of a namespace geo-DR copies, for comparing two sides.
func replicated(t *testing.T, s *State, n string) *Namespace {
	t.Helper()
	ns, err := s.Namespace(n)
	if err != nil {
		t.Fatal(err)
	}
	ns.Name, ns.Tier, ns.Cluster, ns.Alias, ns.Offsets = "", "", "", nil, nil
	ns.NetworkRules.PrivateEndpoints = nil
	ns.CreatedAt, ns.UpdatedAt = t0, t0
	for _, h := range ns.Hubs {
		h.Incarnation, h.Replicas = 0, nil // placement is region-local
		h.UpdatedAt = t0
		for _, g := range h.Groups {
			if g.Name == DefaultGroup {
				g.CreatedAt = t0
			}
		}
	}
	return ns
}

func TestReplicationConverges(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			const prim, sec = "prim-ns", "seco-ns"
			p, s := NewState(), NewState()
			apply := func(st *State, c Command) error { return st.Apply(st.Index()+1, c) }
			must := func(st *State, c Command) {
				t.Helper()
				if err := apply(st, c); err != nil {
					t.Fatalf("%s: %v", c.Type(), err)
				}
			}
			// Each region has its own members; placement is never copied across (seeds 0-9 keep
			// both regions without a member list, the old way).
			if seed >= 10 {
				must(p, threeZones)
				must(s, ClusterMembers{Members: []Member{{ID: 7, Zone: "x", Name: "n7"}, {ID: 8, Zone: "y", Name: "n8"}, {ID: 9, Zone: "z", Name: "n9"}}})
			}
			must(p, CreateNamespace{Namespace: prim, RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0})
			must(s, CreateNamespace{Namespace: sec, Tier: Dedicated, Cluster: "c1", RootPrimaryKey: key3, RootSecondaryKey: key3,
				NetworkRules: NetworkRules{PrivateEndpoints: []string{"127.0.0.1:7000"}}, Time: t0})
			// Some history on the primary before pairing, and stray entities on the secondary
			// (a snapshot sync must remove them).
			for i := range 60 {
				apply(p, randomChange(r, p, prim, i))
				if i%5 == 0 {
					apply(s, randomChange(r, s, sec, i))
				}
			}
			must(s, SetAlias{Namespace: sec, Alias: AliasConfig{Name: "the-alias", Role: RoleSecondary, Epoch: 1,
				Partner: &Peer{Region: "east", Namespace: prim}, ProvisioningState: ProvisioningAccepted}, Time: t0})

			local, _ := s.Namespace(sec)
			primary, _ := p.Namespace(prim)
			for _, c := range SyncCommands(local, primary) {
				must(s, Replicated{Namespace: sec, Alias: "the-alias", Command: c})
			}
			must(s, Replicated{Namespace: sec, Alias: "the-alias", Through: p.Index()})
			if got, want := replicated(t, s, sec), replicated(t, p, prim); !reflect.DeepEqual(got, want) {
				t.Fatalf("after snapshot sync:\n got %+v\nwant %+v", got, want)
			}

			// Then the log: every change of the primary, applied exactly once.
			for i := range 200 {
				c := randomChange(r, p, prim, 100+i)
				if apply(p, c) != nil {
					continue
				}
				rc, ok := ForSecondary(c, sec)
				if !ok {
					t.Fatalf("%s is not replicable", c.Type())
				}
				must(s, Replicated{Namespace: sec, Alias: "the-alias", Through: p.Index(), Command: rc})
				if i%17 == 0 { // a repeat of an applied change is refused and changes nothing
					before, _ := s.MarshalSnapshot()
					err := apply(s, Replicated{Namespace: sec, Alias: "the-alias", Through: p.Index(), Command: rc})
					if !errcode.Is(err, errcode.AlreadyExists) {
						t.Fatalf("repeat: %v, want AlreadyExists", err)
					}
					if after, _ := s.MarshalSnapshot(); string(after) != string(before) {
						t.Fatal("a refused repeat changed the state")
					}
				}
			}
			if got, want := replicated(t, s, sec), replicated(t, p, prim); !reflect.DeepEqual(got, want) {
				t.Fatalf("after the log:\n got %+v\nwant %+v", got, want)
			}
			local, _ = s.Namespace(sec)
			primary, _ = p.Namespace(prim)
			if cmds := SyncCommands(local, primary); len(cmds) != 0 {
				t.Fatalf("sides agree but SyncCommands returns %d commands: %+v", len(cmds), cmds)
			}

			// Divergence on the secondary (changes that did not come from the primary) is
			// undone by the next snapshot sync.
			for i := range 40 {
				apply(s, randomChange(r, s, sec, 100+i))
			}
			local, _ = s.Namespace(sec)
			for _, c := range SyncCommands(local, primary) {
				must(s, Replicated{Namespace: sec, Alias: "the-alias", Command: c})
			}
			if got, want := replicated(t, s, sec), replicated(t, p, prim); !reflect.DeepEqual(got, want) {
				t.Fatalf("after resync:\n got %+v\nwant %+v", got, want)
			}
			local, _ = s.Namespace(sec)
			if cmds := SyncCommands(local, primary); len(cmds) != 0 {
				t.Fatalf("sides agree but SyncCommands returns %d commands: %+v", len(cmds), cmds)
			}
			for name, h := range local.Hubs {
				for _, rs := range h.Replicas {
					if slices.ContainsFunc(rs, func(id uint64) bool { return id < 7 }) {
						t.Fatalf("secondary hub %s is placed on the primary's nodes: %v", name, h.Replicas)
					}
				}
				if seed >= 10 && len(h.Replicas) != int(h.PartitionCount) {
					t.Fatalf("secondary hub %s is not placed: %v", name, h.Replicas)
				}
			}
			if local.Tier != Dedicated || len(local.NetworkRules.PrivateEndpoints) != 1 || local.Alias.Through != p.Index() {
				t.Fatalf("secondary's own settings or cursor changed: tier %s, endpoints %v, through %d (want %d)",
					local.Tier, local.NetworkRules.PrivateEndpoints, local.Alias.Through, p.Index())
			}
		})
	}
}

func TestReplicatedRefusedOffSecondary(t *testing.T) {
	s := baseState(t)
	err := s.Apply(s.Index()+1, Replicated{Namespace: ns, Alias: "the-alias", Through: 1,
		Command: CreateHub{Namespace: ns, Hub: "x", Time: t0}})
	if !errcode.Is(err, errcode.Conflict) {
		t.Fatalf("replicated change on a namespace that is no secondary: %v, want Conflict", err)
	}
	if err := s.Apply(s.Index()+1, SetAlias{Namespace: ns, Alias: AliasConfig{Name: "the-alias", Role: RoleSecondary, Epoch: 1,
		Partner: &Peer{Namespace: "p"}, ProvisioningState: ProvisioningSucceeded}, Time: t0}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Command{
		CommitOffsets{Namespace: ns, Group: "g", Hub: "orders", Time: t0},
		CreateHub{Namespace: "other-ns", Hub: "x", Time: t0},
		DeleteNamespace{Namespace: ns},
	} {
		err := s.Apply(s.Index()+1, Replicated{Namespace: ns, Alias: "the-alias", Through: 5, Command: c})
		if !errcode.Is(err, errcode.InvalidArgument) {
			t.Errorf("replicating %s: %v, want InvalidArgument", c.Type(), err)
		}
	}
}
