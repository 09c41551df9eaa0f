package meta

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Open opens or creates the metadata store in opts.Dir: it loads the newest valid snapshot,
// replays the log after it, truncates a torn or corrupt tail of the last segment (a crash in
// the middle of a write), and starts the writer goroutine.
func Open(opts StoreOptions) (*Store, error) {
	if opts.Dir == "" {
		return nil, errcode.New(errcode.InvalidArgument, "metadata store needs a directory; set the data directory")
	}
	if opts.SnapshotEvery <= 0 {
		opts.SnapshotEvery = DefaultSnapshotEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Store{
		dir:    opts.Dir,
		every:  opts.SnapshotEvery,
		log:    opts.Logger.With("component", "meta"),
		reqs:   make(chan *request),
		done:   make(chan struct{}),
		served: newServed(),
	}
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
	go s.run()
	return s, nil
}

func (s *Store) recover() error {
	if tmps, _ := filepath.Glob(filepath.Join(s.dir, "*"+tmpSuffix)); len(tmps) > 0 {
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
	if err := s.loadSnapshot(); err != nil {
		return err
	}
	// The next snapshot is due SnapshotEvery commands after the one on disk, not after this
	// start: a node that restarts before every SnapshotEvery commands would otherwise never
	// write one and replay an ever longer log at each start.
	s.nextSnapAt = s.state.Index() + uint64(s.every)
	segs, err := listNumbered(s.dir, segPrefix, segSuffix)
	if err != nil {
		return errcode.New(errcode.Internal, "listing metadata log: %w", err)
	}
	for i, seg := range segs {
		if err := s.replay(seg, i == len(segs)-1); err != nil {
			return err
		}
	}
	if len(segs) == 0 {
		first := s.state.Index() + 1
		segs = []segment{{first: first, path: segmentPath(s.dir, first)}}
	}
	s.segs = segs
	last := segs[len(segs)-1].path
	s.w, err = os.OpenFile(last, os.O_WRONLY|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return errcode.New(errcode.Internal, "opening metadata log: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return errcode.New(errcode.Internal, "syncing metadata directory: %w", err)
	}
	s.log.Info("metadata recovered", "dir", s.dir, "index", s.state.Index(), "segments", len(segs), "snapshots", len(s.snaps))
	return nil
}

// loadSnapshot sets s.state from the newest snapshot that reads back, or an empty state.
func (s *Store) loadSnapshot() error {
	files, err := listNumbered(s.dir, snapPrefix, snapSuffix)
	if err != nil {
		return errcode.New(errcode.Internal, "listing metadata snapshots: %w", err)
	}
	for _, f := range files {
		s.snaps = append(s.snaps, f.first)
	}
	for i := len(files) - 1; i >= 0; i-- {
		st, err := readSnapshot(files[i].path)
		if err == nil {
			s.state = st
			return nil
		}
		s.log.Warn("skipping unreadable metadata snapshot; trying an older one", "file", files[i].path, "err", err)
	}
	s.state = NewState()
	return nil
}

func readSnapshot(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st *State
	valid, torn, err := scanFrames(data, func(_ uint64, payload []byte) error {
		st, err = UnmarshalSnapshot(payload)
		return err
	})
	if err != nil {
		return nil, err
	}
	if torn != "" || valid != len(data) || st == nil {
		return nil, errors.New("snapshot file is torn or corrupt: " + torn)
	}
	return st, nil
}

// replay applies the entries of seg after the state's index. A torn tail is truncated if seg
// is the last segment, and is an error otherwise.
func (s *Store) replay(seg segment, last bool) error {
	data, err := os.ReadFile(seg.path)
	if err != nil {
		return errcode.New(errcode.Internal, "reading metadata log: %w", err)
	}
	valid, torn, err := scanFrames(data, func(idx uint64, payload []byte) error {
		if idx <= s.state.Index() {
			return nil
		}
		if idx != s.state.Index()+1 {
			return errcode.New(errcode.CorruptData,
				"metadata log %s jumps from index %d to %d; entries are missing, so restore the metadata directory from a backup",
				seg.path, s.state.Index(), idx)
		}
		c, err := DecodeCommand(payload)
		if err == nil {
			err = s.state.Apply(idx, c)
		}
		if err != nil {
			return errcode.New(errcode.CorruptData, "metadata log %s entry %d does not replay: %w", seg.path, idx, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if torn == "" {
		return nil
	}
	if !last {
		return errcode.New(errcode.CorruptData,
			"metadata log %s is corrupt (%s) but is not the last segment; restore the metadata directory from a backup", seg.path, torn)
	}
	s.log.Warn("truncating torn tail of metadata log", "file", seg.path, "reason", torn,
		"keptBytes", valid, "droppedBytes", len(data)-valid)
	return truncateFile(seg.path, int64(valid))
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return errcode.New(errcode.Internal, "truncating metadata log: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errcode.New(errcode.Internal, "truncating metadata log: %w", err)
	}
	return nil
}

// maybeSnapshot writes a snapshot when SnapshotEvery commands have passed since the last one,
// starts a new log segment, and deletes what recovery no longer needs: it keeps the two newest
// snapshots and the log after the older of them, so a damaged newest snapshot is survivable.
func (s *Store) maybeSnapshot() {
	idx := s.state.Index() // the writer is the only mutator, so no lock is needed to read
	if s.failed != nil || idx < s.nextSnapAt {
		return
	}
	s.nextSnapAt = idx + uint64(s.every)
	if err := s.snapshot(idx); err != nil {
		s.log.Error("writing metadata snapshot failed; the log still holds every command", "index", idx, "err", err)
	}
}

func (s *Store) snapshot(idx uint64) error {
	data, err := s.state.MarshalSnapshot()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(snapshotPath(s.dir, idx), appendFrame(nil, idx, data)); err != nil {
		return err
	}
	s.snaps = append(s.snaps, idx)
	next := segment{first: idx + 1, path: segmentPath(s.dir, idx+1)}
	w, err := os.OpenFile(next.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		_ = w.Close()
		return err
	}
	old := s.w
	s.segMu.Lock()
	s.w = w
	s.segs = append(s.segs, next)
	s.segMu.Unlock()
	if err := old.Close(); err != nil {
		s.log.Warn("closing old metadata log segment", "err", err)
	}
	s.compact()
	return nil
}

// compact deletes snapshots older than the second newest and segments holding only entries
// at or before it.
func (s *Store) compact() {
	if len(s.snaps) < 2 {
		return
	}
	keep := s.snaps[len(s.snaps)-2]
	for _, idx := range s.snaps[:len(s.snaps)-2] {
		s.remove(snapshotPath(s.dir, idx))
	}
	s.snaps = s.snaps[len(s.snaps)-2:]
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

func (s *Store) remove(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("deleting old metadata file", "file", path, "err", err)
	}
}

// ReadFrom returns up to max committed entries after index after (all when max <= 0), for a
// follower that ships or tails the log. Entries already compacted into a snapshot give
// errcode.OffsetOutOfRange: the follower must start again from Snapshot.
func (s *Store) ReadFrom(after uint64, max int) ([]Entry, error) {
	committed := s.index.Load()
	if after >= committed {
		return nil, nil
	}
	s.segMu.RLock()
	retained := len(s.segs) > 0 && s.segs[0].first <= after+1
	s.segMu.RUnlock()
	if retained { // compacted entries stay an error even while the tail still holds them
		if out, ok := s.tail.read(after, committed, max); ok {
			return out, nil
		}
	}
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	start := -1
	for i, seg := range s.segs {
		if seg.first <= after+1 {
			start = i
		}
	}
	if start < 0 {
		return nil, errcode.New(errcode.OffsetOutOfRange,
			"metadata log entries after %d were compacted into a snapshot (the log starts at %d); start the follower from a snapshot",
			after, s.segs[0].first)
	}
	return readSegments(s.segs[start:], after, committed, max, s.log)
}

// readSegments returns up to max entries after index after and up to committed (all when
// max <= 0) from segs, which must start at or before after+1. The caller holds segMu.
func readSegments(segs []segment, after, committed uint64, max int, log *slog.Logger) ([]Entry, error) {
	var out []Entry
	stop := errors.New("stop")
	for _, seg := range segs {
		data, err := os.ReadFile(seg.path)
		if err != nil {
			log.Error("reading metadata log segment failed", "file", seg.path, "err", err)
			return nil, errcode.New(errcode.Internal, "reading metadata log: %w", pathless(err))
		}
		_, _, err = scanFrames(data, func(idx uint64, payload []byte) error {
			if idx <= after {
				return nil
			}
			if idx > committed || (max > 0 && len(out) >= max) {
				return stop
			}
			c, err := DecodeCommand(payload)
			if err != nil {
				return err
			}
			out = append(out, Entry{Index: idx, Command: c})
			return nil
		})
		if err == stop {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
