package spool

import (
	"os"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/log"
)

// Append adds recs as records with the next sequence numbers, all or none, and returns once they
// are written and fsynced. When they would take the spool over Options.MaxBytes it adds nothing
// and returns an errcode.QuotaExceeded error; a record over 64 MiB is an errcode.InvalidArgument
// error. An empty recs adds nothing and returns 0, 0, nil.
func (s *Spool) Append(recs [][]byte) (first, last uint64, err error) {
	if len(recs) == 0 {
		return 0, 0, nil
	}
	size, err := s.batchBytes(recs)
	if err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpenLocked(); err != nil {
		return 0, 0, err
	}
	if s.mu.failed != nil {
		return 0, 0, s.mu.failed
	}
	if err := s.roomLocked(size); err != nil {
		return 0, 0, err
	}
	first = s.mu.next
	buf := make([]byte, 0, size)
	for i, r := range recs {
		buf = putRecord(buf, first+uint64(i), i == len(recs)-1, r)
	}
	if err := s.writeLocked(buf); err != nil {
		return 0, 0, err
	}
	last = first + uint64(len(recs)) - 1
	s.mu.segs[len(s.mu.segs)-1].last = last
	s.mu.next = last + 1
	s.mu.bytes += size
	return first, last, nil
}

// Room returns the errcode.QuotaExceeded error Append would return for records taking n bytes
// (payload and framing, see Overhead), or nil when they fit now.
func (s *Spool) Room(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roomLocked(n)
}

// Overhead is the bytes each record takes toward Options.MaxBytes beyond its payload.
const Overhead = headerLen

func (s *Spool) roomLocked(n int64) error {
	if s.mu.bytes+n <= s.opts.MaxBytes {
		return nil
	}
	return errcode.New(errcode.QuotaExceeded,
		"spool %s holds %d bytes in %d records, and %d bytes more would take it over its bound of %d bytes; "+
			"restore the region so that the spool drains, or raise the spool's bound",
		s.dir, s.mu.bytes, s.mu.next-1-s.mu.acked, n, s.opts.MaxBytes)
}

// batchBytes is the bytes recs take in the spool, framing included.
func (s *Spool) batchBytes(recs [][]byte) (int64, error) {
	var n int64
	for i, r := range recs {
		if len(r) > maxRecordBytes {
			return 0, errcode.New(errcode.InvalidArgument,
				"spool %s: record %d of the batch has %d bytes, over the %d-byte limit of a spooled record; send smaller events",
				s.dir, i, len(r), maxRecordBytes)
		}
		n += frameLen(len(r))
	}
	return n, nil
}

// writeLocked writes buf at the end of the active segment, starting a new segment first when the
// active one is full, and fsyncs it. On failure it takes the partial write back.
func (s *Spool) writeLocked(buf []byte) error {
	if err := s.rollLocked(); err != nil {
		return err
	}
	seg := &s.mu.segs[len(s.mu.segs)-1]
	_, err := s.mu.active.WriteAt(buf, seg.size)
	if err == nil {
		err = s.mu.active.Sync()
	}
	if err != nil {
		return s.undoLocked(seg.size, err)
	}
	seg.size += int64(len(buf))
	return nil
}

// rollLocked starts a new segment, named by the next sequence number, when there is none or the
// last one has reached Options.SegmentBytes.
func (s *Spool) rollLocked() error {
	if n := len(s.mu.segs); n > 0 && s.mu.segs[n-1].size < s.opts.SegmentBytes {
		return nil
	}
	name := s.path(segName(s.mu.next))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return ioError(s.dir, "creating segment "+name, err)
	}
	if err := (log.OSFS{}).SyncDir(s.dir); err != nil {
		_ = f.Close()
		_ = os.Remove(name)
		return ioError(s.dir, "syncing the directory after creating "+name, err)
	}
	if s.mu.active != nil {
		_ = s.mu.active.Close() // fsynced by the Append that filled it
	}
	if len(s.mu.segs) == 0 {
		s.mu.headOff = 0
	}
	s.mu.active = f
	s.mu.segs = append(s.mu.segs, segment{first: s.mu.next, last: s.mu.next - 1})
	return nil
}

// undoLocked truncates the active segment back to size after a failed write. When that fails
// too, the spool takes no more appends.
func (s *Spool) undoLocked(size int64, cause error) error {
	err := s.mu.active.Truncate(size)
	if err == nil {
		err = s.mu.active.Sync()
	}
	if err != nil {
		s.mu.failed = errcode.New(errcode.Unavailable,
			"spool %s: an Append failed (%v) and could not be taken back (%w); the spool takes no more appends: "+
				"close it and open it again, which drops the partial write", s.dir, cause, err)
		return s.mu.failed
	}
	return ioError(s.dir, "appending", cause)
}
