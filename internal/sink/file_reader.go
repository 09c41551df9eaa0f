package sink

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// snapshotAttempts bounds how often one call retries when the writer rotates while the call
// lists the files.
const snapshotAttempts = 100

// fileReader reads a file output that another process (a *File) writes. Unlike a *File it
// never writes, creates or truncates anything, and every call reads what is on disk then: the
// rotated files and the active one. It ignores an incomplete last line (an append in progress,
// or the torn tail of a writer that crashed, which the writer truncates when it opens again).
//
// Rotated files are immutable, so it keeps their bounds and (once read) their sparse index.
// For the active file it keeps the index of the lines it has seen and, while the file is the
// same one and has not shrunk, scans only what was appended since.
type fileReader struct {
	name      string // "file output <path>", for errors
	path      string
	dir, base string // path is dir/base.jsonl

	mu struct {
		sync.Mutex
		closed     bool
		rotated    map[uint64]*segment // by seq
		active     *segment            // the active file's lines as last scanned; nil before
		activeFile os.FileInfo         // which file active describes
	}
}

var _ Reader = (*fileReader)(nil)

func openFileReader(cfg fileConfig) (*fileReader, error) {
	r := &fileReader{
		name: "file output " + cfg.path,
		path: cfg.path,
		dir:  filepath.Dir(cfg.path),
		base: strings.TrimSuffix(filepath.Base(cfg.path), ".jsonl"),
	}
	if err := checkDir("file", r.dir); err != nil {
		return nil, err
	}
	r.mu.rotated = make(map[uint64]*segment)
	return r, nil
}

// fileView is what one call reads: the rotated segments by seq, then the active file (when
// there is one) open for reading, with its complete lines scanned.
type fileView struct {
	rotated []*segment
	active  *segment // nil when there is no active file (a rotation is between its steps)
	file    *os.File
}

func (v *fileView) close() {
	if v.file != nil {
		v.file.Close()
	}
}

// last returns the greatest position in the view.
func (v *fileView) last() (Position, bool) {
	if v.active != nil && v.active.size > 0 {
		return v.active.last, true
	}
	return v.lastRotated()
}

// viewLocked lists the files and opens the active one. A rotation renames the active file and
// then creates a new one, so the listing is taken before and after opening the active file:
// when both agree, the file opened is the one that follows the listed rotated files (if a
// rotation happens later, the open file is still that one, under its new name).
func (r *fileReader) viewLocked() (fileView, error) {
	if r.mu.closed {
		return fileView{}, errcode.New(errcode.Unavailable, "%s is closed; open it again", r.name)
	}
	for range snapshotAttempts {
		_, before, err := listRotated(r.dir, r.base)
		if err != nil {
			return fileView{}, err
		}
		file, err := os.Open(r.path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fileView{}, errcode.New(errcode.Unavailable, "%s: opening: %w", r.name, err)
		}
		paths, after, err := listRotated(r.dir, r.base)
		if err != nil || !slices.Equal(before, after) {
			if file != nil {
				file.Close()
			}
			if err != nil {
				return fileView{}, err
			}
			continue // rotated meanwhile: look again
		}
		v := fileView{file: file}
		if v.rotated, err = r.rotatedLocked(paths, after); err == nil && file != nil {
			prev, havePrev := v.lastRotated()
			v.active, err = r.activeLocked(file, prev, havePrev)
		}
		if err != nil {
			v.close()
			return fileView{}, err
		}
		return v, nil
	}
	return fileView{}, errcode.New(errcode.Unavailable,
		"%s: the files kept changing while being listed (%d attempts); try again", r.name, snapshotAttempts)
}

// lastRotated returns the last row of the rotated segments.
func (v *fileView) lastRotated() (Position, bool) {
	for i := len(v.rotated) - 1; i >= 0; i-- {
		if v.rotated[i].size > 0 {
			return v.rotated[i].last, true
		}
	}
	return Position{}, false
}

// rotatedLocked returns the rotated segments, loading the bounds of those not seen before, and
// checks that they follow one another in order.
func (r *fileReader) rotatedLocked(paths []string, seqs []uint64) ([]*segment, error) {
	segs := make([]*segment, len(paths))
	keep := make(map[uint64]*segment, len(paths))
	var prev Position
	havePrev := false
	for i, seq := range seqs {
		seg := r.mu.rotated[seq]
		if seg == nil {
			var err error
			if seg, err = loadRotated(paths[i], seq); err != nil {
				return nil, err
			}
		}
		if seg.size > 0 {
			if havePrev && !prev.Less(seg.first) {
				return nil, outOfOrder(seg.path, 0, prev, seg.first)
			}
			prev, havePrev = seg.last, true
		}
		segs[i], keep[seq] = seg, seg
	}
	r.mu.rotated = keep
	return segs, nil
}

// activeLocked brings the index of the active file up to its complete lines: from where the
// last call stopped when it is the same file and has not shrunk, else from its start. Rows must
// come after prev, the last row of the rotated files.
func (r *fileReader) activeLocked(file *os.File, prev Position, havePrev bool) (*segment, error) {
	fi, err := file.Stat()
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "%s: %w", r.name, err)
	}
	seg := r.mu.active
	if seg != nil && os.SameFile(r.mu.activeFile, fi) && fi.Size() >= seg.size {
		if err := extendSegment(seg, file, fi.Size(), prev, havePrev); err == nil {
			return seg, nil
		}
		// The file changed under the lines seen (a writer's failed append was truncated
		// and written again): scan it whole.
	}
	r.mu.active, r.mu.activeFile = nil, nil
	seg = &segment{path: r.path, indexed: true}
	if err := extendSegment(seg, file, fi.Size(), prev, havePrev); err != nil {
		return nil, err
	}
	r.mu.active, r.mu.activeFile = seg, fi
	return seg, nil
}

// extendSegment notes the complete lines of file from seg.size to size in seg, checking that
// they are in order after seg's last row (or prev, for an empty seg). A torn last line is left
// for a later call.
func extendSegment(seg *segment, file *os.File, size int64, prev Position, havePrev bool) error {
	if seg.size > 0 {
		prev, havePrev = seg.last, true
	}
	_, err := scanLines(seg.path, file, seg.size, size, func(row Row, off, next int64) error {
		pos := row.Pos()
		if havePrev && !prev.Less(pos) {
			return outOfOrder(seg.path, off, prev, pos)
		}
		seg.note(pos, off, next)
		prev, havePrev = pos, true
		return nil
	})
	return err
}

// HighWater returns the greatest position in the files now.
func (r *fileReader) HighWater(ctx context.Context) (Position, bool, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.viewLocked()
	if err != nil {
		return Position{}, false, err
	}
	defer v.close()
	pos, ok := v.last()
	return pos, ok, nil
}

// ReadAfter returns up to limit rows strictly after `after`, across the rotated files and the
// active one as they are now.
func (r *fileReader) ReadAfter(ctx context.Context, after Position, limit int) ([]Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.viewLocked()
	if err != nil {
		return nil, err
	}
	defer v.close()
	var out []Row
	for _, seg := range v.rotated {
		if seg.size == 0 || !after.Less(seg.last) {
			continue
		}
		if out, err = readRotated(seg, after, limit, out); err != nil || len(out) >= limit {
			return out, err
		}
	}
	if seg := v.active; seg != nil && seg.size > 0 && after.Less(seg.last) {
		out, err = seg.readRows(v.file, after, limit, out)
	}
	return out, err
}

// Close ends the reader; it holds no file open between calls.
func (r *fileReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.closed = true
	r.mu.rotated, r.mu.active, r.mu.activeFile = nil, nil, nil
	return nil
}
