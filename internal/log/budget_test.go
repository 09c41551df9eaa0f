package log

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// openBudgeted opens n logs under dir sharing budget, one batch appended to each.
func openBudgeted(t *testing.T, dir string, n int, budget *FileBudget, fsync FsyncPolicy) []*Log {
	t.Helper()
	logs := make([]*Log, n)
	for i := range logs {
		logs[i] = openLog(t, Options{Dir: filepath.Join(dir, fmt.Sprint(i)), Budget: budget, Fsync: fsync,
			Name: fmt.Sprintf("partition %d of test/hub", i)})
		mustAppend(t, logs[i], mkBatch(i, 2, 32, 1000), -1)
	}
	return logs
}

// TestAuditH2c_LogBudgetClosesIdleLogs: more logs than the budget of open files keep only the
// budget open (the least recently used are closed), and every log still reads and appends.
func TestAuditH2c_LogBudgetClosesIdleLogs(t *testing.T) {
	budget := NewFileBudget(4, quiet)
	logs := openBudgeted(t, t.TempDir(), 12, budget, FsyncPolicy{})
	if got := budget.Open(); got > 4 {
		t.Fatalf("%d segment files open with a budget of 4", got)
	}
	if budget.Evictions() == 0 {
		t.Fatal("no log was closed to stay within the budget")
	}
	for i, l := range logs[:8] {
		if l.FilesOpen() {
			t.Errorf("log %d (among the least recently used) still has its files open", i)
		}
	}
	for i, l := range logs[len(logs)-3:] {
		if !l.FilesOpen() {
			t.Errorf("log %d (among the most recently used) was closed", len(logs)-3+i)
		}
	}
	for round := range 2 {
		for i, l := range logs {
			bs := allBatches(t, l)
			if len(bs) != 1+round || batchID(t, bs[0]) != i {
				t.Fatalf("round %d: log %d reads %d batches", round, i, len(bs))
			}
			mustAppend(t, l, mkBatch(i, 1, 16, 2000), -1)
			if got := budget.Open(); got > 4 {
				t.Fatalf("%d segment files open with a budget of 4", got)
			}
		}
	}
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := budget.Open(); got != 0 {
		t.Fatalf("%d segment files still charged after every log closed", got)
	}
}

// TestAuditH2c_EvictionMakesDataDurable: closing an idle log's files for the budget fsyncs what
// was appended, so a producer waiting for durability is answered, and nothing is lost on reopen.
func TestAuditH2c_EvictionMakesDataDurable(t *testing.T) {
	budget := NewFileBudget(1, quiet)
	fsys := newFaultFS()
	dir := t.TempDir()
	// The syncer would wait an hour: only the eviction can make the batch durable.
	slow := FsyncPolicy{Mode: FsyncInterval, Interval: time.Hour}
	a := openLog(t, Options{Dir: filepath.Join(dir, "a"), Budget: budget, Fsync: slow, FS: fsys})
	_, last := mustAppend(t, a, mkBatch(7, 3, 64, 1000), -1)
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		waited <- a.WaitDurable(ctx, last+1)
	}()
	openLog(t, Options{Dir: filepath.Join(dir, "b"), Budget: budget, Fsync: slow}) // evicts a
	if err := <-waited; err != nil {
		t.Fatalf("WaitDurable across the eviction: %v", err)
	}
	if a.FilesOpen() || a.DurableOffset() != last+1 {
		t.Fatalf("after eviction: files open %v, durable %d, want closed and %d", a.FilesOpen(), a.DurableOffset(), last+1)
	}
	if bs := allBatches(t, a); len(bs) != 1 || batchID(t, bs[0]) != 7 {
		t.Fatalf("reopened log reads %d batches", len(bs))
	}
}

