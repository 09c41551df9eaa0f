// Package crashfs is a crashable in-memory filesystem for simulations and power-loss tests. It
// implements internal/log's FS and File interfaces: writes land in memory, File.Sync makes a
// file's bytes durable, FS.SyncDir makes the creations, renames and removals in one directory
// durable, and CrashClone returns a new FS holding only what was durable at that instant (with
// Options.Rand, a random prefix of each file's unsynced writes survives too, torn in the middle
// of a write, as Pebble's vfs.CrashCloneCfg models it).
//
// The model is strict on purpose: a created file whose directory was not synced is gone after a
// crash even if the file itself was synced. Directories made by MkdirAll are durable at once
// (the callers under test create their directory once, before anything else).
//
// It owns only memory; it must not touch the real filesystem.
package crashfs

import (
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// FS is a crashable in-memory filesystem. It is safe for concurrent use; one mutex serialises
// every operation, so CrashClone sees a consistent instant.
type FS struct {
	mu struct {
		sync.Mutex
		names   map[string]*inode // the namespace as running processes see it
		durable map[string]*inode // the namespace that survives a crash
		dirs    map[string]fs.FileMode
	}
}

// inode is one file's contents: data as readers see it, and the durable image plus the writes
// and truncations made since the last Sync, in order.
type inode struct {
	perm    fs.FileMode
	data    []byte
	synced  []byte
	pending []op
	mtime   time.Time
}

// op is one unsynced change: a write of data at off, or (data == nil) a truncation to off.
type op struct {
	off  int64
	data []byte
}

var _ seglog.FS = (*FS)(nil)

// New returns an empty filesystem holding only the root directory "/".
func New() *FS {
	f := &FS{}
	f.mu.names = map[string]*inode{}
	f.mu.durable = map[string]*inode{}
	f.mu.dirs = map[string]fs.FileMode{"/": fs.ModeDir | 0o755, ".": fs.ModeDir | 0o755}
	return f
}

func clean(name string) string { return path.Clean(name) }

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// OpenFile opens or creates a file. O_CREATE, O_EXCL, O_TRUNC and the access mode are honoured;
// the parent directory must exist.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (seglog.File, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.mu.dirs[path.Dir(name)]; !ok {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	if _, ok := f.mu.dirs[name]; ok {
		return nil, pathErr("open", name, syscallEISDIR)
	}
	ino, ok := f.mu.names[name]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case !ok && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case !ok:
		ino = &inode{perm: perm.Perm(), mtime: time.Now()}
		f.mu.names[name] = ino
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable {
		ino.truncate(0)
	}
	return &File{fs: f, ino: ino, name: name, writable: writable, readable: flag&os.O_WRONLY == 0}, nil
}

// Remove removes a file (or an empty directory). It is durable after SyncDir of its directory.
func (f *FS) Remove(name string) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.mu.names[name]; ok {
		delete(f.mu.names, name)
		return nil
	}
	if _, ok := f.mu.dirs[name]; ok {
		for p := range f.mu.names {
			if path.Dir(p) == name {
				return pathErr("remove", name, syscallENOTEMPTY)
			}
		}
		delete(f.mu.dirs, name)
		return nil
	}
	return pathErr("remove", name, fs.ErrNotExist)
}

// Rename renames a file, replacing newpath. It is durable after SyncDir of both directories.
func (f *FS) Rename(oldpath, newpath string) error {
	oldpath, newpath = clean(oldpath), clean(newpath)
	f.mu.Lock()
	defer f.mu.Unlock()
	ino, ok := f.mu.names[oldpath]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	if _, ok := f.mu.dirs[path.Dir(newpath)]; !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	delete(f.mu.names, oldpath)
	f.mu.names[newpath] = ino
	return nil
}

// ReadDir lists a directory, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.mu.dirs[name]; !ok {
		return nil, pathErr("readdir", name, fs.ErrNotExist)
	}
	var out []fs.DirEntry
	for p, ino := range f.mu.names {
		if path.Dir(p) == name {
			out = append(out, fs.FileInfoToDirEntry(fileInfo{name: path.Base(p), size: int64(len(ino.data)), mode: ino.perm, mtime: ino.mtime}))
		}
	}
	for p, mode := range f.mu.dirs {
		if p != name && path.Dir(p) == name {
			out = append(out, fs.FileInfoToDirEntry(fileInfo{name: path.Base(p), mode: mode}))
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// MkdirAll creates a directory and its parents; directories are durable at once.
func (f *FS) MkdirAll(p string, perm fs.FileMode) error {
	p = clean(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	for d := p; ; d = path.Dir(d) {
		if _, ok := f.mu.names[d]; ok {
			return pathErr("mkdir", d, syscallENOTDIR)
		}
		if _, ok := f.mu.dirs[d]; ok {
			break
		}
		f.mu.dirs[d] = fs.ModeDir | perm.Perm()
		if d == "/" || d == "." {
			break
		}
	}
	return nil
}

// Stat describes a file or directory.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if ino, ok := f.mu.names[name]; ok {
		return fileInfo{name: path.Base(name), size: int64(len(ino.data)), mode: ino.perm, mtime: ino.mtime}, nil
	}
	if mode, ok := f.mu.dirs[name]; ok {
		return fileInfo{name: path.Base(name), mode: mode}, nil
	}
	return nil, pathErr("stat", name, fs.ErrNotExist)
}

// SyncDir makes the namespace of directory name durable: files created or renamed into it
// survive a crash, files removed or renamed away stay gone.
func (f *FS) SyncDir(name string) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.mu.dirs[name]; !ok {
		return pathErr("syncdir", name, fs.ErrNotExist)
	}
	for p := range f.mu.durable {
		if path.Dir(p) == name {
			delete(f.mu.durable, p)
		}
	}
	for p, ino := range f.mu.names {
		if path.Dir(p) == name {
			f.mu.durable[p] = ino
		}
	}
	return nil
}

