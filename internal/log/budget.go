package log

import (
	"cmp"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// FileBudget bounds the segment files (one file descriptor each) that the logs sharing it keep
// open. When opening files takes the total over the limit, the least recently used logs that
// are idle at that moment close theirs: each first fsyncs what was appended (so every
// WaitDurable is answered) and keeps all its in-memory state (segments, indexes, offsets), so
// its next read or append only opens the files again, without a rescan.
//
// A log in the middle of an append, a read, an fsync or retention is never closed: eviction
// only try-locks its locks and moves on to the next candidate. The limit is therefore soft:
// it is exceeded by files being opened until their opener has evicted others, and while every
// candidate is busy (the next open tries again). No lock of the budget is held while a log
// opens its files, and none of a log's locks while the budget evicts others.
type FileBudget struct {
	limit int64
	low   int64 // eviction goes down to this, so each eviction round serves several opens
	log   *slog.Logger

	open      atomic.Int64 // segment files open across the logs
	evictions atomic.Int64 // logs whose files were closed to stay within the limit
	lastWarn  atomic.Int64 // clock reading of the last "every log is busy" warning

	mu   sync.Mutex
	logs map[*Log]struct{} // logs whose files are open

	evictMu sync.Mutex // one evicting goroutine at a time; openers over the limit wait for it
}

// NewFileBudget returns a budget of limit open segment files (at least 1).
func NewFileBudget(limit int, logger *slog.Logger) *FileBudget {
	limit = max(limit, 1)
	if logger == nil {
		logger = slog.Default()
	}
	b := &FileBudget{limit: int64(limit), low: int64(limit - limit/16), log: logger, logs: map[*Log]struct{}{}}
	b.lastWarn.Store(-int64(time.Hour))
	return b
}

// Limit is the budget's limit in open segment files.
func (b *FileBudget) Limit() int { return int(b.limit) }

// Open is the number of segment files open now across the logs sharing the budget.
func (b *FileBudget) Open() int { return int(b.open.Load()) }

// Evictions counts the logs whose files were closed to keep within the limit.
func (b *FileBudget) Evictions() int64 { return b.evictions.Load() }

// charge records that l opened (n > 0) or closed (n < 0) files; open says whether l has files
// open afterwards. A nil budget does nothing.
func (b *FileBudget) charge(l *Log, n int, open bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if open {
		b.logs[l] = struct{}{}
	} else {
		delete(b.logs, l)
	}
	b.mu.Unlock()
	b.open.Add(int64(n))
}

// enforce closes the files of the least recently used idle logs other than except while the
// budget is over its limit. The caller holds no lock of any log.
func (b *FileBudget) enforce(except *Log) {
	if b == nil {
		return
	}
	for b.open.Load() > b.limit {
		// Openers over the limit take turns: each waits for the one evicting, so the total
		// exceeds the limit by at most the number of concurrent openers.
		b.evictMu.Lock()
		if b.open.Load() <= b.limit {
			b.evictMu.Unlock()
			return
		}
		released := b.evictRound(except)
		b.evictMu.Unlock()
		if !released {
			b.warnBusy()
			return
		}
	}
}

// evictRound walks the logs from the least recently used, closing idle ones until the total is
// down to the low-water mark. It reports whether it closed any.
func (b *FileBudget) evictRound(except *Log) bool {
	type cand struct {
		l    *Log
		used int64
	}
	b.mu.Lock()
	cands := make([]cand, 0, len(b.logs))
	for l := range b.logs {
		if l != except {
			cands = append(cands, cand{l, l.lastUsed.Load()})
		}
	}
	b.mu.Unlock()
	slices.SortFunc(cands, func(x, y cand) int { return cmp.Compare(x.used, y.used) })
	released := false
	for _, c := range cands {
		if b.open.Load() <= b.low {
			break
		}
		if c.l.release() {
			released = true
			b.evictions.Add(1)
		}
	}
	return released
}

func (b *FileBudget) warnBusy() {
	now := clock()
	last := b.lastWarn.Load()
	if now-last < int64(time.Minute) || !b.lastWarn.CompareAndSwap(last, now) {
		return
	}
	b.log.Warn("open partition files exceed their budget and every open partition is busy; "+
		"raise the budget (and the fd limit, ulimit -n) if this persists",
		"open_files", b.open.Load(), "budget", b.limit)
}

var clockStart = time.Now()

// clock is a monotonic reading in nanoseconds, for least-recently-used order.
func clock() int64 { return int64(time.Since(clockStart)) }

// touch marks the log used now, for the budget's least-recently-used order.
func (l *Log) touch() {
	if l.opts.Budget != nil {
		l.lastUsed.Store(clock())
	}
}

// release closes the log's files if it is idle, after fsyncing everything appended, and keeps
// its in-memory state; the next read or append reopens them. It reports whether it did.
func (l *Log) release() bool {
	if !l.appendMu.TryLock() {
		return false
	}
	defer l.appendMu.Unlock()
	l.mu.RLock()
	open, closed := l.files.open, l.mu.closed
	l.mu.RUnlock()
	if !open || closed {
		return false
	}
	l.stopSyncerLocked()
	// Everything appended becomes durable (or the log fails, which WaitDurable reports), so no
	// later fsync needs the files: syncUpTo finds nothing pending until the next append, and
	// that append reopens them first.
	_ = l.syncUpTo(math.MaxInt64)
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if !l.filesMu.TryLock() {
		return false // a reader is at work
	}
	defer l.filesMu.Unlock()
	l.mu.Lock()
	_ = l.closeFiles()
	n := l.files.count
	l.files.open, l.files.count = false, 0
	l.mu.Unlock()
	l.opts.Budget.charge(l, -n, false)
	return true
}

// reopen opens the segment files again if the budget closed them. The caller holds no lock
// but appendMu, or none.
func (l *Log) reopen() error {
	l.filesMu.Lock()
	defer l.filesMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.openFilesLocked()
}

// openFilesLocked opens every segment file if they are closed. The caller holds filesMu and mu
// write-locked.
func (l *Log) openFilesLocked() error {
	if l.mu.closed {
		return l.errClosed()
	}
	if l.files.open {
		return nil
	}
	files := make([]File, 0, len(l.mu.segs))
	for _, s := range l.mu.segs {
		f, err := l.fs.OpenFile(s.path, os.O_RDWR, 0)
		if err != nil {
			for _, f := range files {
				_ = f.Close()
			}
			l.log.Error("reopening a log segment failed", "segment", s.base, "err", err)
			return errcode.New(errcode.Unavailable, "%s: reopening segment %d failed: %w; check the disk and the fd limit (ulimit -n)",
				l.opts.Name, s.base, pathless(err))
		}
		files = append(files, f)
	}
	for i, s := range l.mu.segs {
		s.f = files[i]
	}
	l.files.open, l.files.count = true, len(files)
	l.opts.Budget.charge(l, len(files), true)
	return nil
}

// rlockFiles read-locks filesMu with the segment files open, reopening them if the budget
// closed them. On success the caller read-unlocks filesMu.
func (l *Log) rlockFiles() error {
	l.touch()
	for {
		l.filesMu.RLock()
		if l.files.open {
			return nil
		}
		l.filesMu.RUnlock()
		if err := l.reopen(); err != nil {
			return err
		}
		l.opts.Budget.enforce(l)
	}
}

// FilesOpen reports whether the log's segment files are open (a FileBudget may have closed them).
func (l *Log) FilesOpen() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.files.open
}
