package multiraft

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// proposal is a waiter for one proposed entry.
type proposal struct {
	id uint64
	// data is the entry as proposed (header included); an applied entry
	// finishes the waiter only if it carries the same id AND these bytes. nil
	// for a membership change (its id travels in the change's context).
	data []byte
	// forwarded: proposed on a follower, which handed it to the leader it knew
	// (term, lead); such a waiter ends with ErrLeadershipLost once this node
	// sees another term or leader (replica.epochChanged).
	forwarded  bool
	term, lead uint64
	done       chan struct{}
	index      uint64
	err        error
	onFinish   func()
	// start is when it was proposed, for tandem_raft_commit_seconds.
	start time.Time
}

// finish is called once, by whoever removed the proposal from the waiters.
func (p *proposal) finish(index uint64, err error) {
	p.index, p.err = index, err
	if p.onFinish != nil {
		p.onFinish()
	}
	close(p.done)
}

// Propose replicates data in group and returns its log index once the entry
// is committed and applied on this node. On a follower it fails at once with
// a *NotLeaderError (partitions rely on it: Kafka clients redirect on
// NOT_LEADER); ProposeForward also proposes from a follower. ErrLeadershipLost and a context error leave the outcome
// unknown: the entry may still be applied.
func (h *Host) Propose(ctx context.Context, group uint64, data []byte) (uint64, error) {
	r, p, err := h.propose(group, data)
	if err != nil {
		return 0, err
	}
	return h.wait(ctx, r, p)
}

func (h *Host) wait(ctx context.Context, r *replica, p *proposal) (uint64, error) {
	select {
	case <-p.done:
		return p.index, p.err
	case <-ctx.Done():
		if !r.abandon(p) { // finished meanwhile
			<-p.done
			return p.index, p.err
		}
		return 0, ctx.Err()
	}
}

// abandon removes p from the waiters (its caller gave up) and reports whether
// it was still waiting; if not, whoever removed it finishes it.
func (r *replica) abandon(p *proposal) bool {
	r.wMu.Lock()
	defer r.wMu.Unlock()
	if r.waiters[p.id] != p {
		return false
	}
	delete(r.waiters, p.id)
	return true
}

// propose appends data to the leader's log and registers its waiter.
func (h *Host) propose(group uint64, data []byte) (*replica, *proposal, error) {
	return h.proposeWith(group, modeLeader, proposeData(data))
}

// proposeData returns the prop function of proposeWith for a normal entry:
// the proposal id, then data.
func proposeData(data []byte) func(r *replica, p *proposal) error {
	return func(r *replica, p *proposal) error {
		buf := make([]byte, proposalHeader+len(data))
		binary.BigEndian.PutUint64(buf, p.id)
		copy(buf[proposalHeader:], data)
		p.data = buf
		// On a follower raft forwards the entry to the leader (MsgProp in
		// the next Ready); it returns ErrProposalDropped if it cannot.
		return r.rn.Propose(buf)
	}
}

// proposeMode says where proposeWith may propose.
type proposeMode uint8

const (
	modeLeader  proposeMode = iota // on the leader only (Propose)
	modeConf                       // a membership change, on the leader only
	modeForward                    // anywhere a leader is known (ProposeForward)
)

// proposeWith registers a waiter and calls prop, with the raft lock held, to
// propose an entry that embeds the proposal id.
func (h *Host) proposeWith(group uint64, mode proposeMode, prop func(r *replica, p *proposal) error) (*replica, *proposal, error) {
	r, err := h.liveReplica(group)
	if err != nil {
		return nil, nil, err
	}
	p := &proposal{id: h.nextID(), done: make(chan struct{}), start: time.Now()}
	if mode == modeConf {
		p.onFinish = func() { r.confInFlight.CompareAndSwap(p.id, 0) }
	}
	r.rnMu.Lock()
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		// Without a known leader raft would drop the proposal: fail fast
		// (nothing was proposed) and let the caller retry after the election.
		if mode != modeForward || st.Lead == 0 {
			r.rnMu.Unlock()
			return nil, nil, &NotLeaderError{Group: group, Leader: st.Lead}
		}
		p.forwarded, p.term, p.lead = true, st.HardState.GetTerm(), st.Lead
	}
	r.wMu.Lock()
	r.waiters[p.id] = p
	r.wMu.Unlock()
	err = prop(r, p)
	r.rnMu.Unlock()
	if err != nil {
		r.wMu.Lock()
		delete(r.waiters, p.id)
		r.wMu.Unlock()
		if errors.Is(err, raft.ErrProposalDropped) {
			err = ErrProposalDropped
		}
		return nil, nil, err
	}
	h.met.proposals.Inc()
	if p.forwarded {
		h.met.forwarded.Inc()
	}
	h.raftQ.enqueue(group)
	return r, p, nil
}

