package multiraft

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

var (
	simSeeds = flag.Int("sim.seeds", 100, "number of seeds TestSim runs per cluster size (3 and 5 nodes)")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed (replay a failure)")
	simNodes = flag.Int("sim.nodes", 0, "with -sim.seed: the cluster size (3 or 5)")
)

// Simulation parameters, in steps of the virtual clock.
const (
	stepsPerTick  = 4
	chaosTicks    = 150 // ticks of faults and proposals
	healBound     = 60  // ticks after healing within which every group must have a confirmed leader
	settleBound   = 200 // ticks after healing within which everything must be applied everywhere
	simElectTicks = 10
)

// simNode is one node: its durable log store survives a crash, the rest not.
type simNode struct {
	id        uint64
	h         *Host
	store     *MemLogStore
	sms       map[uint64]*simSM
	kept      map[uint64]*simSM // state machines as they survived a crash
	downUntil int64
}

type simGroup struct {
	id      uint64
	initial []uint64        // bootstrap voters
	hosted  map[uint64]bool // nodes that run a replica (a removed one stops)
	ever    map[uint64]bool // nodes that ever ran one (never added twice)
	conf    *proposal       // membership change in flight
	confRm  uint64          // the node it removes (0: an addition)
}

func newSimGroup(id uint64, peers []uint64) *simGroup {
	g := &simGroup{id: id, initial: peers, hosted: map[uint64]bool{}, ever: map[uint64]bool{}}
	for _, p := range peers {
		g.hosted[p], g.ever[p] = true, true
	}
	return g
}

// nodes returns the nodes hosting a replica, sorted.
func (g *simGroup) nodes() []uint64 {
	var ns []uint64
	for id, ok := range g.hosted {
		if ok {
			ns = append(ns, id)
		}
	}
	slices.Sort(ns)
	return ns
}

type simProp struct {
	group uint64
	data  string
	p     *proposal
	// forwarded proposals (ProposeForward on any node) and their virtual ctx:
	// at deadline the proposer gives up as Host.wait does on ctx.Done.
	forwarded bool
	r         *replica
	deadline  int64
}

// simRead is a ReadIndex request: after it, the node must have applied at
// least every index acknowledged before it was made (minIndex).
type simRead struct {
	group    uint64
	node     uint64
	r        *replica
	q        *readReq
	sm       *simSM
	minIndex uint64
	deadline int64
}

// simOutcomes counts how forwarded proposals and reads ended.
type simOutcomes struct {
	fwdOK, fwdLost, fwdClosed, fwdCtx, fwdRefused      int
	readOK, readLost, readClosed, readCtx, readRefused int
}

type simCluster struct {
	seed     uint64
	rng      *rand.Rand
	net      *simNet
	nodes    []*simNode
	groups   []*simGroup
	confs    int // membership changes applied
	chk      *simChecker
	pending  []simProp
	reads    []simRead
	out      simOutcomes
	acked    map[uint64]map[uint64]string // group → index → data
	propSeq  int
	crashes  int
	trace    uint64 // hash of everything the run did, for the replay check
	snapshot int    // SnapshotEntries for the hosts
}

func newSimCluster(seed uint64, n int) *simCluster {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := &simCluster{seed: seed, rng: rng, net: newSimNet(rng), chk: newSimChecker(),
		acked: make(map[uint64]map[uint64]string), snapshot: 20 + rng.IntN(60)}
	all := make([]uint64, n)
	for i := range all {
		all[i] = uint64(i + 1)
	}
	// One group on every node, and groups of three on rotating nodes.
	c.groups = append(c.groups, newSimGroup(1, all))
	for g := range 3 {
		var peers []uint64
		for k := range 3 {
			peers = append(peers, all[(g+k)%n])
		}
		slices.Sort(peers)
		c.groups = append(c.groups, newSimGroup(uint64(10+g), peers))
	}
	for i := range n {
		c.nodes = append(c.nodes, &simNode{id: uint64(i + 1), store: NewMemLogStore()})
	}
	return c
}

func (c *simCluster) start(sn *simNode) error {
	h, err := newHost(Options{
		NodeID: sn.id, LogStore: sn.store, Transport: simTransport{c.net, sn.id},
		ElectionTick: simElectTicks, HeartbeatTick: 1, SnapshotEntries: c.snapshot,
		MaxSizePerMsg: 4 << 10, MaxInflightMsgs: 8,
	}, true)
	if err != nil {
		return err
	}
	sn.h, sn.sms = h, make(map[uint64]*simSM)
	for _, g := range c.groups {
		if g.hosted[sn.id] {
			if err := c.addReplica(sn, g); err != nil {
				return err
			}
		}
	}
	return nil
}

// addReplica starts a group's replica on a node: an initial member
// bootstraps (when its log is still empty), a later one joins.
func (c *simCluster) addReplica(sn *simNode, g *simGroup) error {
	sm := sn.kept[g.id]
	delete(sn.kept, g.id)
	if sm == nil {
		sm = &simSM{group: g.id, node: sn.id, c: c.chk}
	}
	sn.sms[g.id] = sm
	return sn.h.AddGroup(g.id, g.initial, sm, !slices.Contains(g.initial, sn.id))
}

