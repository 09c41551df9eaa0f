package meta

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// RaftGroup is the metadata raft group as RaftStore needs it; *multiraft.Host satisfies it.
type RaftGroup interface {
	// ProposeForward replicates data in group from any node (a follower's raft forwards it to
	// the leader) and returns its raft index once it is applied on this node. Without a known
	// leader it fails at once with a *multiraft.NotLeaderError (Leader 0).
	ProposeForward(ctx context.Context, group uint64, data []byte) (uint64, error)
	// Propose is ProposeForward on the leader only: a follower gets a *multiraft.NotLeaderError
	// at once and nothing is proposed.
	Propose(ctx context.Context, group uint64, data []byte) (uint64, error)
	// ReadIndex returns, once this node applied it, a raft index at or after every entry
	// committed before the call (a linearizable read barrier).
	ReadIndex(ctx context.Context, group uint64) (uint64, error)
	// Confirmed reports whether this node leads group and has applied an entry of its term,
	// so its state holds every acknowledged command.
	Confirmed(group uint64) bool
}

// DefaultProposeTimeout bounds RaftStore proposals and barriers whose ctx has no deadline.
const DefaultProposeTimeout = 10 * time.Second

// RaftStoreOptions configures a RaftStore.
type RaftStoreOptions struct {
	Dir   string    // directory of the applied log and checkpoints; created if missing
	Group uint64    // the metadata group's id
	Raft  RaftGroup // the host that runs the group
	// CheckpointEvery is the number of applied raft entries between checkpoints (0 means
	// DefaultSnapshotEvery). A restart replays at most about this many raft entries.
	CheckpointEvery int
	// ProposeTimeout bounds proposals and barriers whose ctx has no deadline (0 means
	// DefaultProposeTimeout), so that no caller waits forever for a lost forwarded entry.
	ProposeTimeout time.Duration
	Logger         *slog.Logger // nil means slog.Default()
}

// NotLeaderError is wrapped, inside an errcode.Unavailable error, by RaftStore proposals and
// barriers that found no leader of the metadata group until their ctx ended (an election did
// not finish: a majority of the nodes is down or cut off). Nothing was proposed. Leader is 0
// then; a non-zero Leader names the node that leads.
type NotLeaderError struct {
	Leader uint64
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return "the metadata group has no leader right now (an election is in progress, or most of its nodes are down or cut off); retry shortly"
	}
	return fmt.Sprintf("this node does not lead the metadata group; node %d does", e.Leader)
}

// ErrProposalDropped is returned by RaftStore proposals that raft refused to append (leadership is
// being transferred, or too much is uncommitted): the change was not made and may be retried.
var ErrProposalDropped = errcode.New(errcode.Unavailable,
	"the metadata group refused the change while its leadership moves; it was not made; retry")

// RaftStore is the metadata store of a cluster: commands are entries of the metadata raft group,
// and every replica applies the committed ones to its State in log order, giving them dense
// metadata indexes (raft no-ops and membership changes take none). It has Store's API.
//
// The leader checks a new command against its state before proposing it, and every replica
// checks it again when applying it: a command that no longer applies (another one got in
// first) fails identically everywhere and changes nothing; its proposer gets the error.
//
// Durability comes from raft: a command is acknowledged once a majority logged it. The applied
// commands are also appended, without fsync, to a local log in Store's format (for ReadFrom),
// and a checkpoint (fsynced log, then the state and the raft index it stands for) is written
// every CheckpointEvery entries and whenever the host takes a raft snapshot. A restart loads the
// newest checkpoint, cuts the log back to it, and the host replays the raft entries after it.
//
// The apply side (the StateMachine) runs on the host's apply worker; mu guards the state for
// readers. Lock order: apMu, mu, segMu; the tail's lock, pendMu and notifyMu are leaves.
type RaftStore struct {
	dir     string
	group   uint64
	raft    RaftGroup
	every   uint64
	timeout time.Duration // ProposeTimeout
	log     *slog.Logger

	closeOnce sync.Once
	closeErr  error

	// served: the state, the metadata index of the last applied command, and the wake-up of
	// Wait after every applied batch.
	served

	segMu sync.RWMutex // guards segs and keeps files in it from being deleted while read
	segs  []segment
	tail  entryTail

	pendMu  sync.Mutex
	pending map[uint64]*waiter
	tokens  atomic.Uint64

	// The apply side, guarded by apMu (held by the host's apply worker and by Close).
	apMu     sync.Mutex
	applied  atomic.Uint64 // raft index of the last applied entry
	w        *os.File      // the applied log's last segment
	ckpts    []checkpoint  // on disk, ascending
	lastCkpt uint64        // raft index of the newest checkpoint
	failed   error
	closed   bool
	replayed int // entries handed to Apply since Open (tests check that a restart replays few)
}

