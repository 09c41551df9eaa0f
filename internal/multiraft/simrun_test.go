package multiraft

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"testing/cryptotest"
)

// run plays one seed: faults and proposals, then healing, then the checks.
// It returns the violations found.
func (c *simCluster) run() []string {
	for _, sn := range c.nodes {
		if err := c.start(sn); err != nil {
			return []string{err.Error()}
		}
	}
	for c.net.now < chaosTicks*stepsPerTick && len(c.chk.errs) == 0 {
		c.nemesis()
		if c.rng.IntN(3) == 0 {
			c.propose()
		}
		if c.rng.IntN(8) == 0 {
			c.read()
		}
		c.step()
	}
	c.net.heal()
	c.net.maxDelay = 2
	for _, sn := range c.nodes {
		if sn.h == nil {
			sn.downUntil = c.net.now
		}
	}
	healAt := c.net.now
	for g := c.unconfirmed(); g != 0; g = c.unconfirmed() {
		if c.net.now-healAt > healBound*stepsPerTick {
			c.chk.failf("group %d has no confirmed leader %d ticks after healing", g, healBound)
			return c.chk.errs
		}
		c.step()
	}
	c.note("healed", uint64(c.net.now-healAt))
	// One more proposal per group, then wait for every replica to hold it.
	finals := make(map[uint64]string)
	for !c.settled(finals) {
		if c.net.now-healAt > settleBound*stepsPerTick {
			c.chk.failf("not settled %d ticks after healing: %d proposals pending; %s", settleBound, len(c.pending), c.describe())
			return c.chk.errs
		}
		if c.net.now%stepsPerTick == 0 {
			c.proposeFinals(finals)
		}
		c.step()
	}
	c.check()
	return c.chk.errs
}

// unconfirmed returns a group without a confirmed leader (0: none).
func (c *simCluster) unconfirmed() uint64 {
	for _, g := range c.groups {
		ok := false
		for _, id := range g.nodes() {
			if sn := c.nodes[id-1]; sn.h != nil && sn.h.Confirmed(g.id) {
				ok = true
			}
		}
		if !ok {
			return g.id
		}
	}
	return 0
}

func (c *simCluster) proposeFinals(finals map[uint64]string) {
	for _, g := range c.groups {
		if _, ok := finals[g.id]; ok {
			continue
		}
		for _, id := range g.nodes() {
			sn := c.nodes[id-1]
			if sn.h == nil || !sn.h.Confirmed(g.id) {
				continue
			}
			data := fmt.Sprintf("final-g%d", g.id)
			if _, p, err := sn.h.propose(g.id, []byte(data)); err == nil {
				finals[g.id] = data
				c.pending = append(c.pending, simProp{group: g.id, data: data, p: p})
			}
			break
		}
	}
}

// settled: nothing pending, every group's final entry acknowledged and every
// replica applied up to the same index.
func (c *simCluster) settled(finals map[uint64]string) bool {
	if len(c.pending) > 0 || len(c.reads) > 0 {
		return false
	}
	for _, g := range c.groups {
		if g.conf != nil {
			return false
		}
		data, ok := finals[g.id]
		if !ok {
			return false
		}
		var idx uint64
		for i, d := range c.acked[g.id] {
			if d == data {
				idx = i
			}
		}
		if idx == 0 { // the final proposal failed: try again
			delete(finals, g.id)
			return false
		}
		voters := c.voters(g)
		if voters == nil {
			return false
		}
		var first uint64
		for k, id := range voters {
			sn := c.nodes[id-1]
			if !g.hosted[id] {
				c.chk.failf("group %d: voter %d runs no replica", g.id, id)
				return true
			}
			if sn.h == nil {
				return false
			}
			a := sn.sms[g.id].applied
			if a < idx || (k > 0 && a != first) {
				return false
			}
			first = a
		}
	}
	return true
}

// voters returns the voters as the group's confirmed leader knows them (nil:
// no confirmed leader).
func (c *simCluster) voters(g *simGroup) []uint64 {
	for _, id := range g.nodes() {
		if sn := c.nodes[id-1]; sn.h != nil && sn.h.Confirmed(g.id) {
			st, err := sn.h.Status(g.id)
			if err == nil && st.Confirmed {
				return st.Voters
			}
		}
	}
	return nil
}

// check asserts the end state: every acknowledged entry on every replica at
// its index with its bytes, and equal digests per group.
func (c *simCluster) check() {
	for _, g := range c.groups {
		var digest uint64
		voters := c.voters(g)
		for k, id := range voters {
			sm := c.nodes[id-1].sms[g.id]
			for idx, data := range c.acked[g.id] {
				if got, ok := sm.at(idx); !ok || got != data {
					c.chk.failf("group %d node %d: acknowledged %q at %d, replica has %q", g.id, id, data, idx, got)
				}
			}
			if d := sm.digest(); k == 0 {
				digest = d
			} else if d != digest {
				c.chk.failf("group %d: digest of node %d differs from node %d", g.id, id, voters[0])
			}
		}
		c.note("digest", g.id, digest)
	}
}