// Progress is a follower's replication state as the leader sees it.
type Progress struct {
	Match, Next  uint64
	State        string // "StateProbe", "StateReplicate", "StateSnapshot"
	RecentActive bool
}

// Status is a group's raft state on this node.
type Status struct {
	Group   uint64
	ID      uint64
	Leader  uint64 // 0: none known
	Term    uint64
	State   string // "StateFollower", "StateLeader", ...
	Commit  uint64
	Applied uint64
	// AppliedTerm is the term of the last applied entry.
	AppliedTerm uint64
	// Confirmed: this node is the leader and has applied an entry of its own
	// term, so its state machine holds everything committed before it
	// (replication.md §3.5: serve only then).
	Confirmed bool
	// Voters of the group's configuration as this node knows it, sorted.
	Voters []uint64
	// Progress per voter, on the leader only (for the in-sync replica list).
	Progress map[uint64]Progress
}

// Status reports a group's state.
func (h *Host) Status(group uint64) (Status, error) {
	r := h.replica(group)
	if r == nil {
		return Status{}, ErrUnknownGroup
	}
	r.rnMu.Lock()
	rs := r.rn.Status()
	r.rnMu.Unlock()
	s := Status{
		Group:       group,
		ID:          rs.ID,
		Leader:      rs.Lead,
		Term:        rs.HardState.GetTerm(),
		State:       rs.RaftState.String(),
		Commit:      rs.HardState.GetCommit(),
		Applied:     r.applied.Load(),
		AppliedTerm: r.appliedTerm.Load(),
	}
	s.Confirmed = rs.RaftState == raft.StateLeader && s.AppliedTerm == s.Term
	for id := range rs.Config.Voters.IDs() {
		s.Voters = append(s.Voters, id)
	}
	slices.Sort(s.Voters)
	if len(rs.Progress) > 0 {
		s.Progress = make(map[uint64]Progress, len(rs.Progress))
		for id, pr := range rs.Progress {
			s.Progress[id] = Progress{Match: pr.Match, Next: pr.Next, State: pr.State.String(), RecentActive: pr.RecentActive}
		}
	}
	return s, nil
}

// Confirmed reports without locking whether this node leads the group and
// has applied an entry of its current term.
func (h *Host) Confirmed(group uint64) bool {
	r := h.replica(group)
	return r != nil && r.leader.Load() && r.appliedTerm.Load() == r.term.Load()
}

// TransferLeader asks the group's leader (this node) to hand leadership to
// node to. It returns at once; watch Status for the outcome.
func (h *Host) TransferLeader(group, to uint64) error {
	r := h.replica(group)
	if r == nil {
		return ErrUnknownGroup
	}
	r.rnMu.Lock()
	r.rn.TransferLeader(to)
	r.rnMu.Unlock()
	h.raftQ.enqueue(group)
	return nil
}

// ProposeConfChange changes the group's membership (one change at a time;
// the node being added must have joined with AddGroup(..., join=true)) and
// returns once the change is applied on this node. raft ignores a change
// proposed while another is pending; the call then waits for ctx.
func (h *Host) ProposeConfChange(ctx context.Context, group uint64, cc *raftpb.ConfChangeV2) (uint64, error) {
	r, p, err := h.proposeConf(group, cc)
	if err != nil {
		return 0, err
	}
	return h.wait(ctx, r, p)
}

// raft turns a membership change into an empty entry when its leader has not
// applied the previous one (or the log it had when elected); the waiter would
// then never finish. So the host refuses with ErrConfChangePending unless
// raft itself has applied an entry of the leader's term and everything the
// apply workers applied, and no change of this node is in flight.
func (h *Host) proposeConf(group uint64, cc *raftpb.ConfChangeV2) (*replica, *proposal, error) {
	return h.proposeWith(group, modeConf, func(r *replica, p *proposal) error {
		st := r.rn.BasicStatus()
		appliedTerm := r.appliedTerm.Load() // stored after applied: read first
		if appliedTerm != st.HardState.GetTerm() || st.Applied < r.applied.Load() ||
			!r.confInFlight.CompareAndSwap(0, p.id) {
			return ErrConfChangePending
		}
		c := proto.Clone(cc).(*raftpb.ConfChangeV2)
		c.Context = binary.BigEndian.AppendUint64(nil, p.id)
		if err := r.rn.ProposeConfChange(c); err != nil {
			r.confInFlight.CompareAndSwap(p.id, 0)
			return err
		}
		return nil
	})
}

// liveReplica returns group's replica while the host runs: ErrClosed after Close,
// ErrUnknownGroup for a group it does not hold, or the host's failure.
func (h *Host) liveReplica(group uint64) (*replica, error) {
	h.mu.RLock()
	r, closed := h.groups[group], h.closed
	h.mu.RUnlock()
	switch {
	case closed:
		return nil, ErrClosed
	case r == nil:
		return nil, ErrUnknownGroup
	}
	if err := h.Err(); err != nil {
		return nil, err
	}
	return r, nil
}
