package log

import (
	"math"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Append writes b, which must be exactly one v2 record batch, at the end of the log. It
// rewrites b in place: the base offset becomes the log's end offset and, if appendTime >= 0,
// the batch becomes LogAppendTime with that timestamp (CRC recomputed). It returns the offsets
// of the batch's first and last records. Append reads no clock: given the same log, batch and
// appendTime it does the same thing. With FsyncAlways it returns after the batch is fsynced.
func (l *Log) Append(b []byte, appendTime int64) (base, last int64, err error) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return 0, 0, err
	}
	if h.Size() != len(b) {
		return 0, 0, errcode.New(errcode.CorruptData,
			"append got %d bytes but the batch is %d bytes; pass exactly one record batch", len(b), h.Size())
	}
	if h.NumRecords == 0 {
		return 0, 0, errcode.New(errcode.CorruptData, "record batch has no records; send at least one record")
	}
	l.appendMu.Lock()
	base, err = l.appendLocked(b, h, appendTime)
	l.appendMu.Unlock()
	l.opts.Budget.enforce(l) // a reopen or a new segment may have taken the budget over its limit
	if err != nil {
		return 0, 0, err
	}
	last = base + int64(h.LastOffsetDelta)
	if l.opts.Fsync.Mode == FsyncAlways {
		err = l.syncUpTo(last + 1)
	}
	return base, last, err
}

func (l *Log) appendLocked(b []byte, h batch.Header, appendTime int64) (int64, error) {
	l.touch()
	l.mu.RLock()
	err, closed, open := l.mu.failed, l.mu.closed, l.files.open
	seg, base := l.mu.segs[len(l.mu.segs)-1], l.mu.end
	l.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	if closed {
		return 0, l.errClosed()
	}
	if !open {
		// The files stay open until appendMu is released: closing them needs it.
		if err := l.reopen(); err != nil {
			return 0, err
		}
	}
	l.startSyncerLocked()
	full := seg.size > 0 && seg.size+int64(len(b)) > l.opts.SegmentBytes
	if full || base+int64(h.LastOffsetDelta)+1-seg.base > math.MaxUint32 {
		if seg, err = l.roll(seg, base); err != nil {
			return 0, err
		}
	}
	batch.SetBaseOffset(b, base)
	h.BaseOffset = base
	if appendTime >= 0 {
		batch.SetLogAppendTime(b, appendTime)
		h.MaxTimestamp = appendTime
		h.Attributes |= 0x08
	}
	pos := seg.size
	if _, err := seg.f.WriteAt(b, pos); err != nil {
		_ = seg.f.Truncate(pos) // best effort: recovery truncates a torn tail anyway
		return 0, l.fail("write", err)
	}
	l.mu.Lock()
	seg.noteBatch(pos, h, len(b), l.opts.IndexIntervalBytes)
	l.mu.end = h.NextOffset()
	l.unsynced.Add(int64(len(b)))
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return base, nil
}

// roll makes the active segment durable, writes its indexes and starts a new segment at base.
func (l *Log) roll(old *segment, base int64) (*segment, error) {
	if err := old.f.Sync(); err != nil {
		return nil, l.fail("fsync", err)
	}
	l.advanceDurable(base)
	l.mu.RLock()
	idx, tidx := old.encodeIndexes()
	l.mu.RUnlock()
	if err := writeFileAtomic(l.fs, segmentName(l.opts.Dir, old.base, indexSuffix), idx, filePerm); err != nil {
		return nil, l.fail("write index", err)
	}
	if err := writeFileAtomic(l.fs, segmentName(l.opts.Dir, old.base, timeIndexSuffix), tidx, filePerm); err != nil {
		return nil, l.fail("write time index", err)
	}
	seg, err := l.createSegment(base)
	if err != nil {
		return nil, l.fail("create segment", err)
	}
	l.mu.Lock()
	l.mu.segs = append(l.mu.segs, seg)
	l.files.count++
	l.mu.Unlock()
	l.opts.Budget.charge(l, 1, true)
	return seg, nil
}
