// Package log owns one partition's segmented log on disk: segment files of Kafka v2 record
// batches stored verbatim, their sparse offset and time indexes, crash recovery (truncating torn
// or corrupt tails), group-commit fsync, reads by offset and time, truncation and retention.
//
// It knows nothing of topics, producers, consumer groups or protocols, and must not import the
// broker or protocol packages; the batch byte layout belongs to internal/batch. The append step
// is deterministic given the log's state and its arguments (no clock), so a consensus layer can
// apply committed batches through it. The clock is used only by retention.
//
// Open recovers by scanning the active segment (CRC-checking every batch) and trusting the
// indexes of older ones; after a clean close (clean.go) it trusts the active segment's indexes
// too and checks only the bytes after the last index entry.
//
// A Log may share a FileBudget with other logs: when the segment files open across them exceed
// it, idle logs close their files (after an fsync) and keep their in-memory state, and reopen
// the files on their next use. Files are created private to the node's user (0600, directories
// 0700): event data is tenant data.
//
// Error messages name a log by Options.Name, never by its path, since they can reach clients;
// paths go to the server log.
//
// Lock order: appendMu, then syncMu, then filesMu, then mu; a FileBudget's lock is a leaf.
package log

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// FsyncMode says when appended data is fsynced.
type FsyncMode int

const (
	// FsyncInterval fsyncs at most once per Interval while there is unsynced data (group commit).
	FsyncInterval FsyncMode = iota
	// FsyncBytes fsyncs when Bytes unsynced bytes have accumulated, and in any case at most
	// Interval (default 1s) after data became dirty, so WaitDurable never waits forever.
	FsyncBytes
	// FsyncAlways fsyncs in Append before it returns; concurrent appends share fsyncs.
	FsyncAlways
)

// FsyncPolicy configures durability.
type FsyncPolicy struct {
	Mode     FsyncMode
	Interval time.Duration
	Bytes    int64
}

// Options configures a Log. Zero values take the documented defaults.
type Options struct {
	Dir                string
	FS                 FS    // default OSFS
	SegmentBytes       int64 // default 128 MiB, at most 2 GiB-1
	IndexIntervalBytes int   // default 4096
	Fsync              FsyncPolicy
	RetentionTime      time.Duration    // 0 keeps data forever
	RetentionBytes     int64            // 0 means unlimited
	Now                func() time.Time // used only by retention; default time.Now
	Logger             *slog.Logger
	// Name is what error messages call the log (e.g. "partition 3 of shop/orders"); default
	// "partition log". Never a path: errors can reach clients.
	Name string
	// Budget, if set, bounds the segment files open across the logs that share it.
	Budget *FileBudget
}

const (
	defaultSegmentBytes  = 128 << 20
	defaultIndexInterval = 4096
	defaultFsyncInterval = 10 * time.Millisecond
	defaultBytesMaxDelay = time.Second
)

func (o *Options) setDefaults() {
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = defaultSegmentBytes
	}
	o.SegmentBytes = min(o.SegmentBytes, math.MaxInt32)
	if o.IndexIntervalBytes <= 0 {
		o.IndexIntervalBytes = defaultIndexInterval
	}
	if o.Fsync.Interval <= 0 {
		o.Fsync.Interval = defaultFsyncInterval
		if o.Fsync.Mode == FsyncBytes {
			o.Fsync.Interval = defaultBytesMaxDelay
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Name == "" {
		o.Name = "partition log"
	}
}

// Log is one partition's log. All methods are safe for concurrent use.
type Log struct {
	opts Options
	fs   FS
	log  *slog.Logger

	appendMu sync.Mutex   // serialises writers: Append, TruncateTo, retention, Close
	syncMu   sync.Mutex   // held while fsyncing the active segment
	filesMu  sync.RWMutex // read-locked while reading files; write-locked to close, delete or shrink them

	mu struct {
		sync.RWMutex
		segs    []*segment // by base offset; the last one is active
		end     int64
		durable int64         // every offset below is fsynced
		durCh   chan struct{} // closed and replaced when durable, failed or closed change
		failed  error
		closed  bool
	}
	unsynced atomic.Int64 // bytes appended but not yet fsynced

	// files says whether the segment files are open (a FileBudget may close them while the log
	// is idle). open is written with filesMu and mu write-locked, count with mu write-locked.
	files struct {
		open  bool
		count int // segment files open, as charged to the budget
	}
	lastUsed atomic.Int64 // budget clock reading of the last read or append, for LRU eviction

	kick chan struct{} // wakes the syncer; capacity 1
	// syncer is the running group-commit goroutine, if any; guarded by appendMu. It starts
	// at the first append after Open or a reopen and stops when the files close.
	syncer struct {
		stop chan struct{}
		done chan struct{} // closed when the syncer exits; nil without a syncer
	}
}

// Open opens or creates the log in opts.Dir, recovering from a crash: the active segment is
// scanned, its torn or corrupt tail truncated, and its indexes rebuilt.
func Open(opts Options) (*Log, error) {
	opts.setDefaults()
	if opts.Dir == "" {
		return nil, errcode.New(errcode.InvalidArgument, "log directory is empty; set Options.Dir")
	}
	l := &Log{opts: opts, fs: opts.FS, log: opts.Logger.With("dir", opts.Dir), kick: make(chan struct{}, 1)}
	l.mu.durCh = make(chan struct{})
	if err := l.fs.MkdirAll(opts.Dir, dirPerm); err != nil {
		l.log.Error("creating log directory failed", "err", err)
		return nil, fmt.Errorf("create the directory of %s: %w", opts.Name, pathless(err))
	}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, err
	}
	last := l.mu.segs[len(l.mu.segs)-1]
	// What a crashed process wrote may still be only in the page cache: make it durable.
	if err := last.f.Sync(); err != nil {
		l.closeFiles()
		return nil, errcode.New(errcode.Unavailable, "%s: fsync of segment %d failed: %w; check the disk", opts.Name, last.base, pathless(err))
	}
	l.mu.end = last.next
	l.mu.durable = l.mu.end
	l.files.open, l.files.count = true, len(l.mu.segs)
	l.touch()
	l.opts.Budget.charge(l, l.files.count, true)
	l.opts.Budget.enforce(l)
	return l, nil
}

