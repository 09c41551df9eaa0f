package meta

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestKeptCountsMatchScans applies random hub commands (names that clash only in case
// among them, Kelvin sign included) and checks the kept partition count and folded-name index
// against scans of the state, also after a snapshot round trip.
func TestKeptCountsMatchScans(t *testing.T) {
	names := []string{"orders", "ORDERS", "Orders", "k-hub", "\u212a-hub", "K-HUB", "other", "x\xffy", "x\xfey"}
	hubsSeen := 0
	for seed := uint64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		s := NewState()
		idx := uint64(0)
		apply := func(c Command) {
			if s.Check(c) == nil && s.Apply(idx+1, c) == nil {
				idx = s.Index()
			}
		}
		for step := range 300 {
			ns := fmt.Sprint("space-", rng.IntN(2))
			name := names[rng.IntN(len(names))]
			switch rng.IntN(6) {
			case 0:
				apply(CreateNamespace{Namespace: ns, RootPrimaryKey: key1, RootSecondaryKey: key2, Time: t0})
			case 1:
				if rng.IntN(4) == 0 {
					apply(DeleteNamespace{Namespace: ns})
				}
			case 2, 3:
				// Apply, not Check: a log from before the case rule may hold clashing names.
				if s.Apply(idx+1, CreateHub{Namespace: ns, Hub: name, PartitionCount: int32(1 + rng.IntN(8)), Time: t0}) == nil {
					idx = s.Index()
				}
			case 4:
				apply(UpdateHub{Namespace: ns, Hub: name, PartitionCount: int32(8 + rng.IntN(8)), Time: t1})
			case 5:
				apply(DeleteHub{Namespace: ns, Hub: name})
			}
			check := func(st *State, what string) {
				if got, want := st.TotalPartitions(), st.countAllPartitions(); got != want {
					t.Fatalf("seed %d step %d %s: kept partition count %d, a scan counts %d", seed, step, what, got, want)
				}
				for nsName, n := range st.namespaces {
					for _, probe := range names {
						var want []string
						for h := range n.Hubs {
							if strings.EqualFold(h, probe) {
								want = append(want, h)
							}
						}
						got := slices.Clone(n.foldedHubs(probe))
						slices.Sort(got)
						slices.Sort(want)
						if !slices.Equal(got, want) {
							t.Fatalf("seed %d step %d %s: namespace %s, hubs folding to %q: index %q, scan %q", seed, step, what, nsName, probe, got, want)
						}
					}
				}
			}
			check(s, "")
			for _, n := range s.namespaces {
				hubsSeen += len(n.Hubs)
			}
			if step%50 == 0 {
				b, err := s.MarshalSnapshot()
				if err != nil {
					t.Fatal(err)
				}
				r, err := UnmarshalSnapshot(b)
				if err != nil {
					t.Fatal(err)
				}
				check(r, "after a snapshot")
			}
		}
	}
	if hubsSeen < 1000 {
		t.Fatalf("the sequences held only %d hubs over all steps; they test little", hubsSeen)
	}
}
