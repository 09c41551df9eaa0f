package multiraft

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// StateMachine is one group's replicated state, owned by the application
// (a partition log, the metadata). The host calls it from one apply worker
// at a time per group.
type StateMachine interface {
	// Applied is the index of the last entry the state machine holds (after
	// a restart: what it durably knows); the host resumes after it.
	Applied() uint64
	// Apply applies committed entries in index order, each index exactly
	// once; entries carry no-ops and conf changes too (Data nil) so the
	// state machine can track its applied index.
	Apply(entries []Entry) error
	// Snapshot returns the state as of Applied().
	Snapshot() ([]byte, error)
	// Restore replaces the state with a snapshot's (its Data, at its index).
	// On error the state must be unchanged; an error wrapping ErrRestoreRetry
	// makes the host try again later, any other stops the group.
	Restore(snap *raftpb.Snapshot) error
}

// EntryKind tells a state machine what an applied entry is.
type EntryKind uint8

// Entry kinds.
const (
	EntryNormal EntryKind = iota // a proposal's data (Data may be empty: a leader's no-op)
	EntryConfChange
)

// Entry is a committed entry as the state machine sees it: Data is what was
// passed to Propose.
type Entry struct {
	Index uint64
	Term  uint64
	Kind  EntryKind
	Data  []byte
}

// replica is one group on this host.
type replica struct {
	id      uint64
	sm      StateMachine
	storage Storage

	inMu  sync.Mutex // guards inbox, ticks
	inbox []*raftpb.Message
	ticks int

	rnMu       sync.Mutex // guards rn, wasLeader, leaderTerm, seenTerm, seenLead, readTicks, readRound
	rn         *raft.RawNode
	wasLeader  bool
	leaderTerm uint64 // the term wasLeader refers to
	// seenTerm, seenLead: the term and leader processRaft saw last; a change
	// ends forwarded proposals and unanswered reads (epochChanged).
	seenTerm, seenLead uint64
	// readTicks counts ticks towards the next resend of unanswered reads;
	// readRound counts the resends (readReq.round).
	readTicks int
	readRound uint64

	apMu   sync.Mutex // guards applyQ and snapsQueued
	applyQ []applyTask
	// snapsQueued counts snapshots in applyQ not yet restored: while one is, the local
	// storage responses of later appends queue behind it, so raft receives its storage
	// responses in order (the AsyncStorageWrites contract).
	snapsQueued int
	applyer     applyState // touched only by the apply worker holding the group

	wMu     sync.Mutex // guards waiters, reads, readWait
	waiters map[uint64]*proposal
	reads   map[uint64]*readReq // read requests raft has not answered yet, by id
	// readWait: answered read requests waiting for this node to apply their index
	readWait []*readReq

	removed    atomic.Bool
	retryTicks atomic.Int64 // > 0: ticks until a failed snapshot restore is tried again
	// restorePending: a snapshot restore failed and waits for a retry (counted in the
	// restoresPending gauge until it succeeds or the group is removed)
	restorePending atomic.Bool
	confInFlight   atomic.Uint64 // id of this node's membership change being applied
	// published for Status readers without the raft lock
	lead, term, commit, applied, appliedTerm atomic.Uint64
	leader                                   atomic.Bool
}

func (r *replica) push(m *raftpb.Message) {
	r.inMu.Lock()
	r.inbox = append(r.inbox, m)
	r.inMu.Unlock()
}

// failWaiters ends every waiting proposal and read request with err.
func (r *replica) failWaiters(err error) {
	r.wMu.Lock()
	ws, qs, qw := r.waiters, r.reads, r.readWait
	r.waiters, r.reads, r.readWait = make(map[uint64]*proposal), make(map[uint64]*readReq), nil
	r.wMu.Unlock()
	for _, p := range ws {
		p.finish(0, err)
	}
	for _, q := range qs {
		q.finish(err)
	}
	for _, q := range qw {
		q.finish(err)
	}
}

// failOwn ends the waiting proposals this node made as leader (not the
// forwarded ones, which epochChanged ends) with err.
func (r *replica) failOwn(err error) {
	var ps []*proposal
	r.wMu.Lock()
	for id, p := range r.waiters {
		if !p.forwarded {
			delete(r.waiters, id)
			ps = append(ps, p)
		}
	}
	r.wMu.Unlock()
	for _, p := range ps {
		p.finish(0, err)
	}
}

