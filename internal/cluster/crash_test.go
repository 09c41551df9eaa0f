package cluster

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

// TestPowerLossMidLoad runs the three nodes on crashable in-memory file
// systems. Mid-load, one node loses power: its transport stops first (a dead
// machine sends nothing more), then its FS is CrashCloned (unsynced bytes
// lost, torn tails with a seeded Rand) and the node is closed. It restarts on
// the clone. Every proposal whose Propose returned must be on every node
// after catch-up, and all nodes must hold the same list (no divergent entry).
// The first round crashes the leader, the second a follower.
func TestPowerLossMidLoad(t *testing.T) {
	const seed = 12
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	tc := newTestCluster(t)
	fss := make([]*crashfs.FS, 3)
	for i := range 3 {
		fss[i] = crashfs.New()
		tc.fss[i] = fss[i]
		tc.dirs[i] = fmt.Sprintf("/node%d", i+1)
		tc.start(i)
	}
	var (
		mu    sync.Mutex
		acked []string
	)
	load := func(round, n int) {
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				for k := range n {
					d := fmt.Sprintf("r%d-w%d-%d", round, w, k)
					if tc.propose(d) {
						mu.Lock()
						acked = append(acked, d)
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
	}
	for round := range 2 {
		lead := tc.leader()
		victim := lead
		if round == 1 {
			victim = (lead + 1) % 3
		}
		mu.Lock()
		base := len(acked)
		mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			load(round, 200)
		}()
		// Crash once the load is under way (some of this round acknowledged).
		eventually(t, "load under way", 30_000_000_000, func() error {
			mu.Lock()
			defer mu.Unlock()
			if len(acked) < base+40 {
				return fmt.Errorf("%d acknowledged", len(acked))
			}
			return nil
		})
		n := tc.live()[victim]
		if err := n.transport.Close(); err != nil {
			t.Fatal(err)
		}
		fss[victim] = fss[victim].CrashClone(crashfs.CrashOptions{Rand: rand.New(rand.NewPCG(rnd.Uint64(), 0))})
		tc.stop(victim)
		tc.fss[victim] = fss[victim]
		<-done // the rest of the load runs on two nodes
		tc.start(victim)
		tc.converged(acked)
		t.Logf("round %d: crashed node %d (leader %d), %d acknowledged", round, victim+1, lead+1, len(acked))
	}
	// Last round: the whole region loses power at once, mid-load. Only what
	// the WALs synced survives; every acknowledged proposal must be in it.
	tc.leader()
	done := make(chan struct{})
	go func() {
		defer close(done)
		load(2, 2000)
	}()
	eventually(t, "load under way", 30_000_000_000, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 1200+60 {
			return fmt.Errorf("%d acknowledged", len(acked))
		}
		return nil
	})
	for i := range 3 {
		if err := tc.live()[i].transport.Close(); err != nil {
			t.Fatal(err)
		}
	}
	tc.halt.Store(true)
	mu.Lock() // nothing acknowledged after the power loss counts
	for i := range 3 {
		fss[i] = fss[i].CrashClone(crashfs.CrashOptions{Rand: rand.New(rand.NewPCG(rnd.Uint64(), 0))})
	}
	final := append([]string(nil), acked...)
	mu.Unlock()
	for i := range 3 {
		tc.stop(i)
		tc.fss[i] = fss[i]
	}
	<-done
	tc.halt.Store(false)
	for i := range 3 {
		tc.start(i)
	}
	tc.leader()
	tc.converged(final)
	t.Logf("region power loss: %d acknowledged before it, all present", len(final))
}
