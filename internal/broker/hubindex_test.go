package broker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// flatIndex is a hub index in a form two indexes built in different ways compare in.
type flatIndex struct {
	Hubs      map[[2]string]HubInfo
	Rules     map[string]meta.NetworkRules
	Secondary map[string]string
	Aliases   map[string]aliasEntry
}

func flatten(x *hubIndex) flatIndex {
	f := flatIndex{Hubs: map[[2]string]HubInfo{}, Rules: map[string]meta.NetworkRules{},
		Secondary: map[string]string{}, Aliases: x.aliases}
	for ns, n := range x.ns {
		f.Rules[ns] = n.rules
		if n.secondaryOf != "" {
			f.Secondary[ns] = n.secondaryOf
		}
		count := 0
		n.hubs.each(func(h HubInfo) bool {
			f.Hubs[[2]string{ns, h.Name}] = h
			count++
			return true
		})
		if count != n.hubs.n {
			panic(fmt.Sprintf("namespace %s: trie counts %d hubs and holds %d", ns, n.hubs.n, count))
		}
	}
	return f
}

// TestHubIndexIncrementalMatchesRebuild applies random command sequences (every kind that
// changes what the index holds, and some that do not), refreshing the index after random runs
// of them, and compares the incrementally updated index with one rebuilt from the state.
func TestHubIndexIncrementalMatchesRebuild(t *testing.T) {
	applied := map[string]int{} // commands applied, by type, over every seed
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 17))
			b := openScaleBroker(t)
			ctx := context.Background()
			now := time.Now().UTC()
			nss := []string{"scale-ns", "space-b", "space-c"}
			hubs := []string{"h0", "h1", "h2", "h3", "h4", "h5"}
			key, _ := auth.GenerateKey()
			rebuilds := 0
			for step := 0; step < 400; step++ {
				now = now.Add(time.Millisecond)
				ns, hub := nss[rng.IntN(len(nss))], hubs[rng.IntN(len(hubs))]
				var c meta.Command
				switch rng.IntN(16) {
				case 0:
					c = meta.CreateNamespace{Namespace: ns, Tier: meta.Premium, NetworkRules: meta.NetworkRules{DefaultAction: meta.Allow},
						RootPrimaryKey: key, RootSecondaryKey: key, Time: now}
				case 1:
					if rng.IntN(3) == 0 {
						c = meta.DeleteNamespace{Namespace: ns}
					}
				case 2:
					r := meta.NetworkRules{DefaultAction: meta.Allow, IPRules: []meta.IPRule{{CIDR: fmt.Sprintf("10.0.0.%d", rng.IntN(9)), Action: meta.Deny}}}
					c = meta.UpdateNamespace{Namespace: ns, NetworkRules: &r, Time: now}
				case 3, 4, 5:
					c = meta.CreateHub{Namespace: ns, Hub: hub, PartitionCount: int32(1 + rng.IntN(3)), Time: now}
				case 6:
					c = meta.UpdateHub{Namespace: ns, Hub: hub, PartitionCount: 4, RetentionTime: time.Duration(1+rng.IntN(5)) * time.Hour, Time: now}
				case 7:
					c = meta.DeleteHub{Namespace: ns, Hub: hub}
				case 8:
					c = meta.CreateGroup{Namespace: ns, Hub: hub, Group: fmt.Sprint("g", rng.IntN(2)), Time: now}
				case 9, 14, 15:
					c = meta.DeleteGroup{Namespace: ns, Hub: hub, Group: fmt.Sprint("g", rng.IntN(2))}
				case 10:
					c = meta.CommitOffsets{Namespace: ns, Hub: hub, Group: meta.DefaultGroup, Time: now,
						Offsets: []meta.PartitionOffset{{Partition: 0, Offset: int64(step)}}}
				case 11:
					c = meta.SetAlias{Namespace: ns, Alias: meta.AliasConfig{Name: "alias-" + ns, Role: meta.RolePrimary,
						Epoch: uint64(step + 1), ProvisioningState: "Succeeded"}, Time: now}
				case 12:
					c = meta.ClearAlias{Namespace: ns, Time: now}
				case 13:
					c = meta.PutPolicy{Namespace: ns, Hub: hub, Name: "send", Rights: auth.Rights{auth.Send},
						PrimaryKey: key, SecondaryKey: key, Time: now}
				}
				if c != nil {
					if _, err := b.meta.Propose(ctx, c); err == nil {
						applied[fmt.Sprintf("%T", c)]++
					} // many fail their checks; a failure changes nothing
				}
				if rng.IntN(4) != 0 {
					continue
				}
				before := b.hubs.Load()
				b.refreshHubs()
				if b.hubs.Load() != before {
					rebuilds++
				}
				var want *hubIndex
				b.meta.View(func(s *meta.State) { want = b.buildHubIndex(s) })
				if got, w := flatten(b.hubs.Load()), flatten(want); !reflect.DeepEqual(got, w) {
					t.Fatalf("seed %d step %d: after %T the updated index differs from a rebuild:\n got %+v\nwant %+v", seed, step, c, got, w)
				}
			}
			if rebuilds < 20 {
				t.Fatalf("seed %d: %d refreshes changed the index; the sequence tests little", seed, rebuilds)
			}
		})
	}
	if len(applied) < 12 {
		t.Fatalf("commands applied %v: some kind never applied; the sequences test little", applied)
	}
}