// AddGroup starts a group on this node. A group with durable state in the
// LogStore restarts from it; otherwise, unless join, it is bootstrapped with
// peers as voters (every initial member must pass the same peers). With join
// the replica starts empty and waits for the leader to add it.
func (h *Host) AddGroup(group uint64, peers []uint64, sm StateMachine, join bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if _, ok := h.groups[group]; ok {
		return ErrGroupExists
	}
	r, err := h.newReplica(group, peers, sm, join)
	if err != nil {
		return fmt.Errorf("multiraft: add group %d: %w", group, err)
	}
	h.groups[group] = r
	i, _ := slices.BinarySearch(h.ids, group)
	h.ids = slices.Insert(h.ids, i, group)
	h.met.groups.Inc()
	h.raftQ.enqueue(group)
	if len(r.applyQ) > 0 {
		h.applyQ.enqueue(group) // a snapshot the state machine could not restore yet
	}
	return nil
}

func (h *Host) newReplica(group uint64, peers []uint64, sm StateMachine, join bool) (*replica, error) {
	st := h.opts.LogStore.Storage(group)
	r := &replica{id: group, sm: sm, storage: st, waiters: make(map[uint64]*proposal), reads: make(map[uint64]*readReq)}
	hs, cs, err := st.InitialState()
	if err != nil {
		return nil, err
	}
	last, err := st.LastIndex()
	if err != nil {
		return nil, err
	}
	snap, err := st.Snapshot()
	if err != nil {
		return nil, err
	}
	fresh := last == 0 && raft.IsEmptyHardState(hs) && raft.IsEmptySnap(snap)
	// The state machine may be behind the log's snapshot (the log was
	// compacted after a snapshot it then lost, or a restart came before a
	// restore that waited for data from another replica). The snapshot is
	// then the first task of the apply queue, restored by an apply worker
	// (not here, under the host's lock: it may copy data from another node,
	// and fail and be retried, ErrRestoreRetry), and raft starts as if it were
	// applied: everything it applies later queues behind it.
	si := snap.GetMetadata().GetIndex()
	var boot *raftpb.Snapshot
	if si > sm.Applied() {
		boot = snap
	}
	applied := sm.Applied()
	r.applyer = applyState{confState: cs, snapIndex: snap.GetMetadata().GetIndex(), index: applied}
	if applied == snap.GetMetadata().GetIndex() {
		r.applyer.term = snap.GetMetadata().GetTerm()
	} else if t, err := st.Term(applied); err == nil {
		r.applyer.term = t
	}
	r.applied.Store(applied)
	r.appliedTerm.Store(r.applyer.term)
	// A state machine may have applied entries whose commit index was not
	// yet durable in the log's HardState: raft must not start past its
	// commit index, so it re-delivers those entries and the apply step skips
	// what the state machine already holds.
	cfg := &raft.Config{
		ID:                        h.opts.NodeID,
		ElectionTick:              h.opts.ElectionTick,
		HeartbeatTick:             h.opts.HeartbeatTick,
		Storage:                   st,
		Applied:                   min(max(applied, boot.GetMetadata().GetIndex()), max(hs.GetCommit(), si)),
		AsyncStorageWrites:        true,
		MaxSizePerMsg:             h.opts.MaxSizePerMsg,
		MaxCommittedSizePerReady:  4 * h.opts.MaxSizePerMsg,
		MaxUncommittedEntriesSize: h.opts.MaxUncommittedEntriesSize,
		MaxInflightMsgs:           h.opts.MaxInflightMsgs,
		MaxInflightBytes:          h.opts.MaxInflightBytes,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		// Followers forward proposals to the leader (ProposeForward); Propose
		// refuses on a follower itself, before raft sees the entry.
		DisableProposalForwarding: false,
		StepDownOnRemoval:         true,
		Logger:                    h.rlog,
	}
	rn, err := raft.NewRawNode(cfg)
	if err != nil {
		return nil, err
	}
	if fresh && !join {
		if len(peers) == 0 {
			return nil, errors.New("a new group needs its peers (or join)")
		}
		ps := make([]raft.Peer, len(peers))
		for i, p := range peers {
			ps[i] = raft.Peer{ID: p}
		}
		if err := rn.Bootstrap(ps); err != nil {
			return nil, err
		}
	}
	r.rn = rn
	if boot != nil {
		r.applyQ = []applyTask{{snap: boot, boot: true}}
	}
	return r, nil
}

