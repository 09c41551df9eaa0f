package multiraft

import (
	"errors"
	"fmt"
)

// The simulation's forwarded proposals and reads: they run from any node,
// under the same drops, partitions, crashes and membership changes as the
// leader's proposals, each with a virtual ctx.

// simDeadline returns the end of the virtual ctx of a forwarded proposal or read.
func (c *simCluster) simDeadline() int64 {
	return c.net.now + int64(stepsPerTick*(30+c.rng.IntN(90)))
}

// liveNode returns a random live node hosting g (nil: none).
func (c *simCluster) liveNode(g *simGroup) *simNode {
	var cands []*simNode
	for _, id := range g.nodes() {
		if sn := c.nodes[id-1]; sn.h != nil {
			cands = append(cands, sn)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[c.rng.IntN(len(cands))]
}

// proposeForward proposes through ProposeForward's path on any live node of g.
func (c *simCluster) proposeForward(g *simGroup) {
	sn := c.liveNode(g)
	if sn == nil {
		return
	}
	c.propSeq++
	data := fmt.Sprintf("g%d-f%d-n%d", g.id, c.propSeq, sn.id)
	r, p, err := sn.h.proposeWith(g.id, modeForward, proposeData([]byte(data)))
	var nle *NotLeaderError
	switch {
	case err == nil:
		c.pending = append(c.pending, simProp{group: g.id, data: data, p: p, forwarded: true, r: r, deadline: c.simDeadline()})
		c.note("forward", g.id, sn.id)
	case errors.As(err, &nle) && nle.Leader == 0 && nle.Group == g.id, errors.Is(err, ErrProposalDropped):
		c.out.fwdRefused++
	default:
		c.chk.failf("forward on node %d: unexpected error %v", sn.id, err)
	}
}

type fwdState uint8

const (
	fwdPending fwdState = iota
	fwdEnded            // failed or abandoned: counted, not acknowledged
	fwdApplied          // succeeded: to be acknowledged
)

// forwardState checks a forwarded proposal: a success must be its own entry
// at its index; a failure one of the documented ones; at its deadline the
// proposer gives up as on ctx.Done.
func (c *simCluster) forwardState(sp simProp) fwdState {
	select {
	case <-sp.p.done:
	default:
		// A forwarded MsgProp can vanish; once its proposer saw another term
		// the waiter must have ended (collect runs after every node's raft work).
		if t := sp.r.term.Load(); sp.p.forwarded && t != sp.p.term && !sp.r.removed.Load() {
			c.chk.failf("group %d: forwarded proposal %q of term %d still waits in term %d", sp.group, sp.data, sp.p.term, t)
		}
		if c.net.now < sp.deadline {
			return fwdPending
		}
		if sp.r.abandon(sp.p) {
			c.out.fwdCtx++
			c.note("fwd-ctx", sp.group)
			return fwdEnded
		}
		<-sp.p.done // finished by whoever removed it
	}
	switch err := sp.p.err; {
	case err == nil:
		if got, ok := c.chk.applied[sp.group][sp.p.index]; !ok || got != sp.data {
			c.chk.failf("group %d: forwarded proposal %q acknowledged at %d, where %q was applied", sp.group, sp.data, sp.p.index, got)
		}
		c.out.fwdOK++
		return fwdApplied
	case errors.Is(err, ErrLeadershipLost):
		c.out.fwdLost++
	case errors.Is(err, ErrClosed), errors.Is(err, ErrUnknownGroup):
		c.out.fwdClosed++
	default:
		c.chk.failf("group %d: forwarded proposal %q ended with %v", sp.group, sp.data, err)
	}
	return fwdEnded
}

// read asks a random live node of a random group for a read index.
func (c *simCluster) read() {
	g := c.groups[c.rng.IntN(len(c.groups))]
	sn := c.liveNode(g)
	if sn == nil {
		return
	}
	var minIndex uint64
	for idx := range c.acked[g.id] {
		minIndex = max(minIndex, idx)
	}
	r, q, err := sn.h.readIndex(g.id)
	var nle *NotLeaderError
	switch {
	case err == nil:
		c.reads = append(c.reads, simRead{group: g.id, node: sn.id, r: r, q: q, sm: sn.sms[g.id], minIndex: minIndex, deadline: c.simDeadline()})
		c.note("read", g.id, sn.id)
	case errors.As(err, &nle) && nle.Leader == 0:
		c.out.readRefused++
	default:
		c.chk.failf("read on node %d: unexpected error %v", sn.id, err)
	}
}

// collectReads checks finished reads: the read index covers every write
// acknowledged before the read, and the node has applied it.
func (c *simCluster) collectReads() {
	keep := c.reads[:0]
	for _, rd := range c.reads {
		select {
		case <-rd.q.done:
		default:
			if t := rd.r.term.Load(); t != rd.q.term && rd.q.index == 0 && !rd.r.removed.Load() {
				c.chk.failf("group %d node %d: unanswered read of term %d still waits in term %d", rd.group, rd.node, rd.q.term, t)
			}
			if c.net.now < rd.deadline {
				keep = append(keep, rd)
				continue
			}
			if rd.r.abandonRead(rd.q) {
				c.out.readCtx++
				continue
			}
			<-rd.q.done
		}
		switch err := rd.q.err; {
		case err == nil:
			if rd.q.index < rd.minIndex {
				c.chk.failf("group %d node %d: read index %d is behind index %d acknowledged before the read", rd.group, rd.node, rd.q.index, rd.minIndex)
			}
			if rd.sm.applied < rd.q.index {
				c.chk.failf("group %d node %d: read index %d returned with only %d applied", rd.group, rd.node, rd.q.index, rd.sm.applied)
			}
			c.out.readOK++
			c.note("read-ok", rd.group, rd.q.index)
		case errors.Is(err, ErrLeadershipLost):
			c.out.readLost++
		case errors.Is(err, ErrClosed), errors.Is(err, ErrUnknownGroup):
			c.out.readClosed++
		default:
			c.chk.failf("group %d node %d: read ended with %v", rd.group, rd.node, err)
		}
	}
	c.reads = keep
}

func (o *simOutcomes) add(p simOutcomes) {
	o.fwdOK += p.fwdOK
	o.fwdLost += p.fwdLost
	o.fwdClosed += p.fwdClosed
	o.fwdCtx += p.fwdCtx
	o.fwdRefused += p.fwdRefused
	o.readOK += p.readOK
	o.readLost += p.readLost
	o.readClosed += p.readClosed
	o.readCtx += p.readCtx
	o.readRefused += p.readRefused
}