// recover loads the segments in the directory.
func (l *Log) recover() error {
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	clean, isClean, err := l.takeCleanMark()
	if err != nil {
		return err
	}
	if len(bases) == 0 {
		seg, err := l.createSegment(0)
		if err != nil {
			return err
		}
		l.mu.segs = []*segment{seg}
		return nil
	}
	for i, base := range bases {
		active := i == len(bases)-1
		seg, err := l.openSegment(base, active, active && isClean && clean.base == base, clean.size)
		if err != nil {
			return err
		}
		if i > 0 && l.mu.segs[i-1].next != base {
			_ = seg.f.Close()
			l.log.Error("log segments are not contiguous", "segment", bases[i-1], "next_segment", base)
			return errcode.New(errcode.CorruptData,
				"%s: segment %d ends at offset %d but the next segment starts at %d; offsets must be contiguous, "+
					"restore the missing segment or move the later ones away (the server log names the directory)",
				l.opts.Name, bases[i-1], l.mu.segs[i-1].next, base)
		}
		l.mu.segs = append(l.mu.segs, seg)
	}
	return nil
}

// listSegments returns the base offsets of the .log files, removing leftover temporary files
// and indexes without a segment.
func (l *Log) listSegments() ([]int64, error) {
	entries, err := l.fs.ReadDir(l.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("list the directory of %s: %w", l.opts.Name, pathless(err))
	}
	logs := map[int64]bool{}
	var others []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if base, ok := parseSegmentName(name, logSuffix); ok {
			logs[base] = true
			continue
		}
		others = append(others, name)
	}
	for _, name := range others {
		base, isIdx := parseSegmentName(name, indexSuffix)
		if !isIdx {
			base, isIdx = parseSegmentName(name, timeIndexSuffix)
		}
		if strings.HasSuffix(name, tmpSuffix) || (isIdx && !logs[base]) {
			if err := l.fs.Remove(filepath.Join(l.opts.Dir, name)); err != nil {
				return nil, fmt.Errorf("remove stale file %s of %s: %w", name, l.opts.Name, pathless(err))
			}
		}
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	slices.Sort(bases)
	return bases, nil
}

func parseSegmentName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	return base, err == nil && base >= 0
}

func (l *Log) createSegment(base int64) (*segment, error) {
	f, err := l.fs.OpenFile(segmentName(l.opts.Dir, base, logSuffix), os.O_CREATE|os.O_EXCL|os.O_RDWR, filePerm)
	if err != nil {
		return nil, fmt.Errorf("create segment %d of %s: %w", base, l.opts.Name, pathless(err))
	}
	if err := l.fs.SyncDir(l.opts.Dir); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sync the directory of %s: %w", l.opts.Name, pathless(err))
	}
	return newSegment(l.opts.Dir, base, f), nil
}

