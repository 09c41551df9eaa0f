package spool

import (
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Ack removes every record up to and including seq, durably: it rewrites the head file and
// deletes the segment files it has wholly acknowledged. Acknowledging a seq already acknowledged
// does nothing; one beyond the last appended record is an errcode.InvalidArgument error.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpenLocked(); err != nil {
		return err
	}
	if seq <= s.mu.acked {
		return nil
	}
	if seq >= s.mu.next {
		return errcode.New(errcode.InvalidArgument,
			"spool %s: ack of record %d, but the last appended record is %d; acknowledge only records Peek returned",
			s.dir, seq, s.mu.next-1)
	}
	n := 0 // segments wholly acknowledged
	for n < len(s.mu.segs) && s.mu.segs[n].last <= seq {
		n++
	}
	headOff := int64(0)
	if n < len(s.mu.segs) {
		var err error
		if headOff, err = s.locateLocked(s.mu.segs[n], seq+1); err != nil {
			return err
		}
	}
	if err := writeHead(s.dir, seq); err != nil {
		return err
	}
	done := s.mu.segs[:n]
	s.mu.acked, s.mu.segs, s.mu.headOff = seq, s.mu.segs[n:], headOff
	s.mu.bytes = sumSizes(s.mu.segs) - headOff
	if len(s.mu.segs) == 0 && s.mu.active != nil {
		_ = s.mu.active.Close() // its records are acknowledged; nothing is lost if closing fails
		s.mu.active = nil
	}
	for _, seg := range done {
		if err := s.removeSegment(seg); err != nil {
			return errcode.New(errcode.Unavailable,
				"%w; the records up to %d are acknowledged, and the next Open removes the file", err, seq)
		}
	}
	return nil
}

// locateLocked returns the offset of record target in seg, starting from the nearest known
// position: the current head, or where the last Peek stopped.
func (s *Spool) locateLocked(seg segment, target uint64) (int64, error) {
	start := position{seq: seg.first, segFirst: seg.first}
	for _, p := range []position{{s.mu.acked + 1, s.mu.segs[0].first, s.mu.headOff}, s.mu.hint} {
		if p.segFirst == seg.first && p.seq <= target && p.seq > start.seq {
			start = p
		}
	}
	pos := start
	if pos.seq == target {
		return pos.off, nil
	}
	found := func(frame) bool { return pos.seq < target }
	if _, err := s.readLocked(seg, &pos, found); err != nil {
		return 0, err
	}
	if pos.seq != target {
		return 0, errcode.New(errcode.Internal,
			"spool %s: record %d is not in segment %s (a bug); close the spool and open it again",
			s.dir, target, segName(seg.first))
	}
	return pos.off, nil
}
