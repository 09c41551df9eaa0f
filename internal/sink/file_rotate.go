package sink

import (
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// rotateLocked moves the full active file aside as name-<seq>.jsonl and starts an empty one.
//
// Crash safety. The steps are:
//
//  1. the active file is complete and durable: every Write fsyncs before it returns, and a
//     rotation only follows a successful Write or a load that truncated any torn tail;
//  2. rename name.jsonl → name-<seq>.jsonl, then fsync the directory;
//  3. create an empty name.jsonl, then fsync the directory again.
//
// The rename is the single commit point: it is atomic, and a file is never under both names, so
// every row is in exactly one file in every state a crash can leave. Before it, opening finds an
// over-full active file and rotates it again (loadLocked). After it but before step 3, opening
// finds no active file and creates one; the rows are in the rotated file and the high water mark
// comes from there. The directory fsync after the rename makes it durable before the new active
// file exists, so no filesystem can persist the new file without the rename; the one after the
// create makes the new file's name durable before any Write to it is acknowledged. Rotated files
// never end in a torn line, and the seq of a new one is one more than the greatest on disk, so a
// rename never replaces an existing file (it checks, to be sure).
func (f *File) rotateLocked() error {
	seg := f.mu.segs[len(f.mu.segs)-1]
	rotated := filepath.Join(f.dir, rotatedName(f.base, f.mu.nextSeq))
	if _, err := os.Lstat(rotated); err == nil {
		return errcode.New(errcode.Conflict,
			"%s: cannot rotate: %s already exists; another process writes this output, or files were copied in: one output needs one writer", f.name, rotated)
	}
	if err := f.mu.active.Close(); err != nil {
		f.mu.active = nil
		return errcode.New(errcode.Unavailable, "%s: closing before rotation: %w", f.name, err)
	}
	f.mu.active = nil
	if err := os.Rename(f.path, rotated); err != nil {
		return errcode.New(errcode.Unavailable, "%s: rotating to %s: %w", f.name, rotated, err)
	}
	if err := syncDir(f.dir); err != nil {
		return err
	}
	active, err := os.OpenFile(f.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return errcode.New(errcode.Unavailable, "%s: creating a new active file after rotation: %w", f.name, err)
	}
	if err := syncDir(f.dir); err != nil {
		active.Close()
		return err
	}
	seg.path, seg.seq = rotated, f.mu.nextSeq
	f.mu.nextSeq++
	f.mu.active = active
	f.mu.segs = append(f.mu.segs, &segment{path: f.path, indexed: true})
	return nil
}

// syncDir makes creations and renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return errcode.New(errcode.Unavailable, "file sink: opening directory %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return errcode.New(errcode.Unavailable, "file sink: syncing directory %s: %w", dir, err)
	}
	return nil
}
