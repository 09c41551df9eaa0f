package sink

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// indexEvery is the spacing, in bytes, of a segment's sparse index: ReadAfter starts scanning at
// most this far before the first row it returns.
const indexEvery = 64 << 10

// indexEntry says that the line at off holds pos (and every later line a greater one).
type indexEntry struct {
	pos Position
	off int64
}

// segment is one file of a file sink: a rotated name-<seq>.jsonl or the active name.jsonl.
type segment struct {
	path    string
	seq     uint64 // 0 for the active file
	size    int64  // bytes of complete lines
	first   Position
	last    Position // first and last are set when size > 0
	index   []indexEntry
	indexed bool // index covers the whole segment (rotated segments are indexed on first read)
}

// note records a line appended to (or scanned from) the segment at off, ending at next.
func (s *segment) note(pos Position, off, next int64) {
	if s.size == 0 {
		s.first = pos
	}
	if len(s.index) == 0 || off-s.index[len(s.index)-1].off >= indexEvery {
		s.index = append(s.index, indexEntry{pos: pos, off: off})
	}
	s.last, s.size = pos, next
}

// startAfter returns the offset to scan from for rows after pos: the last index entry at or
// before pos, or the start of the segment.
func (s *segment) startAfter(pos Position) int64 {
	i := sort.Search(len(s.index), func(i int) bool { return pos.Less(s.index[i].pos) })
	if i == 0 {
		return 0
	}
	return s.index[i-1].off
}

// scanInto rebuilds s from the lines of r: positions in strictly increasing order, after prev
// when havePrev (the last row of the segment before). It returns how far the complete lines go.
func (s *segment) scanInto(r io.ReaderAt, size int64, prev Position, havePrev bool) (scanResult, error) {
	s.size, s.index = 0, nil
	return scanLines(s.path, r, 0, size, func(row Row, off, next int64) error {
		pos := row.Pos()
		if havePrev && !prev.Less(pos) {
			return outOfOrder(s.path, off, prev, pos)
		}
		s.note(pos, off, next)
		prev, havePrev = pos, true
		return nil
	})
}

// loadRotated reads the first and last rows of a rotated segment; its index is built on first read.
func loadRotated(path string, seq uint64) (*segment, error) {
	s := &segment{path: path, seq: seq}
	f, err := os.Open(path)
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "file sink: opening %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "file sink: %s: %w", path, err)
	}
	if fi.Size() == 0 {
		s.indexed = true
		return s, nil
	}
	if s.first, err = firstRow(path, f, fi.Size()); err != nil {
		return nil, err
	}
	line, off, err := lastLine(path, f, fi.Size())
	if err != nil {
		return nil, err
	}
	row, err := decodeAt(path, line, off)
	if err != nil {
		return nil, err
	}
	s.last, s.size = row.Pos(), fi.Size()
	return s, nil
}

// ensureIndex scans a rotated segment once, checking its order and building its sparse index.
func (s *segment) ensureIndex() error {
	if s.indexed {
		return nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return errcode.New(errcode.Unavailable, "file sink: opening %s: %w", s.path, err)
	}
	defer f.Close()
	fresh := &segment{path: s.path, seq: s.seq}
	res, err := fresh.scanInto(f, s.size, Position{}, false)
	if err != nil {
		return err
	}
	if res.torn || res.end != s.size || fresh.first != s.first || fresh.last != s.last {
		return errcode.New(errcode.CorruptData,
			"file sink %s: the rotated file changed while the sink was open (its complete lines end at byte %d, not %d); restore it from a copy",
			s.path, res.end, s.size)
	}
	s.index, s.indexed = fresh.index, true
	return nil
}

// readRows appends to out the rows of s after pos, up to limit rows in out, reading from r.
func (s *segment) readRows(r io.ReaderAt, after Position, limit int, out []Row) ([]Row, error) {
	_, err := scanLines(s.path, r, s.startAfter(after), s.size, func(row Row, _, _ int64) error {
		if !after.Less(row.Pos()) {
			return nil
		}
		row.Data = bytes.Clone(row.Data)
		out = append(out, row)
		if len(out) >= limit {
			return errStop
		}
		return nil
	})
	return out, err
}

// rotatedName is the name of rotated segment seq of the file base.jsonl.
func rotatedName(base string, seq uint64) string {
	return fmt.Sprintf("%s-%08d.jsonl", base, seq)
}

// listRotated returns the rotated segments of base.jsonl in dir, by increasing seq: the files
// named base-<digits>.jsonl.
func listRotated(dir, base string) ([]string, []uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, errcode.New(errcode.Unavailable, "file sink: listing %s: %w", dir, err)
	}
	type named struct {
		name string
		seq  uint64
	}
	var found []named
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), base+"-")
		if !ok {
			continue
		}
		if digits, ok = strings.CutSuffix(digits, ".jsonl"); !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		seq, err := strconv.ParseUint(digits, 10, 64)
		if err != nil || seq == 0 || !e.Type().IsRegular() {
			continue
		}
		found = append(found, named{e.Name(), seq})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
	paths, seqs := make([]string, len(found)), make([]uint64, len(found))
	for i, n := range found {
		paths[i], seqs[i] = filepath.Join(dir, n.name), n.seq
	}
	return paths, seqs, nil
}
