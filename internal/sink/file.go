package sink

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// defaultRotateBytes is the size at which the active file is rotated when the URL does not say.
const defaultRotateBytes = 64 << 20

// fileConfig is a parsed file sink URL.
type fileConfig struct {
	path        string // the active file, absolute, ending in .jsonl
	rotateBytes int64
}

// parseFileURL parses the part after "file://" (or a plain path): a .jsonl file or a directory,
// with an optional ?rotate_bytes=N.
func parseFileURL(rest, output string) (fileConfig, error) {
	path, q, err := splitQuery("file", rest, "rotate_bytes")
	if err != nil {
		return fileConfig{}, err
	}
	cfg := fileConfig{rotateBytes: defaultRotateBytes}
	if v := q.Get("rotate_bytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fileConfig{}, errcode.New(errcode.InvalidArgument,
				"file sink URL has rotate_bytes=%q; it must be a positive number of bytes (default %d)", v, defaultRotateBytes)
		}
		cfg.rotateBytes = n
	}
	if !strings.HasSuffix(path, ".jsonl") {
		if output == "" || output == "." || output == ".." || strings.ContainsAny(output, "/\\\x00") {
			return fileConfig{}, errcode.New(errcode.InvalidArgument,
				"file sink URL names the directory %s, and the output name %q cannot be a file name in it; name the file: file:///dir/name.jsonl", path, output)
		}
		path = filepath.Join(path, output+".jsonl")
	}
	if cfg.path, err = absPath("file", path); err != nil {
		return fileConfig{}, err
	}
	return cfg, nil
}

// File is a sink in JSON-lines files: the active file name.jsonl and, once it grows past
// rotate_bytes, rotated files name-<seq>.jsonl, all in one directory.
//
// Exactly once by high water mark: rows arrive in total order, so a row at or below the greatest
// stored Position is a repeat of one already stored (with identical bytes, by the job's contract)
// and Write skips it rather than replacing it. A Write appends its lines with one write and one
// fsync. When either fails, the sink truncates the file back and, before its next call, reloads
// its state from disk. A crash can leave a torn last line, which opening truncates; it can also
// leave the first lines of a batch complete, which is harmless: they are a prefix of the total
// order and the job's replay skips them.
type File struct {
	name        string // "file sink <path>", for errors
	path        string
	dir, base   string // path is dir/base.jsonl
	rotateBytes int64

	mu struct {
		sync.Mutex
		active  *os.File   // the open active file; nil after Close
		segs    []*segment // rotated segments by seq, then the active one
		nextSeq uint64     // the seq the next rotation gives
		hw      Position
		hasHW   bool
		stale   error  // a write failed: reload from disk before the next call
		closed  bool   // Close was called
		buf     []byte // encoded lines, reused
	}
}

var _ Sink = (*File)(nil)

func openFile(ctx context.Context, cfg fileConfig) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f := &File{
		name:        "file sink " + cfg.path,
		path:        cfg.path,
		dir:         filepath.Dir(cfg.path),
		base:        strings.TrimSuffix(filepath.Base(cfg.path), ".jsonl"),
		rotateBytes: cfg.rotateBytes,
	}
	if err := checkDir("file", f.dir); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.loadLocked(); err != nil {
		if f.mu.active != nil {
			f.mu.active.Close()
		}
		return nil, err
	}
	return f, nil
}

// loadLocked (re)builds the sink's state from the directory: the rotated segments' bounds, a
// full scan of the active file (truncating a torn tail), the high water mark, and a rotation
// that a crash interrupted.
func (f *File) loadLocked() error {
	if f.mu.active != nil {
		f.mu.active.Close()
		f.mu.active = nil
	}
	paths, seqs, err := listRotated(f.dir, f.base)
	if err != nil {
		return err
	}
	var segs []*segment
	var prev Position
	havePrev := false
	for i := range paths {
		seg, err := loadRotated(paths[i], seqs[i])
		if err != nil {
			return err
		}
		if seg.size > 0 {
			if havePrev && !prev.Less(seg.first) {
				return outOfOrder(seg.path, 0, prev, seg.first)
			}
			prev, havePrev = seg.last, true
		}
		segs = append(segs, seg)
	}
	active, seg, err := openActive(f.path, prev, havePrev)
	if err != nil {
		return err
	}
	f.mu.active, f.mu.segs, f.mu.stale = active, append(segs, seg), nil
	f.mu.nextSeq = 1
	if len(seqs) > 0 {
		f.mu.nextSeq = seqs[len(seqs)-1] + 1
	}
	f.mu.hw, f.mu.hasHW = prev, havePrev
	if seg.size > 0 {
		f.mu.hw, f.mu.hasHW = seg.last, true
	}
	if seg.size >= f.rotateBytes {
		if err := f.rotateLocked(); err != nil {
			f.mu.stale = err // the next call loads again and finishes the rotation
			return err
		}
	}
	return nil
}

