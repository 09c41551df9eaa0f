package raftwal

import (
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Storage is one group's raft.Storage. Entries come from the group's cache of recent entries or
// are read back from the WAL's files. It reads the WAL's state on every call, so a Storage
// obtained before RemoveGroup sees an empty group afterwards.
type Storage struct {
	w  *WAL
	id uint64
}

var _ raft.Storage = (*Storage)(nil)

// groupLocked returns the group, or an empty one the WAL does not keep.
func (s *Storage) groupLocked() *group {
	if g, ok := s.w.mu.groups[s.id]; ok {
		return g
	}
	return newGroup(s.id)
}

// InitialState returns the recorded HardState and ConfState (empty if none).
func (s *Storage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	s.w.mu.RLock()
	defer s.w.mu.RUnlock()
	g := s.groupLocked()
	hs := &raftpb.HardState{}
	if g.hs != nil {
		hs = hardState(g.hs.GetTerm(), g.hs.GetVote(), g.hs.GetCommit())
	}
	var cs *raftpb.ConfState
	if g.cs != nil {
		cs = proto.Clone(g.cs).(*raftpb.ConfState)
	}
	return hs, raftpb.EnsureConfState(cs), nil
}

// Entries returns entries [lo, hi), at most maxSize bytes of them but at least one. Entries in
// the cache (or in a batch not written yet) are taken under the WAL's lock; the rest are read
// from the segment files after it is released, so long reads do not hold up Save.
func (s *Storage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	s.w.mu.RLock()
	g := s.groupLocked()
	switch {
	case lo <= g.base:
		s.w.mu.RUnlock()
		return nil, raft.ErrCompacted
	case hi > g.last()+1 || len(g.locs) == 0:
		s.w.mu.RUnlock()
		return nil, raft.ErrUnavailable
	case lo >= hi:
		s.w.mu.RUnlock()
		return []*raftpb.Entry{}, nil
	}
	// Plan under the lock: an entry, or where to read it. Payload lengths bound the entries' sizes
	// from below, so the plan holds at least the entries that fit in maxSize.
	plan := make([]planned, 0, min(hi-lo, 256))
	var planBytes uint64
	for i := lo; i < hi && (len(plan) == 0 || planBytes <= maxSize); i++ {
		p := planned{index: i}
		if len(g.cache) > 0 && i >= g.cacheFirst {
			p.e = g.cache[i-g.cacheFirst]
		} else {
			l := g.locs[i-g.base-1]
			if p.frame = s.w.unwrittenFrameLocked(l); p.frame == nil {
				p.loc, p.seg = l, s.w.mu.segs[l.seg]
			}
		}
		planBytes += uint64(max(0, int(p.loc.n)-frameHeader-bodyFixed)) // ≤ its proto.Size
		if p.e != nil {
			planBytes += uint64(proto.Size(p.e))
		}
		plan = append(plan, p)
	}
	s.w.mu.RUnlock()

	out := make([]*raftpb.Entry, 0, len(plan))
	var size uint64
	for _, p := range plan {
		e, err := p.entry()
		if err != nil {
			if first, _ := s.FirstIndex(); lo < first {
				return nil, raft.ErrCompacted // released while we read: its segment went
			}
			return nil, fmt.Errorf("raftwal: group %d: read entry %d: %w", s.id, p.index, err)
		}
		size += uint64(proto.Size(e))
		if len(out) > 0 && size > maxSize {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// planned is one entry Entries returns: the entry, its frame from a batch in memory, or where
// to read that frame.
type planned struct {
	index uint64
	e     *raftpb.Entry
	frame []byte
	loc   loc
	seg   *segment
}

func (p planned) entry() (*raftpb.Entry, error) {
	switch {
	case p.e != nil:
		return p.e, nil
	case p.frame == nil && p.seg == nil:
		return nil, fmt.Errorf("segment %s is gone", segName(p.loc.seg))
	case p.frame == nil:
		p.frame = make([]byte, p.loc.n)
		if _, err := p.seg.f.ReadAt(p.frame, p.loc.off); err != nil {
			return nil, fmt.Errorf("segment %s: %w", p.seg.name, pathless(err))
		}
	}
	return decodeEntry(p.frame, p.index, p.loc)
}

// Term returns the term of entry i, for i in [FirstIndex()-1, LastIndex()].
func (s *Storage) Term(i uint64) (uint64, error) {
	s.w.mu.RLock()
	defer s.w.mu.RUnlock()
	g := s.groupLocked()
	if i < g.base {
		return 0, raft.ErrCompacted
	}
	if t, ok := g.term(i); ok {
		return t, nil
	}
	return 0, raft.ErrUnavailable
}

// LastIndex returns the index of the last entry.
func (s *Storage) LastIndex() (uint64, error) {
	s.w.mu.RLock()
	defer s.w.mu.RUnlock()
	return s.groupLocked().last(), nil
}

// FirstIndex returns the index of the first entry that may be available.
func (s *Storage) FirstIndex() (uint64, error) {
	s.w.mu.RLock()
	defer s.w.mu.RUnlock()
	return s.groupLocked().base + 1, nil
}

// Snapshot returns the last snapshot recorded (an empty one if none).
func (s *Storage) Snapshot() (*raftpb.Snapshot, error) {
	s.w.mu.RLock()
	defer s.w.mu.RUnlock()
	g := s.groupLocked()
	if g.snap == nil {
		return raftpb.EnsureSnapshot(nil), nil
	}
	return proto.Clone(g.snap).(*raftpb.Snapshot), nil
}

// SetSnapshot durably records a snapshot the state machine made and compacts the entries up to
// its index (kept after it when the log holds the snapshot's index with the same term; otherwise
// the log is reset to start after it). The group's ConfState is not changed. It returns
// raft.ErrSnapOutOfDate (wrapped) for a snapshot no newer than the recorded one.
func (s *Storage) SetSnapshot(snap *raftpb.Snapshot) error {
	w := s.w
	w.mu.Lock()
	if err := w.usableLocked(); err != nil {
		w.mu.Unlock()
		return err
	}
	g := w.groupLocked(s.id)
	md := snap.GetMetadata()
	index, term := md.GetIndex(), md.GetTerm()
	if err := g.checkSnapshot(index); err != nil {
		w.mu.Unlock()
		return err
	}
	w.putSnapshotLocked(g, raftpb.EnsureSnapshot(snap))
	if index > g.base {
		last := index
		if t, ok := g.term(index); ok && t == term {
			last = g.last()
		}
		w.putCompactLocked(g, index, term, last)
	}
	b := w.mu.open
	w.mu.Unlock()
	w.signal()
	<-b.done
	return b.err
}

// unwrittenFrameLocked returns the frame at l if it is still in a batch in memory (the open one,
// or the one being written), nil if it is in a file.
func (w *WAL) unwrittenFrameLocked(l loc) []byte {
	for _, b := range []*batch{w.mu.open, w.mu.flushing} {
		if b != nil && b.seg == l.seg && l.off >= b.start && l.off < b.end() {
			return b.buf[l.off-b.start : l.off-b.start+int64(l.n) : l.off-b.start+int64(l.n)]
		}
	}
	return nil
}

// decodeEntry decodes the entry record frame of entry index, read from l.
func decodeEntry(frame []byte, index uint64, l loc) (*raftpb.Entry, error) {
	r, _, err := decodeFrame(frame)
	if err != nil {
		return nil, fmt.Errorf("segment %s at byte %d: %w", segName(l.seg), l.off, err)
	}
	if !r.kind.isEntry() || r.index != index {
		return nil, fmt.Errorf("segment %s at byte %d: %s record for index %d where entry %d was expected",
			segName(l.seg), l.off, r.kind, r.index, index)
	}
	return normalEntry(r.kind, r.index, r.term, append([]byte(nil), r.payload...)), nil
}