// crash throws a node away. A random prefix of the appends it had queued
// reaches the log store without being acknowledged (a Save cut short).
func (c *simCluster) crash(sn *simNode) {
	batch, _ := sn.h.writer.take(false)
	k := c.rng.IntN(len(batch) + 1)
	var ups []Update
	for _, t := range batch[:k] {
		ups = append(ups, toUpdate(t.r.id, t.msg))
	}
	if err := sn.store.Save(ups); err != nil {
		c.chk.failf("node %d: partial save at crash: %v", sn.id, err)
	}
	sn.h.mu.Lock()
	for _, r := range sn.h.groups {
		r.failWaiters(ErrClosed)
	}
	sn.h.mu.Unlock()
	// A state machine keeps a random prefix of what it applied (one that
	// persists lazily, like a segment log between flushes).
	sn.kept = make(map[uint64]*simSM)
	for _, g := range slices.Sorted(maps.Keys(sn.sms)) {
		sm := sn.sms[g]
		k := c.rng.IntN(len(sm.recs) + 1)
		sn.kept[g] = &simSM{group: g, node: sn.id, c: c.chk, recs: slices.Clone(sm.recs[:k]), applied: uint64(k)}
	}
	sn.h, sn.sms = nil, nil
	sn.downUntil = c.net.now + int64(stepsPerTick*(5+c.rng.IntN(40)))
	c.crashes++
	c.note("crash", sn.id, uint64(k))
}

func (c *simCluster) note(what string, a ...uint64) {
	h := fnv.New64a()
	fmt.Fprint(h, c.trace, what, a, c.net.now)
	c.trace = h.Sum64()
}

// step advances the virtual clock by one step: ticks, deliveries and a
// random interleaving of each node's raft, storage and apply work.
func (c *simCluster) step() {
	c.net.now++
	tick := c.net.now%stepsPerTick == 0
	for _, sn := range c.nodes {
		if sn.h == nil && sn.downUntil <= c.net.now {
			if err := c.start(sn); err != nil {
				c.chk.failf("restart node %d: %v", sn.id, err)
			}
			c.note("restart", sn.id)
		}
		if tick && sn.h != nil {
			sn.h.Tick()
		}
	}
	for _, m := range c.net.due() {
		to := c.nodes[m.env.Msg.GetTo()-1]
		if to.h != nil {
			to.h.Deliver([]Envelope{m.env})
			c.note("deliver", m.from, to.id, uint64(m.env.Msg.GetType()))
		}
	}
	for _, i := range c.rng.Perm(len(c.nodes)) {
		if sn := c.nodes[i]; sn.h != nil {
			c.work(sn.h)
		}
	}
	c.collect()
}

func (c *simCluster) work(h *Host) {
	for range 3 {
		for {
			id, ok := h.raftQ.pop(false)
			if !ok {
				break
			}
			h.processRaft(id)
			h.raftQ.done(id)
		}
		if c.rng.IntN(4) != 0 { // sometimes the fsync is still running
			if batch, ok := h.writer.take(false); ok {
				h.flushAppends(batch)
			}
		}
		if c.rng.IntN(3) != 0 {
			for {
				id, ok := h.applyQ.pop(false)
				if !ok {
					break
				}
				h.processApply(id)
				h.applyQ.done(id)
			}
		}
	}
	if err := h.Err(); err != nil {
		c.chk.failf("node %d: %v", h.opts.NodeID, err)
	}
}

// propose sends a new entry to a random group through a random live node,
// preferring one that thinks it leads; or, one time in three, forwards one
// from any live node of the group.
func (c *simCluster) propose() {
	g := c.groups[c.rng.IntN(len(c.groups))]
	if c.rng.IntN(3) == 0 {
		c.proposeForward(g)
		return
	}
	var cands []*simNode
	for _, id := range g.nodes() {
		sn := c.nodes[id-1]
		if sn.h != nil && (sn.h.replica(g.id).leader.Load() || c.rng.IntN(5) == 0) {
			cands = append(cands, sn)
		}
	}
	if len(cands) == 0 {
		return
	}
	sn := cands[c.rng.IntN(len(cands))]
	c.propSeq++
	data := fmt.Sprintf("g%d-p%d-n%d", g.id, c.propSeq, sn.id)
	_, p, err := sn.h.propose(g.id, []byte(data))
	var nle *NotLeaderError
	switch {
	case err == nil:
		c.pending = append(c.pending, simProp{group: g.id, data: data, p: p})
	case errors.As(err, &nle):
		if nle.Group != g.id {
			c.chk.failf("NotLeaderError names group %d, want %d", nle.Group, g.id)
		}
	case errors.Is(err, ErrProposalDropped):
	default:
		c.chk.failf("propose on node %d: unexpected error %v", sn.id, err)
	}
}

