package multiraft

import (
	"context"
	"encoding/binary"
	"slices"

	"go.etcd.io/raft/v3"
)

// ProposeForward is Propose that also works on a follower: raft forwards the
// entry to the leader (MsgProp), and the call returns its log index once this
// node has applied it (every replica applies every entry, so the proposer's
// own apply finishes its waiter). On the leader it is Propose.
//
// Errors that mean nothing was proposed, so a retry is safe: a
// *NotLeaderError with Leader 0 (no leader known, e.g. during an election:
// the call fails fast rather than wait, the caller retries after a short
// pause), ErrProposalDropped, ErrClosed and ErrUnknownGroup returned at once.
// Errors that leave the outcome unknown (the entry may still be applied):
// ErrLeadershipLost (on a follower: this node saw a new term or leader before
// the entry applied here; a forwarded MsgProp can be lost without a trace,
// so the waiter does not outlive the leader it was handed to), ctx's error,
// and ErrClosed or ErrUnknownGroup after waiting.
//
// A forwarded entry may be applied twice if the network duplicates the
// MsgProp (raft does not deduplicate proposals); the waiter finishes with the
// first copy.
func (h *Host) ProposeForward(ctx context.Context, group uint64, data []byte) (uint64, error) {
	r, p, err := h.proposeWith(group, modeForward, proposeData(data))
	if err != nil {
		return 0, err
	}
	return h.wait(ctx, r, p)
}

// nextID returns a proposal (or read request) id, unique with overwhelming
// probability across every host and every incarnation of a host.
//
// Ids are base+n where base is drawn from crypto/rand when the Host starts
// (newHost) and n counts this Host's ids. Entries in a group's log come from
// many incarnations (other nodes, earlier starts of this one); each used one
// contiguous range of ids of its own length. Two ranges of lengths a and b
// with independent uniform bases overlap with probability at most
// (a+b)/2^64: for a million incarnations that issue a billion ids each, the
// union bound over all pairs gives below 2^-14 that any two overlap at all.
// And an overlap alone does no harm: a waiter is finished only by an applied
// entry with its id AND its exact bytes (proposal.data), applied while the
// waiter is pending; a colliding entry whose bytes differ is ignored and the
// waiter ends by its own entry, a term change or its ctx.
func (h *Host) nextID() uint64 { return h.propSeq.Add(1) }

// readReq is a waiter for a linearizable read index.
type readReq struct {
	id         uint64
	term, lead uint64 // raft term and leader when requested
	index      uint64 // the read index, once known
	round      uint64 // replica.readRound when last sent
	done       chan struct{}
	err        error
}

func (q *readReq) finish(err error) {
	q.err = err
	close(q.done)
}

// ReadIndex is a linearizable read barrier, on the leader or a follower: it
// returns a log index i such that every entry committed before the call has
// an index <= i, once this node's state machine has applied i. A read of the
// local state machine after ReadIndex returned sees every write acknowledged
// (anywhere) before ReadIndex was called.
//
// It uses raft's ReadIndex with ReadOnlySafe: the leader confirms with a
// heartbeat round that a quorum still follows it, and a new leader answers
// only after it committed an entry of its term. The request is matched to its
// ReadState by a unique id. Without a known leader it fails fast with a
// *NotLeaderError (Leader 0); raft drops a read request silently when the
// leader changes, so it fails with ErrLeadershipLost once this node sees a
// new term or leader before the answer; retrying is always safe. A request
// or answer lost while the leader stays is asked again every election
// timeout (resendReads).
func (h *Host) ReadIndex(ctx context.Context, group uint64) (uint64, error) {
	r, q, err := h.readIndex(group)
	if err != nil {
		return 0, err
	}
	select {
	case <-q.done:
		return q.index, q.err
	case <-ctx.Done():
		if !r.abandonRead(q) { // finished meanwhile
			<-q.done
			return q.index, q.err
		}
		return 0, ctx.Err()
	}
}

