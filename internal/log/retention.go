package log

import (
	"fmt"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// lockAll takes every lock for an operation that closes, deletes or shrinks files.
func (l *Log) lockAll() func() {
	l.appendMu.Lock()
	l.syncMu.Lock()
	l.filesMu.Lock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		l.filesMu.Unlock()
		l.syncMu.Unlock()
		l.appendMu.Unlock()
	}
}

// TruncateTo removes every record at and after offset, which must be the start of a batch
// (replication truncates at batch boundaries). Truncating at or past the end does nothing.
func (l *Log) TruncateTo(offset int64) error {
	defer l.opts.Budget.enforce(l) // runs after unlock
	unlock := l.lockAll()
	defer unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if err := l.openFilesLocked(); err != nil {
		return err
	}
	start, end := l.mu.segs[0].base, l.mu.end
	if offset >= end {
		return nil
	}
	if offset < start {
		return errcode.New(errcode.OffsetOutOfRange,
			"cannot truncate to offset %d: the log starts at %d; truncate to an offset in [%d, %d]", offset, start, start, end)
	}
	i, seg := l.segmentForLocked(offset)
	pos := int64(0)
	if offset != seg.base {
		h, p, err := seekBatch(seg.f, seg.lookup(offset), seg.size, offset)
		if err != nil {
			return fmt.Errorf("truncate %s: %w", l.opts.Name, err)
		}
		if p >= seg.size || h.BaseOffset != offset {
			return errcode.New(errcode.InvalidArgument,
				"cannot truncate to offset %d: it is inside the batch [%d, %d]; truncate to a batch's first offset",
				offset, h.BaseOffset, h.NextOffset()-1)
		}
		pos = p
	}
	if offset == seg.base && i > 0 {
		i-- // drop the whole segment; the previous one becomes active and keeps its data
		seg = l.mu.segs[i]
		pos = seg.size
	}
	for _, s := range l.mu.segs[i+1:] {
		if err := l.removeSegmentLocked(s); err != nil {
			return l.failLocked("delete segment", err)
		}
	}
	l.mu.segs = l.mu.segs[:i+1]
	if err := seg.f.Truncate(pos); err != nil {
		return l.failLocked("truncate", err)
	}
	if err := seg.f.Sync(); err != nil {
		return l.failLocked("fsync", err)
	}
	if err := l.fs.SyncDir(l.opts.Dir); err != nil {
		return l.failLocked("sync directory", err)
	}
	// Rebuild the in-memory state of the now active segment from the bytes that remain.
	*seg = *newSegment(l.opts.Dir, seg.base, seg.f)
	if err := seg.scan(0, pos, l.opts.IndexIntervalBytes); err != nil {
		return l.failLocked("rescan after truncate", err)
	}
	l.mu.end = seg.next
	l.mu.durable = seg.next
	l.unsynced.Store(0)
	l.broadcastLocked()
	return nil
}

func (l *Log) writableLocked() error {
	if l.mu.failed != nil {
		return l.mu.failed
	}
	if l.mu.closed {
		return l.errClosed()
	}
	return nil
}

// failLocked is fail for callers holding mu.
func (l *Log) failLocked(op string, err error) error {
	l.mu.Unlock()
	defer l.mu.Lock()
	return l.fail(op, err)
}

// removeSegmentLocked closes (if open) and deletes a segment's files. The caller holds every
// lock.
func (l *Log) removeSegmentLocked(s *segment) error {
	if l.files.open {
		_ = s.f.Close()
		l.files.count--
		l.opts.Budget.charge(l, -1, true)
	}
	if err := l.fs.Remove(s.path); err != nil {
		return err
	}
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if err := l.fs.Remove(segmentName(l.opts.Dir, s.base, suffix)); err != nil && !isNotExist(err) {
			return err
		}
	}
	return nil
}

// DeleteBefore deletes whole segments all of whose records are below offset, never the active
// segment, and returns how many it deleted. StartOffset advances accordingly.
func (l *Log) DeleteBefore(offset int64) (int, error) {
	return l.deleteOldest(func(s *segment, _ int64) bool { return s.next <= offset })
}

// ApplyRetention deletes the oldest segments whose newest batch is older than RetentionTime
// (by Options.Now), then, while the log would still hold at least RetentionBytes without it,
// the oldest segment (as Kafka does). The active segment is never deleted.
func (l *Log) ApplyRetention() (deletedSegments int, err error) {
	return l.ApplyRetentionWith(l.opts.RetentionTime, l.opts.RetentionBytes)
}

// ApplyRetentionWith is ApplyRetention with the given retention time and bytes (0: no limit)
// instead of the Options': for a log whose retention changes while it is open (a replicated
// partition, which is not reopened when its hub's retention is updated).
func (l *Log) ApplyRetentionWith(retentionTime time.Duration, retentionBytes int64) (deletedSegments int, err error) {
	cutoff := int64(-1 << 63)
	if retentionTime > 0 {
		cutoff = l.opts.Now().Add(-retentionTime).UnixMilli()
	}
	limit := retentionBytes
	return l.deleteOldest(func(s *segment, total int64) bool {
		return s.maxTS < cutoff || (limit > 0 && total-s.size >= limit)
	})
}

// deleteOldest deletes segments from the oldest while drop(segment, total bytes) holds.
func (l *Log) deleteOldest(drop func(s *segment, total int64) bool) (int, error) {
	unlock := l.lockAll()
	defer unlock()
	if l.mu.closed {
		return 0, l.errClosed()
	}
	var total int64
	for _, s := range l.mu.segs {
		total += s.size
	}
	n := 0
	for len(l.mu.segs) > 1 && drop(l.mu.segs[0], total) {
		s := l.mu.segs[0]
		l.mu.segs = l.mu.segs[1:]
		total -= s.size
		n++
		if err := l.removeSegmentLocked(s); err != nil {
			return n, fmt.Errorf("delete segment %d of %s: %w", s.base, l.opts.Name, pathless(err))
		}
	}
	if n > 0 {
		if err := l.fs.SyncDir(l.opts.Dir); err != nil {
			return n, fmt.Errorf("sync the directory of %s: %w", l.opts.Name, pathless(err))
		}
		l.log.Info("deleted old segments", "count", n, "start_offset", l.mu.segs[0].base)
	}
	return n, nil
}