// openSegment opens and recovers one segment. The active segment is scanned, unless the
// clean-close mark names it (clean) with its size (cleanSize); older ones and a cleanly closed
// active one trust their indexes if sane and scan only after the last index entry.
func (l *Log) openSegment(base int64, active, clean bool, cleanSize int64) (*segment, error) {
	name := segmentName(l.opts.Dir, base, logSuffix)
	f, err := l.fs.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment %d of %s: %w", base, l.opts.Name, pathless(err))
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stat segment %d of %s: %w", base, l.opts.Name, pathless(err))
	}
	seg := newSegment(l.opts.Dir, base, f)
	if (!active || (clean && st.Size() == cleanSize)) && l.loadIndexes(seg, st.Size()) {
		return seg, nil
	}
	*seg = *newSegment(l.opts.Dir, base, f)
	err = seg.scan(0, st.Size(), l.opts.IndexIntervalBytes)
	var bad *errBadBatch
	switch {
	case err == nil:
		return seg, nil
	case !errors.As(err, &bad):
		_ = f.Close()
		return nil, fmt.Errorf("read segment %d of %s: %w", base, l.opts.Name, pathless(err))
	case !active:
		_ = f.Close()
		l.log.Error("log segment is corrupt", "segment", base, "reason", bad)
		return nil, errcode.New(errcode.CorruptData,
			"%s: segment %d is corrupt %s; it is not the last segment, so this is disk damage rather than "+
				"a torn write: restore the partition from a replica", l.opts.Name, base, bad)
	}
	dropped := st.Size() - seg.size
	l.log.Warn("truncating torn or corrupt log tail", "segment", base, "position", seg.size,
		"bytes_dropped", dropped, "reason", bad.reason)
	if err := f.Truncate(seg.size); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("truncate torn tail of segment %d of %s: %w", base, l.opts.Name, pathless(err))
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sync segment %d of %s after truncating its tail: %w", base, l.opts.Name, pathless(err))
	}
	return seg, nil
}

// loadIndexes fills seg from its index files and a scan after the last entry, reporting false
// (and leaving seg partly filled) if the files are missing, insane or disagree with the log.
func (l *Log) loadIndexes(seg *segment, fileSize int64) bool {
	idx, err1 := readWholeFile(l.fs, segmentName(l.opts.Dir, seg.base, indexSuffix))
	tidx, err2 := readWholeFile(l.fs, segmentName(l.opts.Dir, seg.base, timeIndexSuffix))
	if err1 != nil || err2 != nil {
		return false
	}
	index, times, ok := decodeIndexes(idx, tidx, fileSize)
	if !ok {
		l.log.Warn("rebuilding insane segment indexes", "segment", seg.base)
		return false
	}
	pos := int64(0)
	if len(index) > 0 {
		e := index[len(index)-1]
		h, err := readHeaderAt(seg.f, int64(e.pos))
		if err != nil || h.BaseOffset != seg.base+int64(e.rel) {
			l.log.Warn("rebuilding segment indexes that disagree with the log", "segment", seg.base)
			return false
		}
		pos, seg.next = int64(e.pos), h.BaseOffset
	}
	seg.index, seg.times = index, times
	if len(times) > 0 {
		seg.maxTS = times[len(times)-1].ts
	}
	seg.bytesSinceIndex = 0
	seg.size = pos
	return seg.scan(pos, fileSize, l.opts.IndexIntervalBytes) == nil && seg.size == fileSize
}

// Close stops the syncer, fsyncs and closes the files. Later calls return nil.
func (l *Log) Close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	closed := l.mu.closed
	l.mu.RUnlock()
	if closed {
		return nil
	}
	l.stopSyncerLocked()
	err := l.syncUpTo(math.MaxInt64)
	if err == nil {
		l.writeCleanMarkLocked()
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.filesMu.Lock()
	defer l.filesMu.Unlock()
	l.mu.Lock()
	l.mu.closed = true
	l.broadcastLocked()
	open, n := l.files.open, l.files.count
	if open {
		if cerr := l.closeFiles(); err == nil {
			err = cerr
		}
		l.files.open, l.files.count = false, 0
	}
	l.mu.Unlock()
	if open {
		l.opts.Budget.charge(l, -n, false)
	}
	return err
}

func (l *Log) closeFiles() error {
	var err error
	for _, s := range l.mu.segs {
		if cerr := s.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close segment %d of %s: %w", s.base, l.opts.Name, pathless(cerr))
		}
	}
	return err
}

func (l *Log) errClosed() error {
	return errcode.New(errcode.Unavailable, "%s is closed; reopen it", l.opts.Name)
}

// StartOffset is the first offset still in the log.
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.segs[0].base
}

// EndOffset is the offset the next appended record will get.
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.end
}

// Size is the number of bytes of batches on disk.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.mu.segs {
		n += s.size
	}
	return n
}

// segmentForLocked returns the segment holding offset (the last with base <= offset).
func (l *Log) segmentForLocked(offset int64) (int, *segment) {
	i, found := slices.BinarySearchFunc(l.mu.segs, offset, func(s *segment, off int64) int { return cmp.Compare(s.base, off) })
	if !found {
		i--
	}
	return i, l.mu.segs[max(i, 0)]
}

// ActiveBase is the base offset of the active (last) segment: it changes when the log rolls
// to a new segment, which a caller may use to checkpoint state derived from the log.
func (l *Log) ActiveBase() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.segs[len(l.mu.segs)-1].base
}
