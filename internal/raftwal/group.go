package raftwal

import (
	"sort"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// loc is where an entry's record lives: segment number, frame offset and length, and the
// entry's term (kept here so Term never reads a file).
type loc struct {
	seg  uint64
	off  int64
	n    int32
	term uint64
}

// group is one raft group's state as the WAL records it. The same apply methods run when a
// record is written (Save, Release, ...) and when it is read back by recovery, so the two
// cannot disagree. Every field is guarded by WAL.mu.
type group struct {
	id uint64
	// The log: entries base+1 .. base+len(locs); baseTerm is the term of entry base.
	base     uint64
	baseTerm uint64
	locs     []loc
	// cache holds the entries cacheFirst .. last (a suffix of the log), within cacheLimit bytes.
	cache      []*raftpb.Entry
	cacheFirst uint64
	cacheBytes int

	hs   *raftpb.HardState
	cs   *raftpb.ConfState
	snap *raftpb.Snapshot

	// Segments holding the latest record of each kind of state (0 = none): GC keeps them.
	hsSeg, csSeg, snapSeg, baseSeg uint64
	// confBase/confTerm are the log start the latest compact record set. While recovery
	// replays, base can differ (gap set) when the entries replayed so far do not reach back to
	// it: collected predecessors, or a stale run that newer records replace; at the end of
	// recovery no group may have a gap.
	confBase, confTerm uint64
	gap                bool
}

func newGroup(id uint64) *group { return &group{id: id} }

func (g *group) last() uint64 { return g.base + uint64(len(g.locs)) }

func (g *group) term(i uint64) (uint64, bool) {
	switch {
	case i == g.base:
		return g.baseTerm, true
	case i < g.base || i > g.last():
		return 0, false
	}
	return g.locs[i-g.base-1].term, true
}

// empty reports whether the group holds no state at all.
func (g *group) empty() bool {
	return g.base == 0 && len(g.locs) == 0 && g.hs == nil && g.cs == nil && g.snap == nil
}

// applyEntry records entry index (replacing it and everything after it). ent is the entry
// when it is being written (it goes to the cache), nil during recovery. holeBudget is nil when
// writing; during recovery it bounds how many missing entries may be held as holes.
func (g *group) applyEntry(index, term uint64, l loc, ent *raftpb.Entry, cacheLimit int, holeBudget *int64) {
	if index <= g.confBase {
		return // compacted (written entries at or below the log's start are filtered before)
	}
	// Recovery only, the two cases below. A record is stale when newer records replace it; it
	// may follow entries that were collected, leaving holes, which the newer records (or a
	// compaction) remove before the end of recovery, or recovery fails.
	if index > g.last()+1 {
		if h := int64(index - g.last() - 1); holeBudget != nil && h <= *holeBudget && h > 0 {
			*holeBudget -= h
			g.locs = append(g.locs, make([]loc, h)...)
		} else {
			g.restartAt(index)
		}
	} else if index <= g.base {
		g.restartAt(index) // base was a guess (gap); this older run replaces it
	}
	g.truncateFrom(index)
	l.term = term
	g.locs = append(g.locs, l)
	if ent == nil || cacheLimit <= 0 {
		g.dropCache()
		return
	}
	if len(g.cache) == 0 {
		g.cacheFirst = index
	}
	g.cache = append(g.cache, ent)
	g.cacheBytes += proto.Size(ent)
	for g.cacheBytes > cacheLimit && len(g.cache) > 1 {
		g.cacheBytes -= proto.Size(g.cache[0])
		g.cache[0] = nil
		g.cache = g.cache[1:]
		g.cacheFirst++
	}
}

// restartAt makes the log start at index for now: recovery met an entry it cannot link to what
// it replayed so far.
func (g *group) restartAt(index uint64) {
	g.resetTo(index-1, 0)
	g.gap = index-1 != g.confBase
	if !g.gap {
		g.baseTerm = g.confTerm
	}
}

// hasHoles reports whether recovery left an entry missing (a gap before the log or a hole in it).
func (g *group) hasHoles() (uint64, bool) {
	if g.gap {
		return g.base + 1, true
	}
	for i, l := range g.locs {
		if l.seg == 0 {
			return g.base + 1 + uint64(i), true
		}
	}
	return 0, false
}

// truncateFrom drops entries index and after.
func (g *group) truncateFrom(index uint64) {
	if index > g.last() {
		return
	}
	if index <= g.base {
		index = g.base + 1
	}
	g.locs = g.locs[: index-g.base-1 : index-g.base-1]
	if len(g.cache) > 0 && index < g.cacheFirst+uint64(len(g.cache)) {
		if index <= g.cacheFirst {
			g.dropCache()
		} else {
			keep := index - g.cacheFirst
			for _, e := range g.cache[keep:] {
				g.cacheBytes -= proto.Size(e)
			}
			g.cache = g.cache[:keep:keep]
		}
	}
}

func (g *group) dropCache() {
	g.cache, g.cacheFirst, g.cacheBytes = nil, 0, 0
}

func (g *group) resetTo(index, term uint64) {
	g.base, g.baseTerm, g.locs, g.gap = index, term, nil, false
	g.dropCache()
}

// applyCompact makes the log start after index (term) and end at last; last == index resets it.
func (g *group) applyCompact(index, term, last uint64, seg uint64) {
	g.baseSeg, g.confBase, g.confTerm = seg, index, term
	if last <= index || index > g.last() {
		g.resetTo(index, term)
		return
	}
	g.truncateFrom(last + 1)
	if index < g.base {
		return
	}
	drop := index - g.base
	g.locs = g.locs[drop:]
	g.base, g.baseTerm, g.gap = index, term, false
	if len(g.cache) > 0 && g.cacheFirst <= index {
		skip := index + 1 - g.cacheFirst
		if skip >= uint64(len(g.cache)) {
			g.dropCache()
		} else {
			for _, e := range g.cache[:skip] {
				g.cacheBytes -= proto.Size(e)
			}
			g.cache = g.cache[skip:]
			g.cacheFirst = index + 1
		}
	}
}

// segsOfEntries calls fn once for each segment holding a live entry, in order. locs are in
// file order (a later index's record is never older than an earlier one's), so the segments
// are found by binary search rather than a walk over every entry.
func (g *group) segsOfEntries(fn func(seg uint64)) {
	for i := 0; i < len(g.locs); {
		s := g.locs[i].seg
		fn(s)
		i += sort.Search(len(g.locs)-i, func(j int) bool { return g.locs[i+j].seg > s })
	}
}
