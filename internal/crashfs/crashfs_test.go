package crashfs

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"testing"
)

func write(t *testing.T, f *FS, name string, data string, sync bool) {
	t.Helper()
	h, err := f.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := h.Stat()
	if _, err := h.WriteAt([]byte(data), st.Size()); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := h.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	_ = h.Close()
}

func read(t *testing.T, f *FS, name string) (string, bool) {
	t.Helper()
	h, err := f.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	st, _ := h.Stat()
	buf := make([]byte, st.Size())
	if _, err := h.ReadAt(buf, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return string(buf), true
}

func TestCrashCloneKeepsOnlyDurable(t *testing.T) {
	tests := []struct {
		name     string
		run      func(f *FS)
		file     string
		want     string
		wantGone bool
	}{
		{"synced file, synced dir", func(f *FS) { write(t, f, "/d/a", "abc", true); f.SyncDir("/d") }, "/d/a", "abc", false},
		{"unsynced bytes are lost", func(f *FS) {
			write(t, f, "/d/a", "abc", true)
			f.SyncDir("/d")
			write(t, f, "/d/a", "def", false)
		}, "/d/a", "abc", false},
		{"created, dir not synced", func(f *FS) { write(t, f, "/d/a", "abc", true) }, "/d/a", "", true},
		{"dir synced, file not", func(f *FS) { write(t, f, "/d/a", "abc", false); f.SyncDir("/d") }, "/d/a", "", false},
		{"removal not durable", func(f *FS) {
			write(t, f, "/d/a", "abc", true)
			f.SyncDir("/d")
			f.Remove("/d/a")
		}, "/d/a", "abc", false},
		{"removal durable", func(f *FS) {
			write(t, f, "/d/a", "abc", true)
			f.SyncDir("/d")
			f.Remove("/d/a")
			f.SyncDir("/d")
		}, "/d/a", "", true},
		{"rename durable", func(f *FS) {
			write(t, f, "/d/a.tmp", "abc", true)
			f.Rename("/d/a.tmp", "/d/a")
			f.SyncDir("/d")
		}, "/d/a", "abc", false},
		{"truncate synced", func(f *FS) {
			write(t, f, "/d/a", "abcdef", true)
			f.SyncDir("/d")
			h, _ := f.OpenFile("/d/a", os.O_RDWR, 0)
			h.Truncate(2)
			h.Sync()
		}, "/d/a", "ab", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			if err := f.MkdirAll("/d", 0o700); err != nil {
				t.Fatal(err)
			}
			tc.run(f)
			got, ok := read(t, f.CrashClone(CrashOptions{}), tc.file)
			if ok == tc.wantGone || got != tc.want {
				t.Fatalf("after the crash: %q (exists %v), want %q (exists %v)", got, ok, tc.want, !tc.wantGone)
			}
		})
	}
}

// TestCrashCloneTornPrefix checks that with a Rand the survivor is the synced bytes plus a
// prefix of the unsynced writes, and that every length of prefix shows up over many seeds.
func TestCrashCloneTornPrefix(t *testing.T) {
	f := New()
	_ = f.MkdirAll("/d", 0o700)
	write(t, f, "/d/a", "synced-", true)
	_ = f.SyncDir("/d")
	write(t, f, "/d/a", "0123", false)
	write(t, f, "/d/a", "4567", false)
	full := "synced-01234567"
	seen := map[int]bool{}
	for seed := range uint64(300) {
		got, _ := read(t, f.CrashClone(CrashOptions{Rand: rand.New(rand.NewPCG(seed, 1))}), "/d/a")
		if len(got) < len("synced-") || full[:len(got)] != got {
			t.Fatalf("seed %d: %q is not a prefix of %q that keeps the synced bytes", seed, got, full)
		}
		seen[len(got)] = true
	}
	for n := len("synced-"); n <= len(full); n++ {
		if !seen[n] {
			t.Fatalf("no crash kept exactly %d bytes", n)
		}
	}
}

func TestFileErrorsAndPerm(t *testing.T) {
	f := New()
	if _, err := f.OpenFile("/nodir/a", os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open in a missing dir: %v", err)
	}
	_ = f.MkdirAll("/d", 0o700)
	h, _ := f.OpenFile("/d/a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if _, err := f.OpenFile("/d/a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("O_EXCL on an existing file: %v", err)
	}
	if st, _ := f.Stat("/d/a"); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	if st, _ := f.Stat("/d"); !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", st.Mode())
	}
	ro, _ := f.OpenFile("/d/a", os.O_RDONLY, 0)
	if _, err := ro.WriteAt([]byte("x"), 0); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("write to a read-only handle: %v", err)
	}
	_ = h.Close()
	if _, err := h.WriteAt([]byte("x"), 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	ents, _ := f.ReadDir("/d")
	if len(ents) != 1 || ents[0].Name() != "a" {
		t.Fatalf("ReadDir: %v", ents)
	}
}
