package spool

import (
	"bytes"
	"io"
	"os"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Peek returns the oldest records not yet acknowledged, in order: at most maxRecords of them,
// with at most maxBytes of data in all, except that it returns at least one record however big.
// It returns nothing when the spool is empty. Peek does not remove records; Ack does.
func (s *Spool) Peek(maxRecords int, maxBytes int) ([]Record, error) {
	if maxRecords < 1 {
		return nil, errcode.New(errcode.InvalidArgument, "spool %s: Peek of %d records; ask for 1 or more", s.dir, maxRecords)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpenLocked(); err != nil {
		return nil, err
	}
	var out []Record
	size := 0
	take := func(fr frame) bool {
		if len(out) == maxRecords || (len(out) > 0 && size+len(fr.payload) > maxBytes) {
			return false
		}
		out = append(out, Record{Seq: fr.seq, Data: bytes.Clone(fr.payload)})
		size += len(fr.payload)
		return true
	}
	pos := position{seq: s.mu.acked + 1, off: s.mu.headOff}
	for i, seg := range s.mu.segs {
		if i > 0 {
			pos.off = 0 // the next segment, from its start (pos stays at the end of the last one)
		}
		pos.segFirst = seg.first
		more, err := s.readLocked(seg, &pos, take)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	s.mu.hint = pos
	return out, nil
}

// readLocked calls fn with the records of seg from pos on, advancing pos past each record fn
// takes, until fn takes no more (more is false) or the segment ends (more is true).
func (s *Spool) readLocked(seg segment, pos *position, fn func(frame) bool) (more bool, err error) {
	if pos.off >= seg.size {
		return true, nil
	}
	r, done, err := s.readerLocked(seg)
	if err != nil {
		return false, err
	}
	defer done()
	sc := newScanner(r, seg.size, pos.off, pos.seq)
	for fr, ok := sc.scan(); ok; fr, ok = sc.scan() {
		if !fn(fr) {
			return false, nil
		}
		pos.seq, pos.off = sc.next, sc.off
	}
	return true, s.scanErr(seg, sc)
}

// readerLocked opens seg for reading; done closes it.
func (s *Spool) readerLocked(seg segment) (r io.ReaderAt, done func(), err error) {
	if n := len(s.mu.segs); s.mu.active != nil && s.mu.segs[n-1].first == seg.first {
		return s.mu.active, func() {}, nil
	}
	f, err := os.Open(s.path(segName(seg.first)))
	if err != nil {
		return nil, nil, ioError(s.dir, "opening segment "+segName(seg.first), err)
	}
	return f, func() { _ = f.Close() }, nil
}

// scanErr is the error of a scan of seg's whole records that stopped early: the file changed
// after Open checked it.
func (s *Spool) scanErr(seg segment, sc *scanner) error {
	name := s.path(segName(seg.first))
	switch {
	case sc.err != nil:
		return ioError(s.dir, "reading "+name, sc.err)
	case sc.bad != "":
		return errcode.New(errcode.CorruptData,
			"spool segment %s is damaged at byte %d: %s; it was whole when the spool was opened, so the file "+
				"was changed underneath it or the disk is failing. Move the directory %s aside to drop the spool "+
				"(its records are lost)", name, sc.off, sc.bad, s.dir)
	}
	return nil
}