// collect moves finished proposals to the acknowledged set.
func (c *simCluster) collect() {
	keep := c.pending[:0]
	for _, sp := range c.pending {
		if sp.forwarded {
			switch c.forwardState(sp) {
			case fwdPending:
				keep = append(keep, sp)
				continue
			case fwdEnded:
				continue
			}
		}
		select {
		case <-sp.p.done:
			if sp.p.err != nil {
				continue
			}
			a := c.acked[sp.group]
			if a == nil {
				a = make(map[uint64]string)
				c.acked[sp.group] = a
			}
			if prev, ok := a[sp.p.index]; ok {
				c.chk.failf("group %d index %d acknowledged twice: %q and %q", sp.group, sp.p.index, prev, sp.data)
			}
			a[sp.p.index] = sp.data
			c.note("ack", sp.group, sp.p.index)
		default:
			keep = append(keep, sp)
		}
	}
	c.pending = keep
	c.collectReads()
	c.collectConf()
}

// nemesis changes the faults now and then.
func (c *simCluster) nemesis() {
	n := len(c.nodes)
	if c.rng.IntN(12*stepsPerTick) == 0 {
		c.net.heal()
		switch c.rng.IntN(5) {
		case 0:
			c.net.isolate(uint64(1+c.rng.IntN(n)), n)
		case 1:
			side := map[uint64]bool{}
			for i := 1; i <= n; i++ {
				side[uint64(i)] = c.rng.IntN(2) == 0
			}
			c.net.split(side, n)
		case 2:
			a, b := uint64(1+c.rng.IntN(n)), uint64(1+c.rng.IntN(n))
			c.net.blocked[[2]uint64{a, b}] = true // one direction only
		}
		c.net.dropP = []float64{0, 0.05, 0.2}[c.rng.IntN(3)]
		c.net.dupP = []float64{0, 0.05}[c.rng.IntN(2)]
		c.net.maxDelay = int64(1 + c.rng.IntN(3*stepsPerTick))
		c.note("nemesis")
	}
	if c.rng.IntN(25*stepsPerTick) == 0 {
		down := 0
		for _, sn := range c.nodes {
			if sn.h == nil {
				down++
			}
		}
		if sn := c.nodes[c.rng.IntN(n)]; sn.h != nil && down < n-1 {
			c.crash(sn)
		}
	}
	if len(c.nodes) == 5 && c.rng.IntN(15*stepsPerTick) == 0 {
		c.membership()
	}
	if c.rng.IntN(40*stepsPerTick) == 0 {
		g := c.groups[c.rng.IntN(len(c.groups))]
		ns := g.nodes()
		for _, id := range ns {
			if sn := c.nodes[id-1]; sn.h != nil && sn.h.replica(g.id).leader.Load() {
				to := ns[c.rng.IntN(len(ns))]
				_ = sn.h.TransferLeader(g.id, to)
				c.note("transfer", g.id, to)
			}
		}
	}
}

// membership adds a replica to a three-replica group on a node that never
// had one, or removes one from a four-replica group, one change at a time.
func (c *simCluster) membership() {
	g := c.groups[c.rng.IntN(len(c.groups))]
	if len(g.initial) != 3 || g.conf != nil {
		return
	}
	var leader *simNode
	for _, id := range g.nodes() {
		if sn := c.nodes[id-1]; sn.h != nil && sn.h.Confirmed(g.id) {
			leader = sn
		}
	}
	if leader == nil {
		return
	}
	st, err := leader.h.Status(g.id)
	if err != nil {
		return
	}
	cc := &raftpb.ConfChangeV2{}
	switch len(st.Voters) {
	case 3:
		var cands []*simNode
		for _, sn := range c.nodes {
			if !g.ever[sn.id] && sn.h != nil {
				cands = append(cands, sn)
			}
		}
		if len(cands) == 0 {
			return
		}
		sn := cands[c.rng.IntN(len(cands))]
		g.hosted[sn.id], g.ever[sn.id] = true, true
		if err := c.addReplica(sn, g); err != nil {
			c.chk.failf("join node %d to group %d: %v", sn.id, g.id, err)
			return
		}
		cc.Changes = []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(sn.id)}}
		g.confRm = 0
	case 4:
		g.confRm = st.Voters[c.rng.IntN(len(st.Voters))]
		cc.Changes = []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: proto.Uint64(g.confRm)}}
	default:
		return
	}
	if _, p, err := leader.h.proposeConf(g.id, cc); err == nil {
		g.conf = p
		c.note("conf", g.id, g.confRm)
	}
}

// collectConf finishes membership changes: a removed node drops its replica.
func (c *simCluster) collectConf() {
	for _, g := range c.groups {
		if g.conf == nil {
			continue
		}
		select {
		case <-g.conf.done:
		default:
			continue
		}
		if g.conf.err == nil {
			c.confs++
			if rm := g.confRm; rm != 0 {
				g.hosted[rm] = false
				if sn := c.nodes[rm-1]; sn.h != nil {
					if err := sn.h.RemoveGroup(g.id); err != nil {
						c.chk.failf("remove group %d from node %d: %v", g.id, rm, err)
					}
					delete(sn.sms, g.id)
				}
			}
		}
		g.conf = nil
	}
}
