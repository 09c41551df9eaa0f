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

// group is one raft group's state as the WAL records it. Every field is guarded by WAL.mu.
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

// applyEntry records a written entry (replacing index and everything after it) and caches it.
func (g *group) applyEntry(index, term uint64, l loc, ent *raftpb.Entry, cacheLimit int) {
	if index <= g.base || index > g.last()+1 {
		return // Save filters compacted entries and refuses gaps
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
	g.base, g.baseTerm, g.locs = index, term, nil
	g.dropCache()
}

// applyCompact makes the log start after index (term) and end at last; last == index resets it.
func (g *group) applyCompact(index, term, last uint64, seg uint64) {
	g.baseSeg = seg
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
	g.base, g.baseTerm = index, term
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