func (c *simCluster) describe() string {
	var b strings.Builder
	for _, g := range c.groups {
		fmt.Fprintf(&b, "group %d (voters %v, conf pending %v):", g.id, c.voters(g), g.conf != nil)
		for _, id := range g.nodes() {
			sn := c.nodes[id-1]
			if sn.h == nil {
				fmt.Fprintf(&b, " n%d down", id)
				continue
			}
			st, _ := sn.h.Status(g.id)
			fmt.Fprintf(&b, " n%d{%s t%d c%d a%d}", id, st.State, st.Term, st.Commit, st.Applied)
		}
		b.WriteString("; ")
	}
	return b.String()
}

type simResult struct {
	errs     []string
	trace    uint64
	acked    int
	crashes  int
	restores int
	confs    int
	out      simOutcomes
}

func runSimSeed(t *testing.T, nodes int, seed uint64) (res simResult) {
	cryptotest.SetGlobalRandom(t, seed) // etcd raft draws election timeouts from crypto/rand
	c := newSimCluster(seed, nodes)
	defer func() {
		if p := recover(); p != nil {
			res.errs = append(res.errs, fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
		}
	}()
	errs := c.run()
	n := 0
	for _, a := range c.acked {
		n += len(a)
	}
	return simResult{errs: errs, trace: c.trace, acked: n, crashes: c.crashes, restores: c.chk.restores, confs: c.confs, out: c.out}
}

func replayHint(nodes int, seed uint64) string {
	return fmt.Sprintf("replay: go test ./internal/multiraft -run 'TestSim$' -sim.seed=%d -sim.nodes=%d -v", seed, nodes)
}

// TestSim runs many seeds of the simulation on 3- and 5-node clusters.
func TestSim(t *testing.T) {
	sizes, seeds := []int{3, 5}, make([]uint64, 0, *simSeeds)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
		if *simNodes != 0 {
			sizes = []int{*simNodes}
		}
	} else {
		n := *simSeeds
		if testing.Short() || raceEnabled && !flagSet("sim.seeds") {
			n = min(n, 25)
		}
		for s := range n {
			seeds = append(seeds, uint64(s+1))
		}
	}
	for _, nodes := range sizes {
		acked, crashes, restores, confs, failed := 0, 0, 0, 0, 0
		var out simOutcomes
		for _, seed := range seeds {
			res := runSimSeed(t, nodes, seed)
			out.add(res.out)
			acked += res.acked
			crashes += res.crashes
			restores += res.restores
			confs += res.confs
			if len(res.errs) > 0 {
				failed++
				t.Errorf("seed %d, %d nodes:\n  %s\n%s", seed, nodes, strings.Join(res.errs, "\n  "), replayHint(nodes, seed))
				if failed >= 3 {
					t.FailNow()
				}
			}
		}
		t.Logf("%d nodes: %d seeds, %d acknowledged proposals checked, %d crashes, %d snapshot restores, %d membership changes",
			nodes, len(seeds), acked, crashes, restores, confs)
		t.Logf("%d nodes: forwarded proposals: %d applied, %d leadership lost, %d closed, %d ctx expired, %d refused; "+
			"reads: %d answered, %d leadership lost, %d closed, %d ctx expired, %d refused", nodes,
			out.fwdOK, out.fwdLost, out.fwdClosed, out.fwdCtx, out.fwdRefused,
			out.readOK, out.readLost, out.readClosed, out.readCtx, out.readRefused)
		if acked == 0 {
			t.Errorf("%d nodes: no proposal was acknowledged in any seed", nodes)
		}
		if len(seeds) >= 10 && (out.fwdOK == 0 || out.readOK == 0) {
			t.Errorf("%d nodes: no forwarded proposal or no read succeeded in any seed", nodes)
		}
	}
}

// TestSimDeterministic replays a seed and expects the same run.
func TestSimDeterministic(t *testing.T) {
	for _, seed := range []uint64{7, 42} {
		a, b := runSimSeed(t, 3, seed), runSimSeed(t, 3, seed)
		if len(a.errs) > 0 {
			t.Fatalf("seed %d: %v", seed, a.errs)
		}
		if a.trace != b.trace || a.acked != b.acked {
			t.Errorf("seed %d not reproducible: trace %x/%x, acked %d/%d", seed, a.trace, b.trace, a.acked, b.acked)
		}
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