// resendReads asks raft again, every election timeout, for the reads that
// are still unanswered after a whole timeout: a read request or its answer
// can be lost while the leader stays. Asking twice is harmless (the first
// answer finishes the request, a later one finds none). The caller holds
// the raft lock.
func (h *Host) resendReads(r *replica, ticks int) {
	r.readTicks += ticks
	if r.readTicks < h.opts.ElectionTick {
		return
	}
	r.readTicks = 0
	r.readRound++
	var ids []uint64
	r.wMu.Lock()
	for id, q := range r.reads {
		if q.round+1 < r.readRound {
			q.round = r.readRound
			ids = append(ids, id)
		}
	}
	r.wMu.Unlock()
	if len(ids) == 0 || r.rn.BasicStatus().Lead == 0 {
		return
	}
	slices.Sort(ids) // a deterministic order for the simulation
	for _, id := range ids {
		r.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, id))
	}
}

// abandonRead removes q (its caller gave up) and reports whether it was still
// waiting; if not, whoever removed it finishes it.
func (r *replica) abandonRead(q *readReq) bool {
	r.wMu.Lock()
	defer r.wMu.Unlock()
	if r.reads[q.id] == q {
		delete(r.reads, q.id)
		return true
	}
	for i, x := range r.readWait {
		if x == q {
			r.readWait = slices.Delete(r.readWait, i, i+1)
			return true
		}
	}
	return false
}

// readIndex registers a read request and hands it to raft.
func (h *Host) readIndex(group uint64) (*replica, *readReq, error) {
	r, err := h.liveReplica(group)
	if err != nil {
		return nil, nil, err
	}
	q := &readReq{id: h.nextID(), done: make(chan struct{})}
	r.rnMu.Lock()
	st := r.rn.BasicStatus()
	if st.Lead == 0 { // raft would drop the request without a word
		r.rnMu.Unlock()
		return nil, nil, &NotLeaderError{Group: group, Leader: 0}
	}
	q.term, q.lead, q.round = st.HardState.GetTerm(), st.Lead, r.readRound
	r.wMu.Lock()
	r.reads[q.id] = q
	r.wMu.Unlock()
	r.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, q.id))
	r.rnMu.Unlock()
	h.met.readIndex.Inc()
	h.raftQ.enqueue(group)
	return r, q, nil
}

// readStates hands the read indexes raft confirmed to their requests: those
// whose index this node has applied finish, the others wait for the apply.
// Called by processRaft without the raft lock.
func (r *replica) readStates(rss []raft.ReadState) {
	r.wMu.Lock()
	defer r.wMu.Unlock()
	for _, rs := range rss {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		q := r.reads[binary.BigEndian.Uint64(rs.RequestCtx)]
		if q == nil {
			continue // abandoned, failed, or answered twice (a retransmitted request)
		}
		delete(r.reads, q.id)
		q.index = rs.Index
		// applied is stored before releaseReads takes wMu: reading it under
		// wMu cannot miss an apply that would have released q.
		if r.applied.Load() >= q.index {
			q.finish(nil)
			continue
		}
		r.readWait = append(r.readWait, q)
	}
}

// releaseReads finishes the read requests whose index is applied. The apply
// worker calls it after storing r.applied.
func (r *replica) releaseReads() {
	r.wMu.Lock()
	defer r.wMu.Unlock()
	if len(r.readWait) == 0 {
		return
	}
	applied := r.applied.Load()
	keep := r.readWait[:0]
	for _, q := range r.readWait {
		if q.index <= applied {
			q.finish(nil)
		} else {
			keep = append(keep, q)
		}
	}
	clear(r.readWait[len(keep):])
	r.readWait = keep
}

// epochChanged ends the waiters that depended on the previous leader: the
// forwarded proposals and the unanswered read requests made under another
// (term, leader) than the current one. raft drops both silently when the
// leader changes (and a forwarded MsgProp may simply be lost), so they would
// otherwise wait for their ctx. Their outcome is unknown: ErrLeadershipLost.
func (r *replica) epochChanged(term, lead uint64) {
	var ps []*proposal
	var qs []*readReq
	r.wMu.Lock()
	for id, p := range r.waiters {
		if p.forwarded && (p.term != term || p.lead != lead) {
			delete(r.waiters, id)
			ps = append(ps, p)
		}
	}
	for id, q := range r.reads {
		if q.term != term || q.lead != lead {
			delete(r.reads, id)
			qs = append(qs, q)
		}
	}
	r.wMu.Unlock()
	for _, p := range ps {
		p.finish(0, ErrLeadershipLost)
	}
	for _, q := range qs {
		q.finish(ErrLeadershipLost)
	}
}