// processRaft steps a group's queued messages and ticks and hands its Ready
// on: network messages to the transport, MsgStorageAppend to the storage
// writer, MsgStorageApply to the apply workers. Called by one worker at a
// time per group.
func (h *Host) processRaft(group uint64) {
	r := h.replica(group)
	if r == nil || h.Err() != nil {
		return
	}
	r.inMu.Lock()
	msgs, ticks := r.inbox, r.ticks
	r.inbox, r.ticks = nil, 0
	r.inMu.Unlock()

	r.rnMu.Lock()
	for range ticks {
		r.rn.Tick()
	}
	if ticks > 0 {
		h.resendReads(r, ticks)
	}
	for _, m := range msgs {
		if forwardedAgain(r.rn, m) {
			h.met.dropped.Inc()
			continue
		}
		// Errors here are messages raft refuses (from a removed peer, a
		// stale local response); raft has already logged them.
		_ = r.rn.Step(m)
	}
	var rd readyParts
	if r.rn.HasReady() {
		rd = splitReady(r, r.rn.Ready())
	}
	var lostLeadership bool
	st := r.rn.BasicStatus()
	isLeader := st.RaftState == raft.StateLeader
	// Leadership of a later term is a loss too: entries proposed in the
	// earlier one may have been overwritten.
	lostLeadership = r.wasLeader && (!isLeader || st.HardState.GetTerm() != r.leaderTerm)
	if isLeader && (!r.wasLeader || lostLeadership) {
		h.met.leaderships.Inc()
	}
	r.wasLeader, r.leaderTerm = isLeader, st.HardState.GetTerm()
	epochChanged := st.HardState.GetTerm() != r.seenTerm || st.Lead != r.seenLead
	r.seenTerm, r.seenLead = st.HardState.GetTerm(), st.Lead
	r.rnMu.Unlock()

	if prev := r.lead.Swap(st.Lead); st.Lead != 0 && st.Lead != prev {
		h.met.leaderChanges.Inc()
	}
	r.term.Store(st.HardState.GetTerm())
	r.commit.Store(st.HardState.GetCommit())
	r.leader.Store(isLeader)
	if lostLeadership {
		r.failOwn(ErrLeadershipLost)
	}
	// Answers first: a read answered in this Ready stays valid after a
	// leader change seen in the same Ready.
	if len(rd.readStates) > 0 {
		r.readStates(rd.readStates)
	}
	if epochChanged {
		r.epochChanged(st.HardState.GetTerm(), st.Lead)
	}
	if len(rd.out) > 0 {
		h.opts.Transport.Send(rd.out)
	}
	if len(rd.appends) > 0 {
		h.writer.add(r, rd.appends)
	}
	if len(rd.applies) > 0 {
		r.apMu.Lock()
		for _, m := range rd.applies {
			r.applyQ = append(r.applyQ, applyTask{msg: m})
		}
		r.apMu.Unlock()
		h.applyQ.enqueue(group)
	}
}

// readyParts is a Ready sorted by destination.
type readyParts struct {
	out        []Envelope        // to other nodes
	appends    []*raftpb.Message // MsgStorageAppend, for the storage writer
	applies    []*raftpb.Message // MsgStorageApply, for the apply workers
	readStates []raft.ReadState
}

// splitReady sorts a Ready's messages by destination. The caller holds the
// raft lock.
func splitReady(r *replica, rd raft.Ready) readyParts {
	p := readyParts{readStates: rd.ReadStates}
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			p.appends = append(p.appends, m)
		case raft.LocalApplyThread:
			p.applies = append(p.applies, m)
		default:
			p.out = append(p.out, Envelope{Group: r.id, Msg: m})
			if m.GetType() == raftpb.MsgSnap {
				// The transport has the snapshot now; if it is lost the
				// follower rejects the next append and we send it again.
				r.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFinish)
			}
		}
	}
	return p
}

// forwardedAgain reports whether m is a proposal or read request another node
// forwarded here although this node does not lead (any more). raft would
// forward it once more, still naming its origin as the sender, which a
// transport that authenticates senders (raftnet) rejects; so it is dropped
// here, and its proposer ends its waiter when it learns of the new leader.
func forwardedAgain(rn *raft.RawNode, m *raftpb.Message) bool {
	t := m.GetType()
	return (t == raftpb.MsgProp || t == raftpb.MsgReadIndex) && rn.BasicStatus().RaftState != raft.StateLeader
}

// deliverLocal routes storage responses: those for this node go to the
// group's inbox, the rest (MsgAppResp, vote responses) to the transport.
func (h *Host) deliverLocal(r *replica, resps []*raftpb.Message, out []Envelope) []Envelope {
	local := false
	for _, m := range resps {
		if m.GetTo() == h.opts.NodeID {
			r.push(m)
			local = true
			continue
		}
		out = append(out, Envelope{Group: r.id, Msg: m})
	}
	if local {
		h.raftQ.enqueue(r.id)
	}
	return out
}
