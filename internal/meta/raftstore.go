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

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// RaftGroup is the metadata raft group as RaftStore needs it; *multiraft.Host satisfies it.
type RaftGroup interface {
	// Propose replicates data in group and returns its raft index once it is applied on this
	// node; on a follower it fails with a *multiraft.NotLeaderError.
	Propose(ctx context.Context, group uint64, data []byte) (uint64, error)
	// Confirmed reports whether this node leads group and has applied an entry of its term,
	// so its state holds every acknowledged command.
	Confirmed(group uint64) bool
}

// RaftStoreOptions configures a RaftStore.
type RaftStoreOptions struct {
	Dir   string    // directory of the applied log and checkpoints; created if missing
	Group uint64    // the metadata group's id
	Raft  RaftGroup // the host that runs the group
	// CheckpointEvery is the number of applied raft entries between checkpoints (0 means
	// DefaultSnapshotEvery). A restart replays at most about this many raft entries.
	CheckpointEvery int
	Logger          *slog.Logger // nil means slog.Default()
}

// NotLeaderError is wrapped, inside an errcode.Unavailable error, by RaftStore proposals made on
// a node that does not lead the metadata group. Leader is the leader's node id, 0 when no
// leader is known (an election is in progress). The caller may forward the proposal there.
type NotLeaderError struct {
	Leader uint64
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return "the metadata group has no leader right now (an election is in progress); retry shortly"
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
	dir   string
	group uint64
	raft  RaftGroup
	every uint64
	log   *slog.Logger

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
// set) sees the state right after the entry applied.
type waiter struct {
	ch   chan proposalResult
	view func(*State)
}

type proposalResult struct {
	index uint64 // metadata index of the last command applied
	err   error
}

// Propose proposes c to the metadata group and returns its metadata index once it is applied on
// this node. A follower refuses with an errcode.Unavailable error wrapping *NotLeaderError: the
// command was not proposed, so it may be forwarded to the leader or retried. ErrClosed and
// ErrProposalDropped likewise mean nothing was proposed. Any other errcode.Unavailable error (leadership lost, proposal
// dropped, shutdown while waiting) or ctx's error leaves the outcome unknown: c may still be
// applied.
func (s *RaftStore) Propose(ctx context.Context, c Command) (uint64, error) {
	if c == nil {
		return 0, errcode.New(errcode.InvalidArgument, "metadata command is nil")
	}
	return s.propose(ctx, proposeNew, []Entry{{Command: c}}, nil)
}

// ProposeView is Propose that also calls view with the state right after c applied on this
// node, under the state's lock, before any later entry applies (as Store.ProposeView).
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
	select {
	case <-s.closing:
		return 0, ErrClosed
	default:
	}
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
	s.pending[token] = &waiter{ch: ch, view: view}
	s.pendMu.Unlock()
	defer func() {
		s.pendMu.Lock()
		delete(s.pending, token)
		s.pendMu.Unlock()
	}()
	if _, err := s.raft.Propose(ctx, s.group, data); err != nil {
		return 0, raftError(err)
	}
	select {
	case r := <-ch: // the host returns only after the state machine applied the entry
		return r.index, r.err
	default:
		return 0, errcode.New(errcode.Internal, "metadata proposal applied without a result")
	}
}

// raftError maps a multiraft error to the errcode a client gets.
func raftError(err error) error {
	var nl *multiraft.NotLeaderError
	switch {
	case errors.As(err, &nl):
		return errcode.New(errcode.Unavailable, "%w", &NotLeaderError{Leader: nl.Leader})
	case errors.Is(err, multiraft.ErrClosed): // maybe after the entry was proposed: not ErrClosed
		return errcode.New(errcode.Unavailable, "the node is shutting down; the metadata change may still be applied: %w", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, multiraft.ErrProposalDropped):
		return ErrProposalDropped
	case errors.Is(err, multiraft.ErrLeadershipLost):
		return errcode.New(errcode.Unavailable, "metadata change not confirmed: %w", err)
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