// openActive opens (creating) the active file and scans it, truncating a torn tail.
func openActive(path string, prev Position, havePrev bool) (*os.File, *segment, error) {
	_, statErr := os.Stat(path)
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, errcode.New(errcode.Unavailable, "file sink %s: opening: %w", path, err)
	}
	if os.IsNotExist(statErr) {
		if err := syncDir(filepath.Dir(path)); err != nil {
			file.Close()
			return nil, nil, err
		}
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, errcode.New(errcode.Unavailable, "file sink %s: %w", path, err)
	}
	seg := &segment{path: path, indexed: true}
	res, err := seg.scanInto(file, fi.Size(), prev, havePrev)
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	if res.end < fi.Size() { // the torn tail of an interrupted append: it was never acknowledged
		if err := truncateSync(file, res.end); err != nil {
			file.Close()
			return nil, nil, errcode.New(errcode.Unavailable, "file sink %s: truncating the torn last line at byte %d: %w", path, res.end, err)
		}
	}
	return file, seg, nil
}

// truncateSync cuts file to size and makes that durable.
func truncateSync(file *os.File, size int64) error {
	if err := file.Truncate(size); err != nil {
		return err
	}
	return file.Sync()
}

// readyLocked returns an error when the sink is closed, and reloads it after a failed write.
func (f *File) readyLocked() error {
	if f.mu.closed {
		return errcode.New(errcode.Unavailable, "%s is closed; open it again", f.name)
	}
	if f.mu.stale != nil {
		if err := f.loadLocked(); err != nil {
			return errcode.New(errcode.Unavailable, "%s: reloading after a failed write (%v): %w", f.name, f.mu.stale, err)
		}
	}
	return nil
}

// Write appends the rows after the high water mark with one write and one fsync.
func (f *File) Write(ctx context.Context, rows []Row) error {
	if err := checkRows(f.name, rows); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(); err != nil {
		return err
	}
	if f.mu.hasHW {
		i := 0
		for i < len(rows) && !f.mu.hw.Less(rows[i].Pos()) {
			i++
		}
		rows = rows[i:]
	}
	if len(rows) == 0 {
		return nil
	}
	seg := f.mu.segs[len(f.mu.segs)-1]
	buf, ends := f.mu.buf[:0], make([]int64, len(rows))
	for i := range rows {
		buf = appendLine(buf, &rows[i])
		ends[i] = seg.size + int64(len(buf))
	}
	f.mu.buf = buf
	if err := f.appendLocked(seg.size, buf); err != nil {
		return errcode.New(errcode.Unavailable, "%s: appending %d rows (time %d, key %q to time %d, key %q): %w; none is acknowledged, write them again",
			f.name, len(rows), rows[0].Time, rows[0].Key, rows[len(rows)-1].Time, rows[len(rows)-1].Key, err)
	}
	off := seg.size
	for i := range rows {
		seg.note(rows[i].Pos(), off, ends[i])
		off = ends[i]
	}
	f.mu.hw, f.mu.hasHW = seg.last, true
	if seg.size >= f.rotateBytes {
		if err := f.rotateLocked(); err != nil {
			f.mu.stale = err
			return errcode.New(errcode.Unavailable, "%s: the rows are stored, but rotating the file failed: %w", f.name, err)
		}
	}
	return nil
}

// appendLocked writes buf at off in the active file and fsyncs. On failure it truncates back to
// off (best effort) and marks the sink stale, so the next call reloads what the disk holds.
func (f *File) appendLocked(off int64, buf []byte) error {
	_, err := f.mu.active.WriteAt(buf, off)
	if err == nil {
		err = f.mu.active.Sync()
	}
	if err != nil {
		_ = truncateSync(f.mu.active, off) // if this fails too, the reload keeps whole lines and drops a torn one
		f.mu.stale = err
	}
	return err
}

// HighWater returns the greatest stored Position.
func (f *File) HighWater(ctx context.Context) (Position, bool, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(); err != nil {
		return Position{}, false, err
	}
	return f.mu.hw, f.mu.hasHW, nil
}

// ReadAfter returns up to limit rows strictly after `after`, across rotated files and the active one.
func (f *File) ReadAfter(ctx context.Context, after Position, limit int) ([]Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(); err != nil {
		return nil, err
	}
	var out []Row
	for i, seg := range f.mu.segs {
		if seg.size == 0 || !after.Less(seg.last) {
			continue
		}
		var err error
		if i == len(f.mu.segs)-1 {
			out, err = seg.readRows(f.mu.active, after, limit, out)
		} else {
			out, err = readRotated(seg, after, limit, out)
		}
		if err != nil || len(out) >= limit {
			return out, err
		}
	}
	return out, nil
}

// readRotated reads rows after pos from a rotated segment, indexing it on first use.
func readRotated(seg *segment, after Position, limit int, out []Row) ([]Row, error) {
	if err := seg.ensureIndex(); err != nil {
		return out, err
	}
	file, err := os.Open(seg.path)
	if err != nil {
		return out, errcode.New(errcode.Unavailable, "file sink: opening %s: %w", seg.path, err)
	}
	defer file.Close()
	return seg.readRows(file, after, limit, out)
}

// Close closes the active file. Every acknowledged Write is already durable.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.closed = true
	if f.mu.active == nil {
		return nil
	}
	err := f.mu.active.Close()
	f.mu.active = nil
	if err != nil {
		return errcode.New(errcode.Unavailable, "%s: closing: %w", f.name, err)
	}
	return nil
}
