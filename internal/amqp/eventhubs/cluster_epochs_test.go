package eventhubs

import (
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// The rules a node applies to another node's claim on a partition where it has a receiver.
func TestRemoteClaim(t *testing.T) {
	ep := func(e int64) *int64 { return &e }
	claim := func(e *int64, reassert bool) broker.OwnerLevelClaim {
		return broker.OwnerLevelClaim{ClaimOwnerLevel: meta.ClaimOwnerLevel{Receiver: "remote", Epoch: e, Node: 2, Reassert: reassert}, Index: 10}
	}
	for _, tc := range []struct {
		name             string
		local            *int64 // the local receiver's epoch
		claim            broker.OwnerLevelClaim
		stolen, reassert bool
		text             string
	}{
		{"higher epoch steals", ep(1), claim(ep(2), false), true, false, "New receiver 'remote' with higher epoch of '2'"},
		{"equal epoch steals (the newer wins)", ep(2), claim(ep(2), false), true, false, "New receiver"},
		{"an epoch steals a receiver without one", nil, claim(ep(0), false), true, false, "with epoch 'none'"},
		{"lower epoch is answered", ep(3), claim(ep(2), false), false, true, ""},
		{"no epoch is answered by an epoch receiver", ep(0), claim(nil, false), false, true, ""},
		{"receivers without epochs share", nil, claim(nil, false), false, false, ""},
		{"an answer detaches a lower epoch", ep(1), claim(ep(2), true), true, false, "cannot be created because receiver 'remote' with a higher epoch of '2'"},
		{"an answer detaches a receiver without epoch", nil, claim(ep(2), true), true, false, "non-epoch receiver 'local' is not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newEpochRegistry(5)
			k := epochKey{ns: "ns", hub: "hub", group: "$Default", partition: 1}
			o, ferr := r.register(k, "local", tc.local)
			if ferr != nil {
				t.Fatal(ferr)
			}
			stolen, reassert := r.remoteClaim(k, o, tc.claim)
			if stolen != tc.stolen || reassert != tc.reassert {
				t.Fatalf("stolen %v reassert %v, want %v %v", stolen, reassert, tc.stolen, tc.reassert)
			}
			select {
			case <-o.Stolen():
				if !tc.stolen || o.Reason().Condition != condStolen || !strings.Contains(o.Reason().Description, tc.text) {
					t.Fatalf("detached with %v", o.Reason())
				}
				if r.count(k) != 0 {
					t.Fatal("a stolen receiver stays registered")
				}
			default:
				if tc.stolen {
					t.Fatal("not detached")
				}
			}
			// A receiver already gone is not answered for.
			r.unregister(k, o)
			if s, re := r.remoteClaim(k, o, tc.claim); !s || re {
				t.Fatalf("a closed receiver: stolen %v reassert %v", s, re)
			}
		})
	}
}

// A claim made for a registered receiver carries what the other nodes compare.
func TestClaimOf(t *testing.T) {
	r := newEpochRegistry(5)
	k := epochKey{ns: "ns", hub: "hub", group: "$Default", partition: 3}
	e := int64(7)
	o, _ := r.register(k, "p1", &e)
	c := claimOf(k, o, true)
	if c.Namespace != "ns" || c.Hub != "hub" || c.Group != "$Default" || c.Partition != 3 || c.Epoch == nil || *c.Epoch != 7 ||
		c.Receiver != "p1" || c.ID != o.id || !c.Reassert {
		t.Fatalf("claim %+v", c)
	}
	o2, _ := newEpochRegistry(5).register(k, "p2", nil)
	if c := claimOf(k, o2, false); c.Epoch != nil || c.Reassert {
		t.Fatalf("claim without epoch %+v", c)
	}
}
