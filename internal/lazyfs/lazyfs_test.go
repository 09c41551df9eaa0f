package lazyfs

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// model is what a file holds: the process's view and the durable bytes.
type model struct{ view, durable []byte }

func (m *model) write(p []byte, off int64) {
	if end := off + int64(len(p)); end > int64(len(m.view)) {
		m.view = append(m.view, make([]byte, end-int64(len(m.view)))...)
	}
	copy(m.view[off:], p)
}

func (m *model) truncate(size int64) {
	if size <= int64(len(m.view)) {
		m.view = m.view[:size]
		return
	}
	m.view = append(m.view, make([]byte, size-int64(len(m.view)))...)
}

// The lazy file reads back exactly what was written, and after a "kill" (a new FS over the
// same directory, as a restarted process has) holds exactly what was synced.
func TestLazyFileMatchesModel(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		dir := t.TempDir()
		name := filepath.Join(dir, "f")
		fsys := New()
		f, err := fsys.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		var m model
		for op := 0; op < 60; op++ {
			switch r := rng.IntN(10); {
			case r < 5:
				p := make([]byte, 1+rng.IntN(300))
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				off := int64(rng.IntN(len(m.view) + 100))
				if _, err := f.WriteAt(p, off); err != nil {
					t.Fatal(err)
				}
				m.write(p, off)
			case r < 6:
				size := int64(rng.IntN(len(m.view) + 50))
				if err := f.Truncate(size); err != nil {
					t.Fatal(err)
				}
				m.truncate(size)
			case r < 8:
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				m.durable = append([]byte(nil), m.view...)
			default:
				got := readAll(t, f)
				if !bytes.Equal(got, m.view) {
					t.Fatalf("seed %d op %d: read %d bytes, want the %d written", seed, op, len(got), len(m.view))
				}
				if st, _ := f.Stat(); st.Size() != int64(len(m.view)) {
					t.Fatalf("seed %d op %d: size %d, want %d", seed, op, st.Size(), len(m.view))
				}
			}
		}
		// The process dies: only what was synced is on disk.
		after, err := New().OpenFile(name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, after); !bytes.Equal(got, m.durable) {
			t.Fatalf("seed %d: after the kill the file holds %d bytes, want the %d synced", seed, len(got), len(m.durable))
		}
		after.Close()
		f.Close()
	}
}

// Reopening a file through the same FS (a process that closes and reopens a segment) sees the
// unsynced writes; a rename carries them.
func TestReopenAndRenameKeepUnsyncedWrites(t *testing.T) {
	dir := t.TempDir()
	fsys := New()
	a := filepath.Join(dir, "a")
	f, err := fsys.OpenFile(a, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("hello"), 0)
	f.Close()
	if fsys.Unsynced() != 5 {
		t.Fatalf("unsynced = %d, want 5", fsys.Unsynced())
	}
	b := filepath.Join(dir, "b")
	if err := fsys.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	g, err := fsys.OpenFile(b, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, g); string(got) != "hello" {
		t.Fatalf("after close, rename and reopen: %q", got)
	}
	if st, err := fsys.Stat(b); err != nil || st.Size() != 5 {
		t.Fatalf("Stat = %v, %v; want size 5", st, err)
	}
	if onDisk, _ := os.ReadFile(b); len(onDisk) != 0 {
		t.Fatalf("unsynced bytes reached the disk: %q", onDisk)
	}
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	if onDisk, _ := os.ReadFile(b); string(onDisk) != "hello" {
		t.Fatalf("after Sync the disk holds %q", onDisk)
	}
	g.Close()
}

func readAll(t *testing.T, f interface {
	ReadAt([]byte, int64) (int, error)
}) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 97)
	for off := int64(0); ; {
		n, err := f.ReadAt(buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
