package meta

import (
	"bytes"
	"fmt"
	"os"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// StateMachine returns the store's side of the metadata raft group, for Host.AddGroup.
func (s *RaftStore) StateMachine() multiraft.StateMachine { return raftSM{s} }

// raftSM is RaftStore as the host's state machine. Its Snapshot is the raft snapshot (it also
// writes a checkpoint), unlike RaftStore.Snapshot, which any reader may call.
type raftSM struct{ s *RaftStore }

// Applied is the raft index of the last applied entry: after Open, the newest checkpoint's.
func (m raftSM) Applied() uint64 { return m.s.applied.Load() }

// Apply applies committed raft entries in order. A proposal's commands are checked and applied
// one by one, stopping at the first that fails; a failure changes nothing and goes to the
// proposer's waiter on this node. An entry this node cannot decode stops the group (skipping it
// would make this replica diverge).
func (m raftSM) Apply(ents []multiraft.Entry) error {
	s := m.s
	s.apMu.Lock()
	defer s.apMu.Unlock()
	if err := s.usableLocked(); err != nil {
		return err
	}
	var buf []byte
	var staged []Entry
	type delivery struct {
		ch  chan proposalResult
		res proposalResult
	}
	var deliveries []delivery
	s.mu.Lock()
	for _, e := range ents {
		s.replayed++ // every entry the host hands over, so a test sees what a restart replays
		if e.Index <= s.applied.Load() {
			continue
		}
		if e.Kind == multiraft.EntryNormal && len(e.Data) > 0 {
			p, err := decodeRaftProposal(e.Data)
			if err != nil {
				s.mu.Unlock()
				s.failed = fmt.Errorf("metadata raft entry %d: %w", e.Index, err)
				return s.failed
			}
			res := s.applyProposalLocked(p, &buf, &staged)
			res.raftIndex = e.Index
			if w := s.waiter(p.token); w != nil && !w.delivered && bytes.Equal(w.data, e.Data) {
				w.delivered = true
				if res.err == nil && w.view != nil {
					w.view(s.state)
				}
				deliveries = append(deliveries, delivery{w.ch, res})
			}
		}
		s.applied.Store(e.Index)
	}
	idx := s.state.Index()
	s.mu.Unlock()
	if len(buf) > 0 {
		if _, err := s.w.Write(buf); err != nil { // no fsync: raft holds the entries durably
			s.failed = errcode.New(errcode.Unavailable, "metadata log write failed: %w", pathless(err))
			s.log.Error("metadata log write failed; the metadata group stops on this node", "dir", s.dir, "err", err)
			return s.failed
		}
	}
	if len(staged) > 0 {
		s.tail.add(staged)
		s.index.Store(idx)
		s.broadcast()
	}
	for _, d := range deliveries {
		select {
		case d.ch <- d.res:
		default: // raft commits a proposal once; never block the apply worker on it anyway
		}
	}
	if s.applied.Load()-s.lastCkpt >= s.every {
		if err := s.checkpointLocked(); err != nil {
			s.log.Warn("writing metadata checkpoint failed; a restart replays more", "err", err)
		}
	}
	return nil
}

func (s *RaftStore) usableLocked() error {
	if s.failed != nil {
		return s.failed
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// waiter returns the waiter of this node's proposal token, nil if nobody here waits.
func (s *RaftStore) waiter(token uint64) *waiter {
	if token == 0 {
		return nil
	}
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	return s.pending[token]
}

// applyProposalLocked applies p's commands to the state, as Store's stageLocked does, and
// appends their frames to buf and the entries to staged.
func (s *RaftStore) applyProposalLocked(p raftProposal, buf *[]byte, staged *[]Entry) proposalResult {
	var res proposalResult
	for _, e := range p.entries {
		idx := e.Index
		var err error
		if p.kind == proposeNew {
			idx = s.state.Index() + 1
			err = s.state.Check(e.Command)
		} else if idx == 0 {
			err = errcode.New(errcode.InvalidArgument, "a replicated metadata entry needs an index")
		}
		var payload []byte
		if err == nil {
			payload, err = EncodeCommand(e.Command)
		}
		if err == nil {
			err = s.state.Apply(idx, e.Command)
		}
		if err != nil {
			res.err = err
			return res
		}
		*buf = appendFrame(*buf, idx, payload)
		*staged = append(*staged, Entry{Index: idx, Command: e.Command})
		res.index = idx
	}
	return res
}

// Snapshot writes a checkpoint and returns the state as of Applied(), for the raft snapshot
// the host is taking (after which it compacts the raft log: the checkpoint must exist first).
func (m raftSM) Snapshot() ([]byte, error) {
	s := m.s
	s.apMu.Lock()
	defer s.apMu.Unlock()
	if err := s.usableLocked(); err != nil {
		return nil, err
	}
	if err := s.checkpointLocked(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state.MarshalSnapshot()
}

// Restore replaces the state with a raft snapshot's (a leader sent it, or the log store's is
// newer than the checkpoint). The applied log starts again after the snapshot's metadata index:
// older entries give OffsetOutOfRange to readers.
func (m raftSM) Restore(snap *raftpb.Snapshot) error {
	s := m.s
	s.apMu.Lock()
	defer s.apMu.Unlock()
	if err := s.usableLocked(); err != nil {
		return err
	}
	st, err := UnmarshalSnapshot(snap.GetData())
	if err != nil {
		return fmt.Errorf("metadata raft snapshot at %d: %w", snap.GetMetadata().GetIndex(), err)
	}
	next := segment{first: st.Index() + 1, path: segmentPath(s.dir, st.Index()+1)}
	w, err := os.OpenFile(next.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return errcode.New(errcode.Internal, "opening metadata log: %w", pathless(err))
	}
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
	s.applied.Store(snap.GetMetadata().GetIndex())
	s.segMu.Lock()
	old, oldW := s.segs, s.w
	s.segs, s.w = []segment{next}, w
	s.tail.reset()
	s.index.Store(st.Index())
	s.segMu.Unlock()
	_ = oldW.Close()
	for _, seg := range old {
		if seg.path != next.path {
			s.remove(seg.path)
		}
	}
	s.broadcast()
	return s.checkpointLocked()
}

// checkpointLocked makes the applied state durable at the current raft index: it fsyncs the
// applied log, writes the state with the raft index atomically, starts a new log segment and
// deletes what is no longer needed (it keeps the two newest checkpoints and the log after the
// older one, as Store does). The caller holds apMu.
func (s *RaftStore) checkpointLocked() error {
	applied := s.applied.Load()
	if applied == s.lastCkpt && len(s.ckpts) > 0 {
		return nil
	}
	if err := s.w.Sync(); err != nil {
		return errcode.New(errcode.Internal, "syncing metadata log: %w", pathless(err))
	}
	s.mu.RLock()
	data, err := s.state.MarshalSnapshot()
	metaIdx := s.state.Index()
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(checkpointPath(s.dir, applied), appendFrame(nil, applied, data)); err != nil {
		return errcode.New(errcode.Internal, "writing metadata checkpoint: %w", pathless(err))
	}
	s.ckpts = append(s.ckpts, checkpoint{raft: applied, meta: metaIdx})
	s.lastCkpt = applied
	if err := s.rollLocked(metaIdx + 1); err != nil {
		return err
	}
	s.compactLocked()
	return nil
}

// rollLocked starts a new applied-log segment at first, unless the last one starts there.
func (s *RaftStore) rollLocked(first uint64) error {
	s.segMu.RLock()
	cur := s.segs[len(s.segs)-1].first
	s.segMu.RUnlock()
	if cur == first {
		return nil
	}
	next := segment{first: first, path: segmentPath(s.dir, first)}
	w, err := os.OpenFile(next.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return errcode.New(errcode.Internal, "opening metadata log: %w", pathless(err))
	}
	if err := syncDir(s.dir); err != nil {
		_ = w.Close()
		return errcode.New(errcode.Internal, "syncing metadata directory: %w", pathless(err))
	}
	s.segMu.Lock()
	old := s.w
	s.w = w
	s.segs = append(s.segs, next)
	s.segMu.Unlock()
	if err := old.Close(); err != nil {
		s.log.Warn("closing old metadata log segment", "err", err)
	}
	return nil
}

func (s *RaftStore) compactLocked() {
	if len(s.ckpts) < 2 {
		return
	}
	for _, c := range s.ckpts[:len(s.ckpts)-2] {
		s.remove(checkpointPath(s.dir, c.raft))
	}
	s.ckpts = s.ckpts[len(s.ckpts)-2:]
	keep := s.ckpts[0].meta
	if keep == 0 {
		return // not known (written before this start): keep the log
	}
	s.segMu.Lock()
	var drop []segment
	for len(s.segs) > 1 && s.segs[1].first <= keep+1 {
		drop = append(drop, s.segs[0])
		s.segs = s.segs[1:]
	}
	s.segMu.Unlock()
	for _, seg := range drop {
		s.remove(seg.path)
	}
}

func (s *RaftStore) remove(path string) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		s.log.Warn("deleting old metadata file", "file", path, "err", err)
	}
}
