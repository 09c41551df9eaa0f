package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/tandem-streaming/tandem/internal/batch"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	tmpSuffix       = ".tmp"

	indexEntrySize     = 8  // relative offset uint32, position uint32
	timeIndexEntrySize = 12 // max timestamp int64, relative offset uint32
)

// indexEntry says the batch with base offset seg.base+rel starts at pos.
type indexEntry struct {
	rel uint32
	pos uint32
}

// timeEntry says every batch of the segment before relative offset rel (which starts at pos)
// has MaxTimestamp <= ts. Entries are added alongside index entries when ts grows.
type timeEntry struct {
	ts  int64
	rel uint32
	pos uint32
}

// segment is one file of the log. Fields other than base, f and path are guarded by Log.mu
// for reading and written by the holder of Log.appendMu with Log.mu held.
type segment struct {
	base int64
	path string // of the .log file, without the directory's sync
	f    File

	size            int64 // bytes of whole, published batches
	next            int64 // offset after the last batch; base if empty
	maxTS           int64 // largest batch MaxTimestamp; math.MinInt64 if empty
	index           []indexEntry
	times           []timeEntry
	bytesSinceIndex int
}

func segmentName(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

func newSegment(dir string, base int64, f File) *segment {
	return &segment{base: base, path: segmentName(dir, base, logSuffix), f: f, next: base, maxTS: math.MinInt64}
}

// noteBatch adds a batch of n bytes at pos to the in-memory state and indexes. Append and
// recovery both go through it, so indexes rebuilt by a scan equal those built by appends.
func (s *segment) noteBatch(pos int64, h batch.Header, n int, interval int) {
	if pos > 0 && s.bytesSinceIndex >= interval {
		rel := uint32(h.BaseOffset - s.base)
		s.index = append(s.index, indexEntry{rel: rel, pos: uint32(pos)})
		if s.maxTS != math.MinInt64 && (len(s.times) == 0 || s.maxTS > s.times[len(s.times)-1].ts) {
			s.times = append(s.times, timeEntry{ts: s.maxTS, rel: rel, pos: uint32(pos)})
		}
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += n
	s.maxTS = max(s.maxTS, h.MaxTimestamp)
	s.next = h.NextOffset()
	s.size = pos + int64(n)
}

// lookup returns the position of the last indexed batch starting at or before offset.
func (s *segment) lookup(offset int64) int64 {
	rel := offset - s.base
	i := sort.Search(len(s.index), func(i int) bool { return int64(s.index[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(s.index[i-1].pos)
}

// lookupTime returns a position before which every batch has MaxTimestamp < ts.
func (s *segment) lookupTime(ts int64) int64 {
	i := sort.Search(len(s.times), func(i int) bool { return s.times[i].ts >= ts })
	if i == 0 {
		return 0
	}
	return int64(s.times[i-1].pos)
}

func readHeaderAt(f File, pos int64) (batch.Header, error) {
	var buf [batch.HeaderSize]byte
	if _, err := f.ReadAt(buf[:], pos); err != nil {
		return batch.Header{}, err
	}
	return batch.PeekHeader(buf[:])
}

// errBadBatch describes why a scan stopped before the end of the file.
type errBadBatch struct {
	pos    int64
	reason string
}

func (e *errBadBatch) Error() string { return fmt.Sprintf("at byte %d: %s", e.pos, e.reason) }

const scanChunk = 1 << 20

// scan walks batches from pos to fileSize, checking framing, CRCs and offset continuity, and
// notes each in s. It returns *errBadBatch at the first torn or corrupt batch, leaving s
// describing the valid prefix; other errors are I/O errors.
func (s *segment) scan(pos, fileSize int64, interval int) error {
	var buf []byte
	var bufPos int64
	for pos < fileSize {
		if fileSize-pos < batch.HeaderSize {
			return &errBadBatch{pos, fmt.Sprintf("%d bytes of a torn batch header", fileSize-pos)}
		}
		if pos < bufPos || pos+batch.HeaderSize > bufPos+int64(len(buf)) {
			var err error
			if buf, err = readChunk(s.f, pos, min(scanChunk, fileSize-pos), buf); err != nil {
				return err
			}
			bufPos = pos
		}
		h, err := batch.PeekHeader(buf[pos-bufPos:])
		if err != nil {
			return &errBadBatch{pos, err.Error()}
		}
		n := int64(h.Size())
		if pos+n > fileSize {
			return &errBadBatch{pos, fmt.Sprintf("torn batch: %d of %d bytes present", fileSize-pos, n)}
		}
		if pos+n > bufPos+int64(len(buf)) {
			if buf, err = readChunk(s.f, pos, max(n, min(scanChunk, fileSize-pos)), buf); err != nil {
				return err
			}
			bufPos = pos
		}
		b := buf[pos-bufPos : pos-bufPos+n]
		if _, err := batch.Validate(b); err != nil {
			return &errBadBatch{pos, err.Error()}
		}
		if h.BaseOffset != s.next {
			return &errBadBatch{pos, fmt.Sprintf("batch has base offset %d, expected %d", h.BaseOffset, s.next)}
		}
		if h.NextOffset()-s.base > math.MaxUint32 {
			return &errBadBatch{pos, "batch offsets overflow the segment's 32-bit relative offsets"}
		}
		s.noteBatch(pos, h, int(n), interval)
		pos += n
	}
	return nil
}

func readChunk(f File, pos, n int64, buf []byte) ([]byte, error) {
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := f.ReadAt(buf, pos); err != nil && !(errors.Is(err, io.EOF)) {
		return nil, err
	}
	return buf, nil
}

// encodeIndexes returns the .index and .timeindex file contents.
func (s *segment) encodeIndexes() (idx, tidx []byte) {
	idx = make([]byte, 0, len(s.index)*indexEntrySize)
	for _, e := range s.index {
		idx = binary.BigEndian.AppendUint32(idx, e.rel)
		idx = binary.BigEndian.AppendUint32(idx, e.pos)
	}
	tidx = make([]byte, 0, len(s.times)*timeIndexEntrySize)
	for _, e := range s.times {
		tidx = binary.BigEndian.AppendUint64(tidx, uint64(e.ts))
		tidx = binary.BigEndian.AppendUint32(tidx, e.rel)
	}
	return idx, tidx
}

// decodeIndexes parses index file contents, reporting false if they are not sane: entries must
// be strictly increasing, inside the file, and every time entry must point at an index entry.
func decodeIndexes(idx, tidx []byte, fileSize int64) ([]indexEntry, []timeEntry, bool) {
	if len(idx)%indexEntrySize != 0 || len(tidx)%timeIndexEntrySize != 0 {
		return nil, nil, false
	}
	index := make([]indexEntry, 0, len(idx)/indexEntrySize)
	for p := idx; len(p) > 0; p = p[indexEntrySize:] {
		e := indexEntry{rel: binary.BigEndian.Uint32(p), pos: binary.BigEndian.Uint32(p[4:])}
		if int64(e.pos) >= fileSize || (len(index) > 0 && (e.rel <= index[len(index)-1].rel || e.pos <= index[len(index)-1].pos)) {
			return nil, nil, false
		}
		index = append(index, e)
	}
	times := make([]timeEntry, 0, len(tidx)/timeIndexEntrySize)
	for p := tidx; len(p) > 0; p = p[timeIndexEntrySize:] {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(p)), rel: binary.BigEndian.Uint32(p[8:])}
		i := sort.Search(len(index), func(i int) bool { return index[i].rel >= e.rel })
		if i == len(index) || index[i].rel != e.rel ||
			(len(times) > 0 && (e.ts <= times[len(times)-1].ts || e.rel <= times[len(times)-1].rel)) {
			return nil, nil, false
		}
		e.pos = index[i].pos
		times = append(times, e)
	}
	return index, times, true
}

// writeFileAtomic writes data to name through a synced temporary file and a rename. The file
// is created with mode perm by its first open: a leftover temporary file (which could have
// another mode) is removed first, never reused.
func writeFileAtomic(fsys FS, name string, data []byte, perm fs.FileMode) error {
	tmp := name + tmpSuffix
	if err := fsys.Remove(tmp); err != nil && !isNotExist(err) {
		return err
	}
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return fsys.Rename(tmp, name)
}

// WriteFileDurable replaces name with data atomically and durably: a crash leaves the old file
// or the new one, whole, and the rename is synced in the directory. For small state files
// outside logs (producer-id blocks, job checkpoints, the admin key). The file is created
// readable and writable by its owner only (0600) from its first open, since such files hold
// secrets (keys, database passwords); use WriteFileDurableMode for another mode.
func WriteFileDurable(fsys FS, name string, data []byte) error {
	return WriteFileDurableMode(fsys, name, data, filePerm)
}

// WriteFileDurableMode is WriteFileDurable creating the file with mode perm (before umask).
// Errors name the file by its base name only, since callers pass them on to clients.
func WriteFileDurableMode(fsys FS, name string, data []byte, perm fs.FileMode) error {
	err := writeFileAtomic(fsys, name, data, perm)
	if err == nil {
		err = fsys.SyncDir(filepath.Dir(name))
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(name), pathless(err))
	}
	return nil
}

func readWholeFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}