// checkpoint is a checkpoint file: the raft index it stands for and the metadata index of its
// state (0 when not read).
type checkpoint struct{ raft, meta uint64 }

// waiter is a local proposer waiting for its entry: the result goes to ch, and view (when
// set) sees the state right after the entry applied. Only an entry with the waiter's token and
// its exact bytes is its own (tokens start at a random point per store, see OpenRaft); the
// first such entry applied is delivered (the network may duplicate a forwarded proposal).
type waiter struct {
	ch        chan proposalResult
	view      func(*State)
	data      []byte // the proposal as encoded
	delivered bool   // touched only by the apply worker
}

type proposalResult struct {
	index     uint64 // metadata index of the last command applied
	raftIndex uint64 // raft index of the entry
	err       error
}

// Propose proposes c to the metadata group from any node (a follower's raft forwards it to the
// leader) and returns its metadata index once it is applied on this node, so a read on this
// node right after sees it. While no leader is known (an election) or raft refuses proposals
// (a leadership transfer), Propose retries until ctx ends; a ctx without a deadline is bounded
// by ProposeTimeout.
//
// The errors mean one of three things:
//   - c does not apply (its errcode: NotFound, AlreadyExists, InvalidArgument, ...): nothing
//     changed. The confirmed leader checks before proposing; any node learns it when the entry
//     applies (another command got in first), and only the proposer gets that error.
//   - nothing was proposed, a retry is safe: ErrClosed; ErrProposalDropped; an
//     errcode.Unavailable error wrapping *NotLeaderError (no leader until ctx ended).
//   - the outcome is unknown, c may still be applied: any other errcode.Unavailable error
//     (leadership lost or a new leader seen before the entry applied here, a forwarded entry
//     lost, shutdown while waiting, ProposeTimeout passed) and ctx's error. Retry only if c is idempotent or after
//     reading the state (after Barrier) to see whether it applied.
func (s *RaftStore) Propose(ctx context.Context, c Command) (uint64, error) {
	if c == nil {
		return 0, errcode.New(errcode.InvalidArgument, "metadata command is nil")
	}
	return s.propose(ctx, proposeNew, []Entry{{Command: c}}, nil)
}

// ProposeOnLeader is Propose for a command that must be decided by the node that checked it
// while leading, such as a group coordinator's offset commit: it is proposed only while this
// node leads and never forwarded, so its entry is in the log of the term it was checked in and
// a later leader applies it before that leader serves (a forwarded entry could be appended
// after the new coordinator's own decisions). A follower gets an errcode.Unavailable error
// wrapping *NotLeaderError at once, with nothing proposed.
func (s *RaftStore) ProposeOnLeader(ctx context.Context, c Command) (uint64, error) {
	if c == nil {
		return 0, errcode.New(errcode.InvalidArgument, "metadata command is nil")
	}
	return s.proposeHow(ctx, proposeNew, []Entry{{Command: c}}, nil, true)
}

// ProposeView is Propose that also calls view with the state right after c applied on this
// node (any node: a follower calls it when it applies its own forwarded entry), under the
// state's lock, before any later entry applies (as Store.ProposeView). view is not called when
// c does not apply.
func (s *RaftStore) ProposeView(ctx context.Context, c Command, view func(*State)) (uint64, error) {
	if c == nil {
		return 0, errcode.New(errcode.InvalidArgument, "metadata command is nil")
	}
	return s.propose(ctx, proposeNew, []Entry{{Command: c}}, view)
}

