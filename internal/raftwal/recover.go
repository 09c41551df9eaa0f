package raftwal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// recover opens every segment, replays its records into the groups and truncates a torn tail
// of the last one. It returns the last segment and its valid length (0, 0 when there is none).
func (w *WAL) recover() (uint64, int64, error) {
	seqs, err := w.listSegments()
	if err != nil {
		return 0, 0, err
	}
	var tailOff int64
	pend := map[uint64]*pending{}
	for i, seq := range seqs {
		name := segName(seq)
		f, err := w.fs.OpenFile(w.path(name), os.O_RDWR, filePerm)
		if err != nil {
			return 0, 0, fmt.Errorf("raftwal: open segment %s: %w", name, pathless(err))
		}
		w.mu.segs[seq] = &segment{seq: seq, name: name, f: f}
		st, err := f.Stat()
		if err != nil {
			return 0, 0, fmt.Errorf("raftwal: stat segment %s: %w", name, pathless(err))
		}
		valid, err := scanRecords(f, st.Size(), func(r record, off int64, n int) error {
			return w.replay(pend, r, loc{seg: seq, off: off, n: int32(n)})
		})
		var torn *errTorn
		switch {
		case errors.As(err, &torn) && i == len(seqs)-1:
			w.log.Warn("raft WAL: truncating a torn tail", "segment", name, "at", valid, "reason", torn.reason)
			if err := f.Truncate(valid); err != nil {
				return 0, 0, fmt.Errorf("raftwal: truncate the torn tail of segment %s: %w", name, pathless(err))
			}
			if err := f.Sync(); err != nil {
				return 0, 0, fmt.Errorf("raftwal: sync segment %s: %w", name, pathless(err))
			}
		case torn != nil:
			return 0, 0, fmt.Errorf("raftwal: segment %s is corrupt (%v) but is not the last segment, so this is "+
				"not a torn write; refusing to open: restore the node's WAL from a replica (remove this node's "+
				"data and let raft send it a snapshot)", name, torn)
		case err != nil:
			return 0, 0, fmt.Errorf("raftwal: segment %s: %w", name, pathless(err))
		}
		tailOff = valid
	}
	for id, p := range pend {
		g, err := p.resolve()
		if err != nil {
			return 0, 0, err
		}
		w.mu.groups[id] = g
	}
	if len(seqs) == 0 {
		return 0, 0, nil
	}
	return seqs[len(seqs)-1], tailOff, nil
}

// listSegments returns the numbers of the segment files in the directory, in order.
func (w *WAL) listSegments() ([]uint64, error) {
	ents, err := w.fs.ReadDir(w.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("raftwal: list directory: %w", pathless(err))
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "wal-") || !strings.HasSuffix(name, ".log") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "wal-"), ".log"), 10, 64)
		if err != nil || n == 0 || segName(n) != name {
			continue
		}
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	return seqs, nil
}

// Recovery does not re-run the writes: the segments left after garbage collection are a subset
// of what was written, and records whose effect depended on collected ones would replay wrongly.
// Instead it reads what the records say about the end state, which only needs records GC keeps:
//   - the log start (base, its term) is the latest compact record's;
//   - the log end is set by the latest record that shapes the log: an entry record ends it at
//     its index, a compact record at its "last";
//   - each entry between is the latest entry record for its index;
//   - each kind of state is its latest record; a remove record forgets everything before it.

// pending is a group's records as recovery collects them.
type pending struct {
	g          *group
	entries    []loc // entry records in file order; loc.term is the term, index in idx
	idx        []uint64
	hasCompact bool
	last       uint64 // the log end the latest shaping record set
}

// replay collects one record read back from segment l.seg.
func (w *WAL) replay(pend map[uint64]*pending, r record, l loc) error {
	sg := w.mu.segGroups[l.seg]
	if sg == nil {
		sg = map[uint64]struct{}{}
		w.mu.segGroups[l.seg] = sg
	}
	sg[r.group] = struct{}{}
	if r.kind == kindRemove {
		delete(pend, r.group)
		w.mu.removed[r.group] = l.seg
		return nil
	}
	p := pend[r.group]
	if p == nil {
		p = &pending{g: newGroup(r.group)}
		pend[r.group] = p
	}
	g := p.g
	bad := func(why string) error {
		// The checksum held, so this is no torn write: refuse to open rather than truncate.
		return fmt.Errorf("%s record of group %d at byte %d is invalid: %s", r.kind, r.group, l.off, why)
	}
	switch r.kind {
	case kindHardState:
		if len(r.payload) != 8 {
			return bad("payload is not 8 bytes")
		}
		g.hs, g.hsSeg = hardState(r.term, binary.BigEndian.Uint64(r.payload), r.index), l.seg
	case kindConfState:
		cs := &raftpb.ConfState{}
		if err := proto.Unmarshal(r.payload, cs); err != nil {
			return bad(err.Error())
		}
		g.cs, g.csSeg = cs, l.seg
	case kindSnapshot:
		s := &raftpb.Snapshot{}
		if err := proto.Unmarshal(r.payload, s); err != nil {
			return bad(err.Error())
		}
		g.snap, g.snapSeg = s, l.seg
	case kindCompact:
		if len(r.payload) != 8 {
			return bad("payload is not 8 bytes")
		}
		g.base, g.baseTerm, g.baseSeg, p.hasCompact = r.index, r.term, l.seg, true
		p.last = max(binary.BigEndian.Uint64(r.payload), r.index)
	default: // an entry (decodeFrame refuses unknown kinds)
		l.term = r.term
		p.entries = append(p.entries, l)
		p.idx = append(p.idx, r.index)
		p.last = r.index
	}
	return nil
}

// resolve builds the group's log from its collected records.
func (p *pending) resolve() (*group, error) {
	g := p.g
	last := max(p.last, g.base)
	if last-g.base > uint64(len(p.entries)) {
		return nil, fmt.Errorf("raftwal: group %d: the WAL lacks entries between %d and %d (a segment is missing)",
			g.id, g.base+1, last)
	}
	g.locs = make([]loc, last-g.base)
	for k := len(p.entries) - 1; k >= 0; k-- {
		i := p.idx[k]
		if i > g.base && i <= last && g.locs[i-g.base-1].seg == 0 {
			g.locs[i-g.base-1] = p.entries[k]
		}
	}
	for k, l := range g.locs {
		if l.seg == 0 {
			return nil, fmt.Errorf("raftwal: group %d: the WAL lacks entry %d (a segment is missing)", g.id, g.base+1+uint64(k))
		}
	}
	return g, nil
}

// pathless drops the path an *fs.PathError carries: WAL errors can reach clients, which must
// not learn the node's paths (the log has them).
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