// TestAuditH2c_BudgetConcurrentUse: readers, long-poll style waiters and appenders on more logs
// than the budget, with eviction running all the time, lose nothing (run with -race).
func TestAuditH2c_BudgetConcurrentUse(t *testing.T) {
	budget := NewFileBudget(3, quiet)
	logs := openBudgeted(t, t.TempDir(), 10, budget, FsyncPolicy{Mode: FsyncInterval, Interval: time.Millisecond})
	const perWorker = 40
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for n := range perWorker {
				l := logs[r.IntN(len(logs))]
				switch n % 3 {
				case 0:
					_, last, err := l.Append(mkBatch(w, 1, 24, 3000), -1)
					if err == nil {
						ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
						err = l.WaitDurable(ctx, last+1)
						cancel()
					}
					if err != nil {
						errc <- err
						return
					}
				case 1:
					if _, err := l.Read(l.StartOffset(), 1<<12); err != nil {
						errc <- err
						return
					}
				default:
					if _, err := l.OffsetForTime(0); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	total := 0
	for _, l := range logs {
		total += len(allBatches(t, l))
	}
	if want := len(logs) + 6*((perWorker+2)/3); total != want {
		t.Fatalf("%d batches in the logs, want %d", total, want)
	}
	if budget.Evictions() == 0 {
		t.Fatal("no eviction happened")
	}
}

// modeFS records the mode of every file right after the open that created it.
type modeFS struct {
	OSFS
	mu    sync.Mutex
	modes map[string]fs.FileMode
}

func (m *modeFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := m.OSFS.OpenFile(name, flag, perm)
	if err == nil && flag&os.O_CREATE != 0 {
		st, serr := f.Stat()
		if serr != nil {
			return nil, serr
		}
		m.mu.Lock()
		m.modes[filepath.Base(name)] = st.Mode().Perm()
		m.mu.Unlock()
	}
	return f, err
}

// TestAuditM5_FilesPrivateFromFirstOpen: segments, indexes and files written through
// WriteFileDurable are 0600 at the moment they are created (no 0644 window before a chmod),
// even when a stale 0644 temporary file was left behind, and log directories are 0700.
func TestAuditM5_FilesPrivateFromFirstOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	fsys := &modeFS{modes: map[string]fs.FileMode{}}
	l := openLog(t, Options{Dir: dir, FS: fsys, SegmentBytes: 200})
	for i := range 4 {
		mustAppend(t, l, mkBatch(i, 2, 64, 1000), -1) // each batch rolls a segment: indexes too
	}
	secret := filepath.Join(dir, "admin-key")
	if err := os.WriteFile(secret+tmpSuffix, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileDurable(fsys, secret, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if len(fsys.modes) < 6 {
		t.Fatalf("only %d files were created: %v", len(fsys.modes), fsys.modes)
	}
	for name, mode := range fsys.modes {
		if mode != 0o600 {
			t.Errorf("%s was created with mode %#o, want 0600", name, mode)
		}
	}
	st, err := os.Stat(secret)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want mode 0600", secret, st.Mode(), err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("log directory mode %v (%v), want 0700", st.Mode(), err)
	}
}

// pathErrFS fails writes with the *fs.PathError a real disk gives, path included.
type pathErrFS struct{ OSFS }

func (p pathErrFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := p.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return pathErrFile{File: f, name: name}, nil
}

type pathErrFile struct {
	File
	name string
}

func (f pathErrFile) WriteAt([]byte, int64) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
}

// TestAuditM5_ErrorsDoNotNamePaths: an I/O failure that reaches a producer names the partition
// and the cause, not the file path on the node.
func TestAuditM5_ErrorsDoNotNamePaths(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, FS: pathErrFS{}, Name: "partition 2 of shop/orders"})
	_, _, err := l.Append(mkBatch(1, 1, 16, 1000), -1)
	if err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ENOSPC", err)
	}
	if strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "partition 2 of shop/orders") {
		t.Fatalf("error %q names the path or not the partition", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(0, 100); err == nil || strings.Contains(err.Error(), dir) {
		t.Fatalf("read of a closed log: %v", err)
	}
	// State files (job definitions, producer ids) go through WriteFileDurable, whose errors
	// reach API clients too.
	missing := filepath.Join(dir, "no-such-dir", "job.json")
	if err := WriteFileDurable(OSFS{}, missing, []byte("{}")); err == nil || strings.Contains(err.Error(), dir) ||
		!errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFileDurable into a missing directory: %v; want ErrNotExist without the path", err)
	}
}
