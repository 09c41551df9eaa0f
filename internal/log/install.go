package log

import (
	"errors"
	"fmt"
	"os"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// StagedSegmentPath is where a caller stages a segment of whole batches starting at base before
// InstallSegment moves it into the log. Open removes such files left over by a crash.
func (l *Log) StagedSegmentPath(base int64) string {
	return segmentName(l.opts.Dir, base, logSuffix+tmpSuffix)
}

// InstallSegment makes the staged file at StagedSegmentPath(base), which must hold whole, valid
// batches with contiguous offsets from base and be fsynced, the log's active segment: a replica
// catching up from another replica's files (replication's snapshot install).
//
// base must be at or past the end. At the end, the segment is appended; past it (a gap), the
// log afterwards starts at base and every older segment is deleted. The steps are ordered so a
// crash leaves something recoverable: the staged file is renamed into place (directory
// fsynced), then commit runs (the caller durably records the new state, e.g. a checkpoint),
// then older segments are deleted. Until commit returns, a crash leaves the new segment past
// what the caller recorded, and the caller removes it before Open (segments past its record)
// or truncates it away after Open (one at its recorded end). If commit fails, the new
// segment stays installed and the log fails: reopen it.
func (l *Log) InstallSegment(base int64, commit func() error) error {
	defer l.opts.Budget.enforce(l)
	unlock := l.lockAll()
	defer unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if err := l.openFilesLocked(); err != nil {
		return err
	}
	if base < l.mu.end {
		return errcode.New(errcode.InvalidArgument, "%s: cannot install a segment at %d below the log end %d", l.opts.Name, base, l.mu.end)
	}
	active := l.mu.segs[len(l.mu.segs)-1]
	if err := active.f.Sync(); err != nil {
		return l.failLocked("fsync", err)
	}
	if active.base == base { // an empty active segment of that name: the new one replaces it
		_ = active.f.Close()
		l.mu.segs = l.mu.segs[:len(l.mu.segs)-1]
		l.files.count--
		l.opts.Budget.charge(l, -1, true)
	} else if err := l.writeIndexesLocked(active); err != nil {
		return err
	}
	name := segmentName(l.opts.Dir, base, logSuffix)
	if err := l.fs.Rename(l.StagedSegmentPath(base), name); err != nil {
		return fmt.Errorf("install segment %d of %s: %w", base, l.opts.Name, pathless(err))
	}
	if err := l.fs.SyncDir(l.opts.Dir); err != nil {
		return l.failLocked("sync directory", err)
	}
	f, err := l.fs.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return l.failLocked("open installed segment", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return l.failLocked("stat installed segment", err)
	}
	seg := newSegment(l.opts.Dir, base, f)
	if err := seg.scan(0, st.Size(), l.opts.IndexIntervalBytes); err != nil || seg.size != st.Size() {
		_ = f.Close()
		return l.failLocked("scan installed segment", errors.Join(err, fmt.Errorf("segment %d holds %d bytes of whole batches of %d", base, seg.size, st.Size())))
	}
	gap := len(l.mu.segs) > 0 && base > l.mu.end
	l.mu.segs = append(l.mu.segs, seg)
	l.files.count++
	l.opts.Budget.charge(l, 1, true)
	l.mu.end, l.mu.durable = seg.next, seg.next
	l.unsynced.Store(0)
	l.broadcastLocked()
	if err := commit(); err != nil {
		return l.failLocked("commit installed segment", err)
	}
	if gap {
		for _, s := range l.mu.segs[:len(l.mu.segs)-1] {
			if err := l.removeSegmentLocked(s); err != nil {
				return l.failLocked("delete segment", err)
			}
		}
		l.mu.segs = []*segment{seg}
		if err := l.fs.SyncDir(l.opts.Dir); err != nil {
			return l.failLocked("sync directory", err)
		}
	}
	return nil
}

// writeIndexesLocked writes a segment's index files, as roll does for a segment that stops
// being active.
func (l *Log) writeIndexesLocked(s *segment) error {
	idx, tidx := s.encodeIndexes()
	if err := writeFileAtomic(l.fs, segmentName(l.opts.Dir, s.base, indexSuffix), idx, filePerm); err != nil {
		return l.failLocked("write index", err)
	}
	if err := writeFileAtomic(l.fs, segmentName(l.opts.Dir, s.base, timeIndexSuffix), tidx, filePerm); err != nil {
		return l.failLocked("write time index", err)
	}
	return nil
}
