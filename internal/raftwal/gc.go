package raftwal

import "slices"

// Garbage collection of segment files.
//
// Recovery replays the segments that exist, oldest first, and the last record wins. A segment
// may therefore go once no group needs a record in it, where a group needs:
//   - the records of its live entries (after its Release / snapshot point);
//   - the latest record of each kind of state (HardState, ConfState, snapshot, and the compact
//     record that set where its log starts);
//   - for a removed group, its remove record while any older segment still holds records of
//     the group (else replay would resurrect them).
//
// A segment needed only for state records is freed by writing those records again (same
// values) into the batch being sealed; it is deleted once that batch is durable. Live entries
// are never rewritten: a group that does not Release keeps its segments.

// gcLocked decides, while sealing b, which segments may be deleted once b is durable, and
// appends to b the state records that must move for that. It runs when something could have
// released a segment (a Release, snapshot, conflict, removal, rotation or deletion).
func (w *WAL) gcLocked(b *batch) []uint64 {
	w.mu.gcDirty = false
	var cands []uint64
	for seq := range w.mu.segs {
		if seq < b.seg {
			cands = append(cands, seq)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	slices.Sort(cands)
	entryPins := map[uint64]bool{}
	statePins := map[uint64][]*group{}
	for _, g := range w.mu.groups {
		g.segsOfEntries(func(s uint64) { entryPins[s] = true })
		for _, s := range []uint64{g.hsSeg, g.csSeg, g.snapSeg, g.baseSeg} {
			if s != 0 && s < b.seg && !slices.Contains(statePins[s], g) {
				statePins[s] = append(statePins[s], g)
			}
		}
	}
	removePins := map[uint64][]uint64{}
	for id, rs := range w.mu.removed {
		if !w.olderRecordsLocked(id, rs) {
			delete(w.mu.removed, id)
		} else if rs < b.seg {
			removePins[rs] = append(removePins[rs], id)
		}
	}
	var del []uint64
	rewritten := map[*group]bool{}
	for _, s := range cands {
		if entryPins[s] || !w.canMoveRemovesLocked(removePins[s]) {
			continue
		}
		for _, g := range statePins[s] {
			if !rewritten[g] {
				rewritten[g] = true
				w.rewriteStateLocked(g, b.seg)
			}
		}
		for _, id := range removePins[s] {
			if w.mu.removed[id] < b.seg {
				l := w.putLocked(record{kind: kindRemove, group: id})
				w.mu.removed[id] = l.seg
			}
		}
		del = append(del, s)
	}
	return del
}

// olderRecordsLocked reports whether a segment older than seq holds a record of group id.
func (w *WAL) olderRecordsLocked(id, seq uint64) bool {
	for s, gs := range w.mu.segGroups {
		if _, ok := gs[id]; ok && s < seq {
			return true
		}
	}
	return false
}

// canMoveRemovesLocked reports whether the remove records of ids can be written again: not if
// a group of that id lives again (the record would forget it).
func (w *WAL) canMoveRemovesLocked(ids []uint64) bool {
	for _, id := range ids {
		if _, ok := w.mu.groups[id]; ok {
			return false
		}
	}
	return true
}

// rewriteStateLocked writes g's state records that live in segments before seg again.
func (w *WAL) rewriteStateLocked(g *group, seg uint64) {
	if g.hs != nil && g.hsSeg < seg {
		w.putHardStateLocked(g, g.hs)
	}
	if g.cs != nil && g.csSeg < seg {
		w.putConfStateLocked(g, g.cs)
	}
	if g.snap != nil && g.snapSeg < seg {
		w.putSnapshotLocked(g, g.snap)
	}
	if g.baseSeg != 0 && g.baseSeg < seg {
		w.putCompactLocked(g, g.base, g.baseTerm, g.last())
	}
}
