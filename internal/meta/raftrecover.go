package meta

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Checkpoint files ckpt-<raft index>.json hold one frame whose index is the raft index and whose
// payload is the state's snapshot JSON (which carries the metadata index).
const (
	ckptPrefix = "ckpt-"
	ckptSuffix = ".json"
)

func checkpointPath(dir string, raftIndex uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d%s", ckptPrefix, raftIndex, ckptSuffix))
}

// OpenRaft opens or creates the replicated metadata store in opts.Dir: it loads the newest
// readable checkpoint and cuts the applied log back to it (entries after it, possibly torn,
// were never fsynced and come back from the raft log). Then add the group to the host with
// StateMachine(): the host replays the raft entries after the checkpoint's raft index.
func OpenRaft(opts RaftStoreOptions) (*RaftStore, error) {
	if opts.Dir == "" || opts.Raft == nil {
		return nil, errcode.New(errcode.InvalidArgument, "the replicated metadata store needs a directory and a raft host")
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = DefaultSnapshotEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ProposeTimeout <= 0 {
		opts.ProposeTimeout = DefaultProposeTimeout
	}
	s := &RaftStore{
		dir:     opts.Dir,
		group:   opts.Group,
		raft:    opts.Raft,
		every:   uint64(opts.CheckpointEvery),
		timeout: opts.ProposeTimeout,
		log:     opts.Logger.With("component", "meta", "group", opts.Group),
		served:  newServed(),
		pending: make(map[uint64]*waiter),
	}
	// Every node applies every entry and looks its token up among its own waiters, so tokens
	// must not repeat across nodes or restarts: they count up from a random 64-bit point per
	// Open (the argument of multiraft's nextID), and a waiter also compares the entry's bytes.
	s.tokens.Store(randomToken())
	if err := os.MkdirAll(s.dir, dirPerm); err != nil {
		return nil, errcode.New(errcode.Internal, "creating metadata directory: %w", err)
	}
	if err := s.recover(); err != nil {
		if s.w != nil {
			_ = s.w.Close()
		}
		return nil, err
	}
	s.index.Store(s.state.Index())
	return s, nil
}

func (s *RaftStore) recover() error {
	if tmps, _ := filepath.Glob(filepath.Join(s.dir, "*"+tmpSuffix)); len(tmps) > 0 {
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
	if err := s.loadCheckpoint(); err != nil {
		return err
	}
	if len(s.ckpts) == 0 {
		if err := s.initDir(); err != nil {
			return err
		}
	}
	m := s.state.Index()
	segs, err := listNumbered(s.dir, segPrefix, segSuffix)
	if err != nil {
		return errcode.New(errcode.Internal, "listing metadata log: %w", err)
	}
	segs, err = s.cutLog(segs, m)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		segs = []segment{{first: m + 1, path: segmentPath(s.dir, m+1)}}
	}
	s.segs = segs
	s.w, err = os.OpenFile(segs[len(segs)-1].path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return errcode.New(errcode.Internal, "opening metadata log: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return errcode.New(errcode.Internal, "syncing metadata directory: %w", err)
	}
	s.log.Info("metadata recovered from checkpoint", "dir", s.dir, "raftIndex", s.applied.Load(), "index", m, "segments", len(segs))
	return nil
}

// initDir writes the checkpoint of the empty state in a new directory, so that every directory
// of a RaftStore has one: a directory with a log and no checkpoint is a single-node Store's,
// whose log recovery here would cut away.
func (s *RaftStore) initDir() error {
	segs, err := listNumbered(s.dir, segPrefix, segSuffix)
	if err != nil {
		return errcode.New(errcode.Internal, "listing metadata log: %w", err)
	}
	snaps, err := listNumbered(s.dir, snapPrefix, snapSuffix)
	if err != nil {
		return errcode.New(errcode.Internal, "listing metadata snapshots: %w", err)
	}
	if len(segs) > 0 || len(snaps) > 0 {
		return errcode.New(errcode.Conflict,
			"metadata directory %s holds a single-node metadata store, not a replicated one; moving a node into a cluster is not supported yet", s.dir)
	}
	data, err := s.state.MarshalSnapshot()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(checkpointPath(s.dir, 0), appendFrame(nil, 0, data)); err != nil {
		return errcode.New(errcode.Internal, "writing metadata checkpoint: %w", pathless(err))
	}
	s.ckpts = []checkpoint{{}}
	return nil
}

// loadCheckpoint sets the state and the applied raft index from the newest checkpoint that
// reads back, or an empty state at raft index 0.
func (s *RaftStore) loadCheckpoint() error {
	files, err := listNumbered(s.dir, ckptPrefix, ckptSuffix)
	if err != nil {
		return errcode.New(errcode.Internal, "listing metadata checkpoints: %w", err)
	}
	for _, f := range files {
		s.ckpts = append(s.ckpts, checkpoint{raft: f.first})
	}
	for i := len(files) - 1; i >= 0; i-- {
		st, err := readSnapshot(files[i].path)
		if err == nil {
			s.state = st
			s.applied.Store(files[i].first)
			s.lastCkpt = files[i].first
			s.ckpts[i].meta = st.Index()
			return nil
		}
		s.log.Warn("skipping unreadable metadata checkpoint; trying an older one", "file", files[i].path, "err", err)
	}
	s.state = NewState()
	return nil
}

// cutLog keeps the applied log up to metadata index m: later segments are deleted and the one
// holding m is truncated after it. A log that does not reach m contiguously (a snapshot was
// restored just before a crash) is dropped: the log then starts after m.
func (s *RaftStore) cutLog(segs []segment, m uint64) ([]segment, error) {
	var kept []segment
	for _, seg := range segs {
		if seg.first > m+1 {
			s.remove(seg.path)
			continue
		}
		kept = append(kept, seg)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	last := kept[len(kept)-1]
	data, err := os.ReadFile(last.path)
	if err != nil {
		return nil, errcode.New(errcode.Internal, "reading metadata log: %w", err)
	}
	end, top := 0, last.first-1
	_, _, err = scanFrames(data, func(idx uint64, payload []byte) error {
		if idx <= m {
			end += frameHeader + len(payload)
			top = idx
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if top != m {
		for _, seg := range kept {
			s.remove(seg.path)
		}
		return nil, nil
	}
	if end != len(data) {
		s.log.Info("cutting the metadata log back to the checkpoint; the raft log replays the rest",
			"file", last.path, "keptBytes", end, "droppedBytes", len(data)-end)
		if err := truncateFile(last.path, int64(end)); err != nil {
			return nil, err
		}
	}
	return kept, nil
}
