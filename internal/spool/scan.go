package spool

import (
	"bufio"
	"fmt"
	"io"
)

// scanner reads the records of one segment file in order and checks each: its length, its
// sequence number (one more than the previous) and its CRC. It stops at the end of the file or
// at the first record that fails a check, and then says why in bad.
type scanner struct {
	r    *bufio.Reader
	size int64  // size of the file
	off  int64  // offset of the next record; of the failed one after a stop on bad
	next uint64 // sequence number the next record must carry
	bad  string // why the scan stopped before the end of the file; "" otherwise
	err  error  // a read error, which also stops the scan
	hdr  [headerLen]byte
	buf  []byte
}

// frame is one record a scanner returned; payload is valid until the next call of scan.
type frame struct {
	seq     uint64
	end     bool  // the last record of its Append
	off     int64 // offset of its header in the file
	payload []byte
}

// newScanner scans r, a file of size bytes, from off, where the record with sequence number next
// must begin.
func newScanner(r io.ReaderAt, size, off int64, next uint64) *scanner {
	sr := io.NewSectionReader(r, off, size-off)
	return &scanner{r: bufio.NewReaderSize(sr, 64<<10), size: size, off: off, next: next}
}

// scan returns the next record, or false at the end of the file, at damage (bad) or on a read
// error (err).
func (s *scanner) scan() (frame, bool) {
	if s.off >= s.size || s.bad != "" || s.err != nil {
		return frame{}, false
	}
	if s.size-s.off < headerLen {
		s.bad = fmt.Sprintf("the file ends %d bytes into a record header", s.size-s.off)
		return frame{}, false
	}
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		s.err = err
		return frame{}, false
	}
	h := parseHeader(s.hdr[:])
	if s.bad = h.check(s.off, s.size, s.next); s.bad != "" {
		return frame{}, false
	}
	if int64(cap(s.buf)) < h.n {
		s.buf = make([]byte, h.n)
	}
	payload := s.buf[:h.n]
	if _, err := io.ReadFull(s.r, payload); err != nil {
		s.err = err
		return frame{}, false
	}
	if !h.valid(payload) {
		s.bad = fmt.Sprintf("record %d fails its CRC check", h.seq())
		return frame{}, false
	}
	f := frame{seq: h.seq(), end: h.end(), off: s.off, payload: payload}
	s.off += headerLen + h.n
	s.next++
	return f, true
}

// committedAfter reports whether a whole, valid record that ends an Append starts at any byte
// from from on (not only where the damaged record before it says) with a sequence number of lo or
// more. Such a record was written after the damage, so the damage is not a torn final write.
func committedAfter(r io.ReaderAt, from, size int64, lo uint64) (bool, error) {
	hi := lo + uint64((size-from)/headerLen) // at most one record per header's worth of bytes
	const chunk = 1 << 20
	buf := make([]byte, chunk+headerLen-1)
	for base := from; base+headerLen <= size; base += chunk {
		n := min(int64(len(buf)), size-base)
		if _, err := r.ReadAt(buf[:n], base); err != nil && err != io.EOF {
			return false, err
		}
		for i := int64(0); i < chunk && i+headerLen <= n; i++ {
			h := parseHeader(buf[i:])
			if !h.end() || h.seq() < lo || h.seq() > hi || h.check(base+i, size, h.seq()) != "" {
				continue
			}
			payload := make([]byte, h.n)
			if _, err := r.ReadAt(payload, base+i+headerLen); err != nil && err != io.EOF {
				return false, err
			}
			if h.valid(payload) {
				return true, nil
			}
		}
	}
	return false, nil
}