// ProposeBatch proposes cmds as one raft entry; they are applied in order, stopping at the first
// that does not apply, whose error is returned; the commands before it stay applied.
func (s *RaftStore) ProposeBatch(ctx context.Context, cmds []Command) error {
	if len(cmds) == 0 {
		return nil
	}
	entries, err := newEntries(cmds)
	if err != nil {
		return err
	}
	_, err = s.propose(ctx, proposeNew, entries, nil)
	return err
}

// Apply proposes entries produced elsewhere (by a geo-DR primary) with their given indexes, which
// must increase, as Store.Apply.
func (s *RaftStore) Apply(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := checkGiven(entries); err != nil {
		return err
	}
	_, err := s.propose(ctx, proposeGiven, entries, nil)
	return err
}

func (s *RaftStore) propose(ctx context.Context, kind proposalKind, entries []Entry, view func(*State)) (uint64, error) {
	return s.proposeHow(ctx, kind, entries, view, false)
}

// proposeHow proposes from any node, or with leaderOnly from the leader alone (no retry).
func (s *RaftStore) proposeHow(ctx context.Context, kind proposalKind, entries []Entry, view func(*State), leaderOnly bool) (uint64, error) {
	select {
	case <-s.closing:
		return 0, ErrClosed
	default:
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	// Early refusal without a raft round, only where the state is known to be current (a
	// confirmed leader holds every acknowledged command). Later commands of a batch may depend
	// on earlier ones, so only the first is checked; apply checks them all.
	if kind == proposeNew && s.raft.Confirmed(s.group) {
		var err error
		s.View(func(st *State) { err = st.Check(entries[0].Command) })
		if err != nil {
			return 0, err
		}
	}
	token := s.tokens.Add(1)
	data, err := encodeRaftProposal(raftProposal{kind: kind, token: token, entries: entries})
	if err != nil {
		return 0, err
	}
	ch := make(chan proposalResult, 1)
	s.pendMu.Lock()
	s.pending[token] = &waiter{ch: ch, view: view, data: data}
	s.pendMu.Unlock()
	defer func() {
		s.pendMu.Lock()
		delete(s.pending, token)
		s.pendMu.Unlock()
	}()
	var raftIndex uint64
	if leaderOnly {
		raftIndex, err = s.raft.Propose(bctx, s.group, data)
	} else {
		err = s.retry(bctx, notProposed, func() error {
			var err error
			raftIndex, err = s.raft.ProposeForward(bctx, s.group, data)
			return err
		})
	}
	if err != nil {
		return 0, s.boundError(ctx, raftError(err))
	}
	select {
	case r := <-ch: // the host returns only after the state machine applied the entry
		if r.raftIndex == raftIndex {
			return r.index, r.err
		}
	default:
	}
	return 0, errcode.New(errcode.Internal, "metadata proposal applied at raft index %d without its result", raftIndex)
}

// Barrier waits until this node's state holds every metadata change acknowledged anywhere in the
// cluster before Barrier was called: a linearizable read barrier (raft's ReadIndex, confirmed by
// a quorum, then the local apply). A node's own writes are visible on it at once (Propose
// returns after the local apply); call Barrier on a node before a read that must see writes
// made through OTHER nodes (read-after-write across nodes, a check before a change that is not
// re-checked at apply). It costs one heartbeat round to a quorum, on the leader too. Without a
// leader, or when the leader changes meanwhile, it retries until ctx ends (a ctx without a
// deadline is bounded by ProposeTimeout, whose expiry gives an errcode.Unavailable error) and
// then returns an errcode.Unavailable error or ctx's error. A retry is always safe.
func (s *RaftStore) Barrier(ctx context.Context) error {
	select {
	case <-s.closing:
		return ErrClosed
	default:
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	retryRead := func(err error) bool { return notProposed(err) || errors.Is(err, multiraft.ErrLeadershipLost) }
	err := s.retry(bctx, retryRead, func() error {
		_, err := s.raft.ReadIndex(bctx, s.group)
		return err
	})
	if err != nil {
		return s.boundError(ctx, raftError(err))
	}
	return nil
}

// bound gives ctx the store's ProposeTimeout when it has no deadline.
func (s *RaftStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// boundError turns the expiry of the store's own bound (the caller's ctx, without a deadline,
// is still live) into an errcode.Unavailable error: the outcome is unknown.
func (s *RaftStore) boundError(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return errcode.New(errcode.Unavailable,
			"the metadata group did not answer within %v; a change may still be applied: %w", s.timeout, err)
	}
	return err
}

// notProposed reports whether err means the host proposed nothing and a retry may succeed: no
// leader known (an election), or raft refused the entry (a leadership transfer).
func notProposed(err error) bool {
	var nl *multiraft.NotLeaderError
	return errors.As(err, &nl) || errors.Is(err, multiraft.ErrProposalDropped)
}

// retry calls op until it returns nil or an error again rejects; it waits between tries with
// a growing pause (an election takes about a second). When ctx ends or the store closes first,
// it returns op's last error, which again accepted: for a proposal that is "nothing was
// proposed", more exact than ctx's error.
func (s *RaftStore) retry(ctx context.Context, again func(error) bool, op func() error) error {
	pause := 5 * time.Millisecond
	for {
		err := op()
		if err == nil || !again(err) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		case <-s.closing:
			t.Stop()
			return err
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// raftError maps a multiraft error to the errcode a client gets.
func raftError(err error) error {
	var nl *multiraft.NotLeaderError
	switch {
	case errors.As(err, &nl): // nothing was proposed
		return errcode.New(errcode.Unavailable, "%w", &NotLeaderError{Leader: nl.Leader})
	case errors.Is(err, multiraft.ErrClosed): // maybe after the entry was proposed: not ErrClosed
		return errcode.New(errcode.Unavailable, "the node is shutting down; the metadata change may still be applied: %w", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, multiraft.ErrProposalDropped):
		return ErrProposalDropped
	case errors.Is(err, multiraft.ErrLeadershipLost):
		return errcode.New(errcode.Unavailable, "metadata group leader changed before the change applied on this node; it may still be applied: %w", err)
	}
	return errcode.New(errcode.Unavailable, "metadata group: %w", err)
}

// ReadFrom returns up to max applied entries after index after (all when max <= 0). Entries
// compacted away or before a raft snapshot this replica restored give errcode.OffsetOutOfRange.
func (s *RaftStore) ReadFrom(after uint64, max int) ([]Entry, error) {
	committed := s.index.Load()
	if after >= committed {
		return nil, nil
	}
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	if len(s.segs) == 0 || s.segs[0].first > after+1 {
		first := uint64(0)
		if len(s.segs) > 0 {
			first = s.segs[0].first
		}
		return nil, errcode.New(errcode.OffsetOutOfRange,
			"metadata log entries after %d were compacted into a snapshot (the log starts at %d); start the follower from a snapshot",
			after, first)
	}
	if out, ok := s.tail.read(after, committed, max); ok {
		return out, nil
	}
	start := 0
	for i, seg := range s.segs {
		if seg.first <= after+1 {
			start = i
		}
	}
	return readSegments(s.segs[start:], after, committed, max, s.log)
}

// Close stops taking proposals and, after a last checkpoint (so a clean restart replays
// nothing), closes the applied log. Call it after the host stopped applying the group
// (Host.Close or RemoveGroup); entries the host applies afterwards fail with ErrClosed.
func (s *RaftStore) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.apMu.Lock()
		defer s.apMu.Unlock()
		s.closed = true
		if s.failed == nil {
			if err := s.checkpointLocked(); err != nil {
				s.log.Warn("writing the closing metadata checkpoint failed; the next start replays more", "err", err)
			}
		}
		if err := s.w.Close(); err != nil {
			s.closeErr = errcode.New(errcode.Internal, "closing metadata log: %w", pathless(err))
		}
	})
	return s.closeErr
}

func randomToken() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return binary.BigEndian.Uint64(b[:])
}
