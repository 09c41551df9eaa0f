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
			return w.replay(r, loc{seg: seq, off: off, n: int32(n)})
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
	for _, g := range w.mu.groups {
		if i, ok := g.hasHoles(); ok {
			return 0, 0, fmt.Errorf("raftwal: group %d: the WAL lacks entry %d (a segment is missing)", g.id, i)
		}
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

// holesPerRecord is how many missing entries recovery may hold per record it has read (see
// group.applyEntry): enough for any stale run a real WAL leaves, while arbitrary bytes cannot
// make it allocate much more than their own size.
const holesPerRecord = 64

// replay applies one record read back from segment l.seg.
func (w *WAL) replay(r record, l loc) error {
	sg := w.mu.segGroups[l.seg]
	if sg == nil {
		sg = map[uint64]struct{}{}
		w.mu.segGroups[l.seg] = sg
	}
	sg[r.group] = struct{}{}
	if r.kind == kindRemove {
		delete(w.mu.groups, r.group)
		w.mu.removed[r.group] = l.seg
		return nil
	}
	g := w.groupLocked(r.group)
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
		g.applyCompact(r.index, r.term, binary.BigEndian.Uint64(r.payload), l.seg)
	default: // an entry (decodeFrame refuses unknown kinds)
		w.holeBudget += holesPerRecord
		g.applyEntry(r.index, r.term, l, nil, 0, &w.holeBudget)
	}
	return nil
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
