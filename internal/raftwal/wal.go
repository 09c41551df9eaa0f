// Package raftwal is the node-wide write-ahead log of every raft group on a node (design
// replication.md §3.3, "Option B"): one sequence of CRC-32C framed records in segment files,
// group-committed so that one fsync makes the writes of every group durable, and a
// raft.Storage per group served from an in-memory index (and a small cache of recent entries)
// over those files.
//
// It owns the files in Options.Dir and nothing else: it does not apply entries, send messages
// or know what a group's entries mean; the multi-raft host drives it.
//
// Records: raft entries, HardState, ConfState, snapshot and compaction ("the log starts after
// index i") records, and group removals. The log is log-structured: a conflicting append at
// index j writes new records and the in-memory index forgets the old ones from j; recovery
// scans the segments in order and the last record wins. A torn or checksum-bad tail of the
// last segment is truncated; a bad record anywhere else is corruption and Open fails naming the
// segment. A segment is deleted once no group needs a record in it (see gc.go).
package raftwal

import (
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// Update is what one raft group needs made durable (from a MsgStorageAppend or a Ready).
type Update struct {
	Group uint64
	// HardState: nil or raft.IsEmptyHardState: nothing to write.
	HardState *raftpb.HardState
	// Snapshot: nil or raft.IsEmptySnap: none. Otherwise applied BEFORE Entries: the log is reset
	// to start after the snapshot's index (as raft.MemoryStorage.ApplySnapshot does) and the
	// ConfState is taken from it.
	Snapshot *raftpb.Snapshot
	// Entries are appended; an entry at index i replaces i and everything after it. Entries at
	// or below the log's start are ignored; a gap after the last entry is an error.
	Entries []*raftpb.Entry
	// ConfState, when non-nil, is the group's ConfState after applying a conf change.
	ConfState *raftpb.ConfState
}

// UpdateFromAppend returns the Update a MsgStorageAppend of group asks for (with
// raft.Config.AsyncStorageWrites): its entries, its snapshot, and the HardState carried in its
// Term, Vote and Commit fields (none when they are unset). After Save returns, the host steps
// m.Responses.
func UpdateFromAppend(group uint64, m *raftpb.Message) Update {
	u := Update{Group: group, Entries: m.GetEntries(), Snapshot: m.GetSnapshot()}
	if m.Term != nil || m.Vote != nil || m.Commit != nil {
		u.HardState = hardState(m.GetTerm(), m.GetVote(), m.GetCommit())
	}
	return u
}

// Options configure a WAL.
type Options struct {
	Dir string
	// FS is the filesystem; nil means seglog.OSFS{}. Tests pass a crashable in-memory FS.
	FS seglog.FS
	// SegmentBytes is the size after which a new segment file is started (default 64 MiB).
	SegmentBytes int64
	// CacheBytes bounds each group's cache of recent entries (0: 1 MiB; negative: no cache).
	// The newest entry written by this process is cached even when it alone is larger.
	CacheBytes int
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
}

const (
	defaultSegmentBytes = 64 << 20
	defaultCacheBytes   = 1 << 20
	filePerm            = fs.FileMode(0o600)
	dirPerm             = fs.FileMode(0o700)
)

// ErrClosed is returned by calls after Close.
var ErrClosed = errors.New("raftwal: closed")

// WAL is the node-wide raft write-ahead log. Its methods are safe for concurrent use.
type WAL struct {
	opts Options
	fs   seglog.FS
	log  *slog.Logger

	mu struct {
		sync.RWMutex
		groups map[uint64]*group
		// removed maps a removed group to the segment of its remove record (see gc.go).
		removed map[uint64]uint64
		segs    map[uint64]*segment // every segment file, by number
		// open is the batch being filled; flushing the one being written (nil if none).
		open     *batch
		flushing *batch
		// segGroups lists, per segment, the groups with any record in it (for remove records).
		segGroups map[uint64]map[uint64]struct{}
		gcDirty   bool
		failed    error
		closed    bool
	}
	stats struct {
		flushes, bytes atomic.Int64
	}
	met  *metrics
	kick chan struct{} // the writer has work
	done chan struct{} // closed when the writer exits
}

type segment struct {
	seq  uint64
	name string
	f    seglog.File
}

// batch is one group-commit flush: the frames of every record written since the previous
// flush, bound for segment seg at byte start. done closes when they are durable (or err is set).
type batch struct {
	seg    uint64
	start  int64
	newSeg bool
	buf    []byte
	done   chan struct{}
	err    error
	// deletable is what GC decided, when the batch was sealed, may go once it is durable.
	deletable []uint64
}

func (b *batch) end() int64 { return b.start + int64(len(b.buf)) }

func segName(seq uint64) string { return fmt.Sprintf("wal-%020d.log", seq) }

// Open opens (creating if needed) the WAL in opts.Dir and recovers every group's state.
func Open(opts Options) (*WAL, error) {
	if opts.FS == nil {
		opts.FS = seglog.OSFS{}
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = defaultSegmentBytes
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = defaultCacheBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := &WAL{opts: opts, fs: opts.FS, log: opts.Logger, kick: make(chan struct{}, 1), done: make(chan struct{}),
		met: newMetrics(opts.Registerer)}
	w.mu.groups = map[uint64]*group{}
	w.mu.removed = map[uint64]uint64{}
	w.mu.segs = map[uint64]*segment{}
	w.mu.segGroups = map[uint64]map[uint64]struct{}{}
	if err := w.fs.MkdirAll(opts.Dir, dirPerm); err != nil {
		return nil, fmt.Errorf("raftwal: create directory: %w", err)
	}
	tail, tailOff, err := w.recover()
	if err != nil {
		w.closeFiles()
		return nil, err
	}
	w.mu.open = w.newBatch(tail, tailOff)
	w.mu.gcDirty = true
	go w.run()
	return w, nil
}

// newBatch starts a batch after byte off of segment seq, or in a new segment if that one is full.
func (w *WAL) newBatch(seq uint64, off int64) *batch {
	b := &batch{seg: seq, start: off, done: make(chan struct{})}
	if off >= w.opts.SegmentBytes || seq == 0 {
		b.seg, b.start, b.newSeg = seq+1, 0, true
	}
	return b
}

// Save makes updates durable and applies them to the groups' Storage. It blocks until one
// fsync covering them (and everything else written meanwhile) returns. The updates are applied
// in order; if one is invalid (a gap in a group's log, an out-of-date snapshot), the ones
// before it are still written and Save returns the error. Save with no updates waits for
// everything written so far (including Release records) to be durable.
func (w *WAL) Save(updates []Update) error {
	w.mu.Lock()
	if err := w.usableLocked(); err != nil {
		w.mu.Unlock()
		return err
	}
	var err error
	for i := range updates {
		if err = w.saveLocked(&updates[i]); err != nil {
			break
		}
	}
	b := w.mu.open
	wait := len(b.buf) > 0
	if !wait && w.mu.flushing != nil {
		// Nothing new, but a flush is writing earlier records (a Release, say): "everything
		// written so far" includes them, so wait for that flush.
		b, wait = w.mu.flushing, true
	}
	w.mu.Unlock()
	if !wait {
		return err
	}
	w.signal()
	<-b.done
	if err == nil {
		err = b.err
	}
	return err
}

func (w *WAL) usableLocked() error {
	switch {
	case w.mu.closed:
		return ErrClosed
	case w.mu.failed != nil:
		return w.mu.failed
	}
	return nil
}

func (w *WAL) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// saveLocked validates one update and writes its records into the open batch.
func (w *WAL) saveLocked(u *Update) error {
	g := w.groupLocked(u.Group)
	if !raft.IsEmptySnap(u.Snapshot) {
		md := u.Snapshot.GetMetadata()
		if err := g.checkSnapshot(md.GetIndex()); err != nil {
			return err
		}
		w.putSnapshotLocked(g, u.Snapshot)
		w.putConfStateLocked(g, confStateOf(md))
		w.putCompactLocked(g, md.GetIndex(), md.GetTerm(), md.GetIndex())
	}
	if len(u.Entries) > 0 {
		for i := 1; i < len(u.Entries); i++ {
			if u.Entries[i].GetIndex() != u.Entries[i-1].GetIndex()+1 {
				return fmt.Errorf("raftwal: group %d: entries are not consecutive (%d after %d)",
					g.id, u.Entries[i].GetIndex(), u.Entries[i-1].GetIndex())
			}
		}
		if first := u.Entries[0].GetIndex(); first > g.last()+1 {
			return fmt.Errorf("raftwal: group %d: append at index %d leaves a gap after the last index %d",
				g.id, first, g.last())
		}
		for _, e := range u.Entries {
			if e.GetIndex() > g.base {
				w.putEntryLocked(g, e)
			}
		}
	}
	if u.ConfState != nil {
		w.putConfStateLocked(g, u.ConfState)
	}
	if !raft.IsEmptyHardState(u.HardState) {
		w.putHardStateLocked(g, u.HardState)
	}
	return nil
}

// checkSnapshot refuses a snapshot no newer than the one recorded.
func (g *group) checkSnapshot(index uint64) error {
	if cur := g.snap.GetMetadata().GetIndex(); cur != 0 && cur >= index {
		return fmt.Errorf("raftwal: group %d: snapshot at index %d is not newer than the recorded one at %d: %w",
			g.id, index, cur, raft.ErrSnapOutOfDate)
	}
	return nil
}

func (w *WAL) groupLocked(id uint64) *group {
	g, ok := w.mu.groups[id]
	if !ok {
		g = newGroup(id)
		w.mu.groups[id] = g
	}
	return g
}

// putLocked appends r to the open batch and returns where it went.
func (w *WAL) putLocked(r record) loc {
	b := w.mu.open
	l := loc{seg: b.seg, off: b.end()}
	b.buf = appendRecord(b.buf, r)
	l.n = int32(b.end() - l.off)
	sg := w.mu.segGroups[b.seg]
	if sg == nil {
		sg = map[uint64]struct{}{}
		w.mu.segGroups[b.seg] = sg
	}
	sg[r.group] = struct{}{}
	return l
}

func (w *WAL) putEntryLocked(g *group, e *raftpb.Entry) {
	k := kindEntry + kind(e.GetType())
	l := w.putLocked(record{kind: k, group: g.id, index: e.GetIndex(), term: e.GetTerm(), payload: e.GetData()})
	if e.GetIndex() <= g.last() {
		w.mu.gcDirty = true // a conflict: records become garbage
	}
	g.applyEntry(e.GetIndex(), e.GetTerm(), l, normalEntry(k, e.GetIndex(), e.GetTerm(), e.GetData()), w.opts.CacheBytes)
}

func (w *WAL) putHardStateLocked(g *group, hs *raftpb.HardState) {
	l := w.putLocked(record{kind: kindHardState, group: g.id, index: hs.GetCommit(), term: hs.GetTerm(), payload: u64(hs.GetVote())})
	g.hs, g.hsSeg = hardState(hs.GetTerm(), hs.GetVote(), hs.GetCommit()), l.seg
}

func (w *WAL) putConfStateLocked(g *group, cs *raftpb.ConfState) {
	data, _ := proto.Marshal(cs) // a ConfState of uint64 lists always marshals
	l := w.putLocked(record{kind: kindConfState, group: g.id, payload: data})
	g.cs, g.csSeg = proto.Clone(cs).(*raftpb.ConfState), l.seg
}

func (w *WAL) putSnapshotLocked(g *group, s *raftpb.Snapshot) {
	data, _ := proto.Marshal(s)
	md := s.GetMetadata()
	l := w.putLocked(record{kind: kindSnapshot, group: g.id, index: md.GetIndex(), term: md.GetTerm(), payload: data})
	g.snap, g.snapSeg = proto.Clone(s).(*raftpb.Snapshot), l.seg
}

func (w *WAL) putCompactLocked(g *group, index, term, last uint64) {
	l := w.putLocked(record{kind: kindCompact, group: g.id, index: index, term: term, payload: u64(last)})
	g.applyCompact(index, term, last, l.seg)
	w.mu.gcDirty = true
}

// Stats are counters of the WAL's work since Open.
type Stats struct {
	Flushes      int64 // group-commit flushes, each one write and one fsync
	BytesWritten int64 // bytes of records written
}

// Stats returns the counters of the WAL's work since Open.
func (w *WAL) Stats() Stats {
	return Stats{Flushes: w.stats.flushes.Load(), BytesWritten: w.stats.bytes.Load()}
}

// Storage returns the raft.Storage of group (empty if the WAL knows nothing of it).
func (w *WAL) Storage(group uint64) *Storage { return &Storage{w: w, id: group} }

// Groups returns the groups with any recorded state, sorted.
func (w *WAL) Groups() []uint64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]uint64, 0, len(w.mu.groups))
	for id, g := range w.mu.groups {
		if !g.empty() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Release tells the WAL that the state machine has durably checkpointed the group's entries up
// to index: they may be garbage-collected. Storage.FirstIndex moves past index at once (index
// is capped at the last index); the record saying so becomes durable with the next flush,
// which Release starts but does not wait for.
func (w *WAL) Release(group, index uint64) {
	w.mu.Lock()
	g, ok := w.mu.groups[group]
	if !ok || w.usableLocked() != nil {
		w.mu.Unlock()
		return
	}
	index = min(index, g.last())
	if index > g.base {
		t, _ := g.term(index)
		w.putCompactLocked(g, index, t, g.last())
	}
	w.mu.Unlock()
	w.signal()
}

// RemoveGroup durably forgets a group (its replica moved away).
func (w *WAL) RemoveGroup(group uint64) error {
	w.mu.Lock()
	if err := w.usableLocked(); err != nil {
		w.mu.Unlock()
		return err
	}
	l := w.putLocked(record{kind: kindRemove, group: group})
	delete(w.mu.groups, group)
	w.mu.removed[group] = l.seg
	w.mu.gcDirty = true
	b := w.mu.open
	w.mu.Unlock()
	w.signal()
	<-b.done
	return b.err
}

// Close flushes what was written, stops the writer and closes the files.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.mu.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.mu.closed = true
	w.mu.Unlock()
	w.signal()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.mu.failed
	if cerr := w.closeFilesLocked(); err == nil {
		err = cerr
	}
	return err
}

func (w *WAL) closeFiles() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.closeFilesLocked()
}

func (w *WAL) closeFilesLocked() error {
	var err error
	for _, s := range w.mu.segs {
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
	}
	w.mu.segs = map[uint64]*segment{}
	return err
}

func (w *WAL) path(name string) string { return filepath.Join(w.opts.Dir, name) }

func normalEntry(k kind, index, term uint64, data []byte) *raftpb.Entry {
	t := raftpb.EntryType(k - kindEntry)
	if len(data) == 0 {
		data = nil
	}
	return &raftpb.Entry{Index: &index, Term: &term, Type: &t, Data: data}
}

func hardState(term, vote, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: &term, Vote: &vote, Commit: &commit}
}

// confStateOf returns the snapshot's ConfState, an empty one if it has none.
func confStateOf(md *raftpb.SnapshotMetadata) *raftpb.ConfState {
	if cs := md.GetConfState(); cs != nil {
		return cs
	}
	return &raftpb.ConfState{}
}
