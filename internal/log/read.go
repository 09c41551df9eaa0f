package log

import (
	"fmt"
	"slices"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Read returns whole batches starting with the one that contains offset, up to maxBytes but
// always at least one batch, from a single segment. Reading at the end offset returns no
// bytes; an offset outside [StartOffset, EndOffset] is an errcode.OffsetOutOfRange error.
func (l *Log) Read(offset int64, maxBytes int) ([]byte, error) {
	return l.ReadAppend(nil, offset, maxBytes)
}

// ReadAppend is Read appending to dst, so a caller can reuse one buffer across reads: the
// batches are read with one pread straight into dst's spare capacity.
func (l *Log) ReadAppend(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	if err := l.rlockFiles(); err != nil {
		return dst, err
	}
	defer l.filesMu.RUnlock()
	seg, pos, limit, err := l.locate(offset)
	if err != nil || seg == nil {
		return dst, err
	}
	h, pos, err := seekBatch(seg.f, pos, limit, offset)
	if err != nil || pos >= limit {
		return dst, err
	}
	n := int(min(int64(max(maxBytes, h.Size())), limit-pos))
	dst = slices.Grow(dst, n)
	buf := dst[len(dst) : len(dst)+n]
	if _, err := seg.f.ReadAt(buf, pos); err != nil {
		return dst, fmt.Errorf("read segment %d of %s at byte %d: %w", seg.base, l.opts.Name, pos, pathless(err))
	}
	return dst[:len(dst)+wholeBatches(buf)], nil
}

// locate finds the segment holding offset and an indexed position at or before its batch;
// limit is the segment's published size. The caller holds filesMu read-locked.
func (l *Log) locate(offset int64) (seg *segment, pos, limit int64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.mu.closed {
		return nil, 0, 0, l.errClosed()
	}
	start, end := l.mu.segs[0].base, l.mu.end
	if offset == end {
		return nil, 0, 0, nil
	}
	if offset < start || offset > end {
		return nil, 0, 0, errcode.New(errcode.OffsetOutOfRange,
			"offset %d is outside the partition's range [%d, %d]; read from an offset in that range", offset, start, end)
	}
	_, seg = l.segmentForLocked(offset)
	return seg, seg.lookup(offset), seg.size, nil
}

// seekBatch walks headers from pos to the batch containing offset. It returns pos >= limit if
// there is none before limit.
func seekBatch(f File, pos, limit, offset int64) (batch.Header, int64, error) {
	for pos < limit {
		h, err := readHeaderAt(f, pos)
		if err != nil {
			return h, pos, fmt.Errorf("read batch header at byte %d: %w", pos, pathless(err))
		}
		if h.NextOffset() > offset {
			return h, pos, nil
		}
		pos += int64(h.Size())
	}
	return batch.Header{}, pos, nil
}

// wholeBatches returns the length of the prefix of buf made of whole batches (at least the
// first batch, which the caller read whole).
func wholeBatches(buf []byte) int {
	n := 0
	for len(buf)-n >= batch.HeaderSize {
		h, err := batch.PeekHeader(buf[n:])
		if err != nil || n+h.Size() > len(buf) {
			break
		}
		n += h.Size()
	}
	return n
}

// OffsetForTime returns the base offset of the first batch whose MaxTimestamp >= ts, or the end
// offset if there is none.
func (l *Log) OffsetForTime(ts int64) (int64, error) {
	if err := l.rlockFiles(); err != nil {
		return 0, err
	}
	defer l.filesMu.RUnlock()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.mu.closed {
		return 0, l.errClosed()
	}
	for _, seg := range l.mu.segs {
		if seg.size == 0 || seg.maxTS < ts {
			continue
		}
		for pos := seg.lookupTime(ts); pos < seg.size; {
			h, err := readHeaderAt(seg.f, pos)
			if err != nil {
				return 0, fmt.Errorf("read batch header in segment %d of %s at byte %d: %w", seg.base, l.opts.Name, pos, pathless(err))
			}
			if h.MaxTimestamp >= ts {
				return h.BaseOffset, nil
			}
			pos += int64(h.Size())
		}
	}
	return l.mu.end, nil
}

// ScanHeaders calls fn with the header of every batch from the one containing from to the end
// of the log, in order, until fn returns false. fn runs without locks held and may call the Log.
// Headers are read in chunks of the segment, not one read per batch: replaying the headers
// of a segment of small batches costs a sequential read of it.
func (l *Log) ScanHeaders(from int64, fn func(h batch.Header) bool) error {
	const chunk = 4096
	var r headerReader
	for {
		hs, err := l.headers(&r, from, chunk)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if !fn(h) {
				return nil
			}
		}
		if len(hs) == 0 {
			return nil
		}
		from = hs[len(hs)-1].NextOffset()
	}
}

// headers returns up to n headers from the batch containing from, within one segment, read
// through r (whose buffer the calls of one scan share).
func (l *Log) headers(r *headerReader, from int64, n int) ([]batch.Header, error) {
	if err := l.rlockFiles(); err != nil {
		return nil, err
	}
	defer l.filesMu.RUnlock()
	l.mu.RLock()
	start, end := l.mu.segs[0].base, l.mu.end
	l.mu.RUnlock()
	if from >= end {
		return nil, nil
	}
	seg, pos, limit, err := l.locate(max(from, start))
	if err != nil || seg == nil {
		return nil, err
	}
	r.reset(seg.f, limit)
	var out []batch.Header
	var h batch.Header
	for pos < limit { // to the batch holding from, as seekBatch does
		if h, err = r.at(pos); err != nil || h.NextOffset() > max(from, start) {
			break
		}
		pos += int64(h.Size())
	}
	for err == nil && pos < limit && len(out) < n {
		out = append(out, h)
		if pos += int64(h.Size()); pos < limit {
			h, err = r.at(pos)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read batch headers of segment %d of %s: %w", seg.base, l.opts.Name, pathless(err))
	}
	return out, nil
}

// headerChunk is how many bytes of a segment a headerReader reads at once.
const headerChunk = 64 << 10

// headerReader reads batch headers of one segment file through a buffer of headerChunk
// bytes, never past limit (the segment's published size).
type headerReader struct {
	f      File
	limit  int64
	buf    []byte
	bufPos int64
}

// reset points r at f up to limit, dropping what it buffered (the file may have changed
// between the locked sections of a scan).
func (r *headerReader) reset(f File, limit int64) {
	r.f, r.limit, r.buf, r.bufPos = f, limit, r.buf[:0], 0
}

// at returns the header of the batch at byte pos.
func (r *headerReader) at(pos int64) (batch.Header, error) {
	if pos < r.bufPos || pos+batch.HeaderSize > r.bufPos+int64(len(r.buf)) {
		n := max(min(headerChunk, r.limit-pos), batch.HeaderSize)
		if int64(cap(r.buf)) < n {
			r.buf = make([]byte, 0, max(n, headerChunk))
		}
		r.buf = r.buf[:n]
		if _, err := r.f.ReadAt(r.buf, pos); err != nil {
			r.buf = r.buf[:0]
			return batch.Header{}, err
		}
		r.bufPos = pos
	}
	return batch.PeekHeader(r.buf[pos-r.bufPos:])
}
