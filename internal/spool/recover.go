package spool

import (
	"os"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// recover rebuilds the spool's state from its directory: it reads the head, drops the segments
// an Ack finished with (a crash may have kept it from deleting them), checks every other record,
// truncates a torn final write, and opens the last segment for appending.
func (s *Spool) recover() error {
	acked, err := readHead(s.dir)
	if err != nil {
		return err
	}
	segs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	for len(segs) > 1 && segs[1].first <= acked+1 { // wholly acknowledged: no need to read it
		if err := s.removeSegment(segs[0]); err != nil {
			return err
		}
		segs = segs[1:]
	}
	headOff := int64(0)
	for i := range segs {
		if i > 0 && segs[i].first != segs[i-1].last+1 {
			return s.missing(segs[i-1].last+1, segs[i].first-1, segName(segs[i].first))
		}
		off, err := s.scanSegment(&segs[i], acked+1, i == len(segs)-1)
		if err != nil {
			return err
		}
		if off >= 0 {
			headOff = off
		}
	}
	if len(segs) > 0 && segs[len(segs)-1].last <= acked { // wholly acknowledged (or empty)
		if err := s.removeSegment(segs[len(segs)-1]); err != nil {
			return err
		}
		segs = segs[:len(segs)-1]
	}
	if len(segs) > 0 && segs[0].first > acked+1 {
		return s.missing(acked+1, segs[0].first-1, segName(segs[0].first))
	}
	return s.setState(segs, acked, headOff)
}

// setState installs the recovered state and opens the last segment for appending.
func (s *Spool) setState(segs []segment, acked uint64, headOff int64) error {
	s.mu.segs, s.mu.acked, s.mu.next = segs, acked, acked+1
	if len(segs) == 0 {
		return nil
	}
	last := segs[len(segs)-1]
	s.mu.next = max(acked, last.last) + 1
	s.mu.headOff = headOff
	s.mu.bytes = sumSizes(segs) - headOff
	f, err := os.OpenFile(s.path(segName(last.first)), os.O_RDWR, 0)
	if err != nil {
		return ioError(s.dir, "opening the last segment", err)
	}
	s.mu.active = f
	return nil
}

// scanSegment reads and checks the records of seg, setting its last and, after truncating a torn
// final write of the last segment, its size. It returns the offset of record want, or -1 when
// seg does not hold it.
func (s *Spool) scanSegment(seg *segment, want uint64, isLast bool) (int64, error) {
	name := s.path(segName(seg.first))
	flag := os.O_RDONLY
	if isLast {
		flag = os.O_RDWR // to truncate a torn final write
	}
	f, err := os.OpenFile(name, flag, 0)
	if err != nil {
		return -1, ioError(s.dir, "opening "+name, err)
	}
	defer f.Close()
	sc := newScanner(f, seg.size, 0, seg.first)
	wantOff, commit := int64(-1), int64(0) // commit: end of the last whole Append
	for fr, ok := sc.scan(); ok; fr, ok = sc.scan() {
		if fr.seq == want {
			wantOff = fr.off
		}
		if fr.end {
			commit, seg.last = sc.off, fr.seq
		}
	}
	switch {
	case sc.err != nil:
		return -1, ioError(s.dir, "reading "+name, sc.err)
	case sc.bad == "" && commit == seg.size:
		return wantOff, nil
	case !isLast:
		return -1, s.damaged(name, sc, commit, "it is not the last segment")
	}
	if sc.bad != "" {
		later, err := committedAfter(f, sc.off, seg.size, sc.next)
		if err != nil {
			return -1, ioError(s.dir, "reading "+name, err)
		}
		if later {
			return -1, s.damaged(name, sc, commit, "a whole Append written after it is intact")
		}
	}
	// A torn final write (an Append that never returned): drop it whole.
	if err := f.Truncate(commit); err != nil {
		return -1, ioError(s.dir, "truncating the torn tail of "+name, err)
	}
	if err := f.Sync(); err != nil {
		return -1, ioError(s.dir, "syncing "+name, err)
	}
	seg.size = commit
	if wantOff >= commit {
		wantOff = -1
	}
	return wantOff, nil
}

// damaged is the error for damage that is not a torn final write.
func (s *Spool) damaged(name string, sc *scanner, commit int64, why string) error {
	what, off := sc.bad, sc.off
	if what == "" {
		what, off = "the file ends inside an Append (its last record lacks the end mark)", commit
	}
	return errcode.New(errcode.CorruptData,
		"spool segment %s is damaged at byte %d: %s; %s, so this is not a torn write from a crash. "+
			"Move the directory %s aside to drop the spool (its records are lost), or, to keep the records "+
			"before the damage, truncate the file to %d bytes and remove the segment files after it; then open the spool again",
		name, off, what, why, s.dir, commit)
}

// missing is the error for records that are in no segment file.
func (s *Spool) missing(from, to uint64, before string) error {
	return errcode.New(errcode.CorruptData,
		"spool %s misses records %d to %d, which belong before segment %s: a segment file was deleted or moved. "+
			"Put it back, or move the directory aside to drop the spool (its records are lost)",
		s.dir, from, to, before)
}

// removeSegment deletes a wholly acknowledged segment file.
func (s *Spool) removeSegment(seg segment) error {
	if err := os.Remove(s.path(segName(seg.first))); err != nil && !os.IsNotExist(err) {
		return ioError(s.dir, "removing acknowledged segment "+segName(seg.first), err)
	}
	return nil
}

func sumSizes(segs []segment) int64 {
	var n int64
	for _, sg := range segs {
		n += sg.size
	}
	return n
}
