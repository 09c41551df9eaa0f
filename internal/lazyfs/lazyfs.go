// Package lazyfs is a test filesystem that loses what was never fsynced: file writes stay in
// the process's memory until the file is synced, so a `kill -9` of a process that uses it is
// a power loss for its data files (replication.md §4.4, the application-level form of
// Jepsen's LazyFS). It exists to prove durability claims ("acknowledged means fsynced") with
// real processes; a node uses it only when built with the `lazyfs` tag and started with
// TANDEM_TEST_LAZY_WRITES=1 (see cmd/tandem/lazyfs.go).
//
// It implements internal/log's FS over the operating system's. What it models: bytes written
// and not yet synced, and truncations not yet synced, are gone after a kill. What it does not:
// directory entries (creations, renames and removals reach the disk at once) and files that
// are not opened through it (the metadata store writes its own files).
//
// It owns no goroutine. It must not be used outside tests and the lazyfs build.
package lazyfs

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// FS is the lazy-write filesystem. The zero value is not usable; call New.
type FS struct {
	base seglog.OSFS

	mu    sync.Mutex
	nodes map[string]*node // by cleaned path: the unsynced state of each file opened through FS
}

// New returns an empty lazy-write filesystem over the operating system's.
func New() *FS { return &FS{nodes: map[string]*node{}} }

// node is one file's unsynced state, shared by every open handle of it.
type node struct {
	mu      sync.Mutex
	f       *os.File // a handle the flush writes through
	pending []extent // writes not yet synced, in the order they were made
	size    int64    // the size the process sees
	disk    int64    // the size of the file on disk
	valid   int64    // how much of the disk file is still the process's view (a truncation cuts it)
}

type extent struct {
	off  int64
	data []byte
}

// OpenFile opens name on disk and returns a handle whose writes stay in memory until Sync.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (seglog.File, error) {
	osf, err := os.OpenFile(name, flag&^os.O_APPEND, perm)
	if err != nil {
		return nil, err
	}
	key := filepath.Clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.nodes[key]
	if n == nil {
		st, err := osf.Stat()
		if err != nil {
			osf.Close()
			return nil, err
		}
		dup, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			dup, err = os.OpenFile(name, os.O_RDONLY, 0) // read-only files never flush
			if err != nil {
				osf.Close()
				return nil, err
			}
		}
		n = &node{f: dup, size: st.Size(), disk: st.Size(), valid: st.Size()}
		f.nodes[key] = n
	}
	if flag&os.O_TRUNC != 0 {
		n.truncate(0)
	}
	return &file{n: n, osf: osf, name: key}, nil
}

// Remove removes name from the disk and forgets its unsynced state.
func (f *FS) Remove(name string) error {
	f.forget(name)
	return f.base.Remove(name)
}

// Rename renames on disk at once; the unsynced state moves with the file.
func (f *FS) Rename(oldpath, newpath string) error {
	if err := f.base.Rename(oldpath, newpath); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	oldKey, newKey := filepath.Clean(oldpath), filepath.Clean(newpath)
	if n, ok := f.nodes[oldKey]; ok {
		delete(f.nodes, oldKey)
		f.nodes[newKey] = n
	}
	return nil
}

// ReadDir lists a directory as the disk has it.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) { return f.base.ReadDir(name) }

// MkdirAll creates directories at once.
func (f *FS) MkdirAll(path string, perm fs.FileMode) error { return f.base.MkdirAll(path, perm) }

// Stat reports a file with the size the process sees.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	st, err := f.base.Stat(name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	n := f.nodes[filepath.Clean(name)]
	f.mu.Unlock()
	if n == nil {
		return st, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return sizedInfo{FileInfo: st, size: n.size}, nil
}

// SyncDir syncs a directory on disk.
func (f *FS) SyncDir(name string) error { return f.base.SyncDir(name) }

// Unsynced is how many bytes written through f are not yet durable (for tests).
func (f *FS) Unsynced() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var total int64
	for _, n := range f.nodes {
		n.mu.Lock()
		for _, e := range n.pending {
			total += int64(len(e.data))
		}
		n.mu.Unlock()
	}
	return total
}

func (f *FS) forget(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := filepath.Clean(name)
	if n, ok := f.nodes[key]; ok {
		n.f.Close()
		delete(f.nodes, key)
	}
}

// file is one open handle.
type file struct {
	n    *node
	osf  *os.File
	name string
}

func (h *file) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: h.name, Err: fs.ErrInvalid}
	}
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	h.n.pending = append(h.n.pending, extent{off: off, data: append([]byte(nil), p...)})
	h.n.size = max(h.n.size, off+int64(len(p)))
	return len(p), nil
}

func (h *file) ReadAt(p []byte, off int64) (int, error) {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	if off >= h.n.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), h.n.size-off)
	buf := p[:want]
	clear(buf)
	if off < h.n.valid {
		if _, err := h.osf.ReadAt(buf[:min(want, h.n.valid-off)], off); err != nil && err != io.EOF {
			return 0, err
		}
	}
	for _, e := range h.n.pending { // later writes win, as on a real file
		lo, hi := max(off, e.off), min(off+want, e.off+int64(len(e.data)))
		if lo < hi {
			copy(buf[lo-off:hi-off], e.data[lo-e.off:hi-e.off])
		}
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

// Sync writes the pending extents and the size to disk and fsyncs them.
func (h *file) Sync() error {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	return h.n.flush()
}

func (h *file) Truncate(size int64) error {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	h.n.truncate(size)
	return nil
}

func (h *file) Close() error { return h.osf.Close() }

func (h *file) Stat() (fs.FileInfo, error) {
	st, err := h.osf.Stat()
	if err != nil {
		return nil, err
	}
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	return sizedInfo{FileInfo: st, size: h.n.size}, nil
}

// truncate cuts the pending writes at size; the disk file is cut only at the next flush.
func (n *node) truncate(size int64) {
	kept := n.pending[:0]
	for _, e := range n.pending {
		if e.off >= size {
			continue
		}
		if end := e.off + int64(len(e.data)); end > size {
			e.data = e.data[:size-e.off]
		}
		kept = append(kept, e)
	}
	n.pending = kept
	n.size = size
	n.valid = min(n.valid, size)
}

// flush makes the process's view of the file durable. The caller holds n.mu.
func (n *node) flush() error {
	if n.valid < n.disk || n.disk != n.size {
		if err := n.f.Truncate(n.valid); err != nil { // what a truncation removed reads as zeros
			return err
		}
		if err := n.f.Truncate(n.size); err != nil {
			return err
		}
	}
	for _, e := range n.pending {
		if _, err := n.f.WriteAt(e.data, e.off); err != nil {
			return err
		}
	}
	if err := n.f.Sync(); err != nil {
		return err
	}
	n.pending, n.disk, n.valid = nil, n.size, n.size
	return nil
}

// sizedInfo is a FileInfo with the size the process sees.
type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (s sizedInfo) Size() int64        { return s.size }
func (s sizedInfo) ModTime() time.Time { return s.FileInfo.ModTime() }
