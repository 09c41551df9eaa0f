package meta

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func claim(p int32, owner, ifMatch, etag string) OwnershipClaim {
	return OwnershipClaim{Partition: p, OwnerID: owner, IfMatch: ifMatch, ETag: etag}
}

func claimCmd(at time.Time, claims ...OwnershipClaim) ClaimOwnership {
	return ClaimOwnership{Namespace: ns, Hub: "orders", Group: "billing", Claims: claims, Time: at}
}

// TestOwnershipCompareAndSet walks one partition's ownership through the claims an SDK's
// processors make: a first claim, a competing first claim, a renewal, a stale takeover, a
// relinquish and a takeover of the relinquished partition.
func TestOwnershipCompareAndSet(t *testing.T) {
	s := baseState(t)
	idx := s.Index()
	steps := []struct {
		name  string
		cmd   Command
		code  errcode.Code // "" means the command applies (a claim in it may still lose)
		owner string       // then partition 1's owner and ETag ("" ETag: no ownership)
		etag  string
	}{
		{"a claim of a missing group", ClaimOwnership{Namespace: ns, Hub: "orders", Group: "nope", Claims: []OwnershipClaim{claim(1, "a", "", "e1")}, Time: t0}, errcode.NotFound, "", ""},
		{"a claim of a missing partition", claimCmd(t0, claim(9, "a", "", "e1")), errcode.PartitionNotFound, "", ""},
		{"a claim without a new ETag", claimCmd(t0, claim(1, "a", "", "")), errcode.InvalidArgument, "", ""},
		{"a partition twice", claimCmd(t0, claim(1, "a", "", "e1"), claim(1, "a", "", "e2")), errcode.InvalidArgument, "", ""},
		{"an empty claim", claimCmd(t0), errcode.InvalidArgument, "", ""},
		{"a takeover of what does not exist loses", claimCmd(t0, claim(1, "a", "x", "e0")), "", "", ""},
		{"a first claim wins", claimCmd(t0, claim(1, "a", "", "e1")), "", "a", "e1"},
		{"a competing first claim loses", claimCmd(t0, claim(1, "b", "", "e2")), "", "a", "e1"},
		{"the owner renews", claimCmd(t1, claim(1, "a", "e1", "e3")), "", "a", "e3"},
		{"a takeover with the stale ETag loses", claimCmd(t1, claim(1, "b", "e1", "e4")), "", "a", "e3"},
		{"a takeover with the current ETag wins", claimCmd(t1, claim(1, "b", "e3", "e5")), "", "b", "e5"},
		{"the owner relinquishes", claimCmd(t1, claim(1, "", "e5", "e6")), "", "", "e6"},
		{"a relinquished partition is claimed by its ETag", claimCmd(t1, claim(1, "c", "e6", "e7")), "", "c", "e7"},
	}
	for _, st := range steps {
		idx++
		err := s.Apply(idx, st.cmd)
		if errcode.CodeOf(err) != st.code {
			t.Fatalf("%s: error %v, want code %q", st.name, err, st.code)
		}
		if err != nil {
			idx--
		}
		own, err := s.Ownerships(ns, "billing", "orders")
		if err != nil {
			t.Fatal(err)
		}
		o, ok := own[1]
		if ok != (st.etag != "") || o.OwnerID != st.owner || o.ETag != st.etag {
			t.Fatalf("%s: partition 1 is %+v (present %v), want owner %q etag %q", st.name, o, ok, st.owner, st.etag)
		}
	}
	if o := mustOwnership(t, s)[1]; !o.LastModified.Equal(t1) {
		t.Fatalf("last modified %v, want the winning claim's time %v", o.LastModified, t1)
	}
}

func mustOwnership(t *testing.T, s *State) map[int32]Ownership {
	t.Helper()
	own, err := s.Ownerships(ns, "billing", "orders")
	if err != nil {
		t.Fatal(err)
	}
	return own
}

// TestOwnershipManyClaims: the claims of one command win or lose each on its own.
func TestOwnershipManyClaims(t *testing.T) {
	s := baseState(t)
	idx := s.Index() + 1
	if err := s.Apply(idx, claimCmd(t0, claim(0, "a", "", "a0"), claim(1, "a", "", "a1"))); err != nil {
		t.Fatal(err)
	}
	idx++
	if err := s.Apply(idx, claimCmd(t1, claim(0, "b", "stale", "b0"), claim(1, "b", "a1", "b1"), claim(2, "b", "", "b2"))); err != nil {
		t.Fatal(err)
	}
	own := mustOwnership(t, s)
	want := map[int32]string{0: "a", 1: "b", 2: "b"}
	if len(own) != len(want) {
		t.Fatalf("ownership %+v", own)
	}
	for p, w := range want {
		if own[p].OwnerID != w {
			t.Fatalf("partition %d owned by %q, want %q (%+v)", p, own[p].OwnerID, w, own)
		}
	}
}

// TestOwnershipDroppedWithGroupAndHub: deleting the group or the hub drops its ownership, so a
// group created again under the same name starts unowned.
func TestOwnershipDroppedWithGroupAndHub(t *testing.T) {
	s := baseState(t)
	apply := func(c Command) {
		t.Helper()
		if err := s.Apply(s.Index()+1, c); err != nil {
			t.Fatal(err)
		}
	}
	apply(claimCmd(t0, claim(0, "a", "", "e1")))
	apply(DeleteGroup{Namespace: ns, Hub: "orders", Group: "billing"})
	apply(CreateGroup{Namespace: ns, Hub: "orders", Group: "billing", Time: t1})
	if own := mustOwnership(t, s); len(own) != 0 {
		t.Fatalf("a recreated group inherited ownership %+v", own)
	}
	apply(claimCmd(t0, claim(0, "a", "", "e2")))
	apply(DeleteHub{Namespace: ns, Hub: "orders"})
	n, err := s.Namespace(ns)
	if err != nil {
		t.Fatal(err)
	}
	if n.Ownership != nil {
		t.Fatalf("ownership of a deleted hub is kept: %+v", n.Ownership)
	}
	// Ownership is not copied to a geo-DR secondary.
	if Replicable(claimCmd(t0, claim(0, "a", "", "e3"))) {
		t.Fatal("ClaimOwnership is replicable")
	}
}

// TestOwnershipSnapshot: a snapshot with ownership is version 4, restores it, and a version
// before 4 carrying ownership is refused rather than silently read.
func TestOwnershipSnapshot(t *testing.T) {
	s := baseState(t)
	if b := snap(t, s); !bytes.HasPrefix(b, []byte(`{"v":1,`)) {
		t.Fatalf("a state without ownership is not written as before: %.40s", b)
	}
	if err := s.Apply(s.Index()+1, claimCmd(t0, claim(2, "a", "", "e1"))); err != nil {
		t.Fatal(err)
	}
	b := snap(t, s)
	if !bytes.HasPrefix(b, []byte(`{"v":4,`)) {
		t.Fatalf("snapshot with ownership starts %.40s", b)
	}
	r, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if o := mustOwnership(t, r)[2]; o.OwnerID != "a" || o.ETag != "e1" || !o.LastModified.Equal(t0) {
		t.Fatalf("restored ownership %+v", o)
	}
	if !bytes.Equal(snap(t, r), b) {
		t.Fatal("snapshot of the restored state differs")
	}
	if _, err := UnmarshalSnapshot(bytes.Replace(b, []byte(`{"v":4,`), []byte(`{"v":3,`), 1)); !errcode.Is(err, errcode.CorruptData) {
		t.Fatalf("version 3 with ownership: %v", err)
	}
}

// TestStoreOwnershipRaceAndRestart: many proposers race to take the same partition with the
// same ETag through a Store; exactly one wins each round, and the ownership survives a
// reopen of the store from disk.
func TestStoreOwnershipRaceAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 7) // snapshots now and then, so the reopen reads one and a log tail
	proposeHubs(t, s, 0, 0)
	ctx := context.Background()
	etag := ""
	const rounds, racers = 10, 6
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for r := 0; r < racers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := fmt.Sprintf("r%d-%d", round, r)
				var won bool
				_, err := s.ProposeView(ctx, claimCmd(t0, claim(3, mine, etag, mine)), func(st *State) {
					own, _ := st.Ownerships(ns, "billing", "orders")
					won = own[3].ETag == mine
				})
				if err != nil {
					t.Error(err)
					return
				}
				if won {
					mu.Lock()
					winners = append(winners, mine)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d (etag %q): %d winners %v, want exactly 1", round, etag, len(winners), winners)
		}
		etag = winners[0]
		s.View(func(st *State) {
			own, _ := st.Ownerships(ns, "billing", "orders")
			if own[3].ETag != etag || own[3].OwnerID != etag {
				t.Fatalf("round %d: the state has %+v, the winner was %s", round, own[3], etag)
			}
		})
	}
	want := storeSnap(t, s)
	s.Close()
	s = openStore(t, dir, 7)
	defer s.Close()
	if !bytes.Equal(want, storeSnap(t, s)) {
		t.Fatal("state after reopen differs")
	}
	s.View(func(st *State) {
		if own, _ := st.Ownerships(ns, "billing", "orders"); own[3].ETag != etag {
			t.Fatalf("after reopen partition 3 is %+v, want etag %s", own[3], etag)
		}
	})
}