// TestHubIndexUnchangedByOffsetCommits checks that a commit leaves the index, the very
// pointer (credentials are rechecked when it changes), as it was.
func TestHubIndexUnchangedByOffsetCommits(t *testing.T) {
	b := openScaleBroker(t)
	addHubs(t, b, "scale-ns", 3)
	before := b.hubs.Load()
	if err := b.CommitOffsets(context.Background(), "scale-ns", meta.DefaultGroup, "h1", []OffsetCommit{{Partition: 0, Offset: 5}}); err != nil {
		t.Fatal(err)
	}
	b.refreshHubs()
	if b.hubs.Load() != before {
		t.Fatal("an offset commit replaced the hub index")
	}
	if b.hubsAt.Load() != b.meta.Index() {
		t.Fatalf("hub index at %d, metadata at %d", b.hubsAt.Load(), b.meta.Index())
	}
}

// TestHubTrie checks the persistent trie against a map, and that an edit leaves the trie it
// came from as it was.
func TestHubTrie(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tr hubTrie
	want := map[string]int32{}
	for i := 0; i < 5000; i++ {
		name := fmt.Sprint("hub-", rng.IntN(800))
		prev, prevWant := tr, len(want)
		if rng.IntN(3) == 0 {
			tr = tr.without(name)
			delete(want, name)
		} else {
			tr = tr.with(HubInfo{Name: name, Partitions: int32(i)})
			want[name] = int32(i)
		}
		if prev.n != prevWant {
			t.Fatalf("step %d: an edit changed the count of the trie it came from", i)
		}
		if tr.n != len(want) {
			t.Fatalf("step %d: trie counts %d, want %d", i, tr.n, len(want))
		}
	}
	got := map[string]int32{}
	tr.each(func(h HubInfo) bool { got[h.Name] = h.Partitions; return true })
	if !reflect.DeepEqual(got, want) {
		t.Fatal("trie content differs from the map")
	}
	for name, p := range want {
		if h, ok := tr.get(name); !ok || h.Partitions != p {
			t.Fatalf("get %s: %v %v", name, h, ok)
		}
	}
}

// allocsAt returns the allocations per call of fn on a broker whose namespace holds hubs hubs.
func allocsAt(t *testing.T, hubs int, fn func(b *Broker, i int)) float64 {
	b := openScaleBroker(t)
	addHubs(t, b, "scale-ns", hubs)
	i := 0
	fn(b, -1) // warm up: open what the first call opens
	return testing.AllocsPerRun(40, func() { fn(b, i); i++ })
}

// TestMetadataCommandAllocsDoNotGrowWithHubs: a hub creation, a hub update and an offset
// commit allocate as much with 1,000 hubs in the namespace as with 10 (the cliff of issue 17
// was a copy of every namespace per command: thousands of allocations at 1,000 hubs).
func TestMetadataCommandAllocsDoNotGrowWithHubs(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		fn   func(b *Broker, i int)
	}{
		{"CreateHub", func(b *Broker, i int) {
			if err := b.CreateHub(ctx, "scale-ns", HubSpec{Name: fmt.Sprint("new", i+1), Partitions: 1}); err != nil {
				t.Fatal(err)
			}
		}},
		{"UpdateHub", func(b *Broker, i int) {
			if err := b.UpdateHub(ctx, "scale-ns", HubSpec{Name: "h1", MaxEventBytes: int32(4096 + i + 1)}); err != nil {
				t.Fatal(err)
			}
		}},
		{"CommitOffsets", func(b *Broker, i int) {
			if err := b.CommitOffsets(ctx, "scale-ns", meta.DefaultGroup, "h2", []OffsetCommit{{Partition: 0, Offset: int64(i + 1)}}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			few, many := allocsAt(t, 10, c.fn), allocsAt(t, 1000, c.fn)
			t.Logf("%s: %.0f allocations per call at 10 hubs, %.0f at 1,000", c.name, few, many)
			if many > few*1.1+5 {
				t.Fatalf("%s allocates %.0f times per call with 1,000 hubs and %.0f with 10: its cost grows with the hubs it does not touch", c.name, many, few)
			}
		})
	}
}