// CrashOptions tune CrashClone.
type CrashOptions struct {
	// Rand, when set, lets a random prefix of each file's unsynced changes survive, the last of
	// them possibly torn part-way through a write. Nil keeps exactly the synced bytes.
	Rand *rand.Rand
}

// CrashClone returns a new FS holding what a power loss at this instant would leave: the
// durable namespace, each file with its synced bytes (plus, with opts.Rand, a random prefix of
// its unsynced changes). The receiver is unchanged and keeps working.
func (f *FS) CrashClone(opts CrashOptions) *FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := New()
	for d, mode := range f.mu.dirs {
		c.mu.dirs[d] = mode
	}
	clones := map[*inode]*inode{} // hard links stay shared
	for p, ino := range f.mu.durable {
		n, ok := clones[ino]
		if !ok {
			n = ino.crashImage(opts.Rand)
			clones[ino] = n
		}
		c.mu.names[p] = n
		c.mu.durable[p] = n
	}
	return c
}

// crashImage is the inode a crash leaves: synced bytes plus a random prefix of pending changes.
func (ino *inode) crashImage(rnd *rand.Rand) *inode {
	n := &inode{perm: ino.perm, mtime: ino.mtime, data: slices.Clone(ino.synced)}
	if rnd != nil && len(ino.pending) > 0 {
		keep := rnd.IntN(len(ino.pending) + 1)
		for i, o := range ino.pending[:keep] {
			if i == keep-1 && o.data != nil && rnd.IntN(2) == 0 {
				o.data = o.data[:rnd.IntN(len(o.data)+1)] // torn write
			}
			n.data = applyOp(n.data, o)
		}
	}
	n.synced = slices.Clone(n.data)
	return n
}

func applyOp(data []byte, o op) []byte {
	if o.data == nil {
		if o.off < int64(len(data)) {
			return data[:o.off]
		}
		return append(data, make([]byte, o.off-int64(len(data)))...)
	}
	if end := o.off + int64(len(o.data)); end > int64(len(data)) {
		data = append(data, make([]byte, end-int64(len(data)))...)
	}
	copy(data[o.off:], o.data)
	return data
}

func (ino *inode) truncate(size int64) {
	ino.data = applyOp(ino.data, op{off: size})
	ino.pending = append(ino.pending, op{off: size})
	ino.mtime = time.Now()
}

// File is an open file of an FS.
type File struct {
	fs       *FS
	ino      *inode
	name     string
	writable bool
	readable bool
	closed   bool
}

var _ seglog.File = (*File)(nil)

// ReadAt reads len(p) bytes at off; it returns io.EOF when fewer remain.
func (h *File) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("read", h.readable); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", h.name, fs.ErrInvalid)
	}
	if off >= int64(len(h.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes p at off, extending the file with zeros if needed. The bytes are not durable
// until Sync.
func (h *File) WriteAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("write", h.writable); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("write", h.name, fs.ErrInvalid)
	}
	o := op{off: off, data: slices.Clone(p)}
	h.ino.data = applyOp(h.ino.data, o)
	h.ino.pending = append(h.ino.pending, o)
	h.ino.mtime = time.Now()
	return len(p), nil
}

// Sync makes the file's current bytes durable.
func (h *File) Sync() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("sync", true); err != nil {
		return err
	}
	for _, o := range h.ino.pending {
		h.ino.synced = applyOp(h.ino.synced, o)
	}
	h.ino.pending = nil
	return nil
}

// Truncate changes the file's size; durable after Sync.
func (h *File) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("truncate", h.writable); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", h.name, fs.ErrInvalid)
	}
	h.ino.truncate(size)
	return nil
}

// Close closes the handle; later calls on it fail with fs.ErrClosed.
func (h *File) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return pathErr("close", h.name, fs.ErrClosed)
	}
	h.closed = true
	return nil
}

// Stat describes the open file.
func (h *File) Stat() (fs.FileInfo, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("stat", true); err != nil {
		return nil, err
	}
	return fileInfo{name: path.Base(h.name), size: int64(len(h.ino.data)), mode: h.ino.perm, mtime: h.ino.mtime}, nil
}

func (h *File) check(op string, allowed bool) error {
	switch {
	case h.closed:
		return pathErr(op, h.name, fs.ErrClosed)
	case !allowed:
		return pathErr(op, h.name, fs.ErrPermission)
	}
	return nil
}

type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return i.mtime }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }
