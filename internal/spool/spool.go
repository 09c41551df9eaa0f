// Package spool is a durable, bounded, on-disk FIFO of opaque records. A dual-write producer
// keeps in one the events for a region it cannot reach, and replays them in order when the
// region returns: Append adds records (durably, all or none), Peek reads the oldest, Ack drops
// them once the region took them.
//
// A Spool owns one directory and everything in it: segment files of records named by their first
// sequence number (00000000000000000001.spool), a head file with the last acknowledged sequence
// number, and a LOCK file that keeps a second process (or a second Spool) out. It must not touch
// anything outside that directory, and it knows nothing of what the records hold, of regions or
// of networks. Open recovers after a crash: it drops a torn final write (a partial record, a bad
// CRC at the end, or an Append cut short) and refuses damage anywhere else.
//
// A Spool is safe for concurrent use; one mutex serialises all calls, disk I/O included.
package spool

import (
	"cmp"
	"os"
	"path/filepath"
	"sync"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Defaults of Options.
const (
	DefaultMaxBytes     = 1 << 30
	DefaultSegmentBytes = 64 << 20
)

// Options bound a Spool.
type Options struct {
	MaxBytes     int64 // bound on the bytes of records held (payload bytes + per-record framing); 0 = 1 GiB default
	SegmentBytes int64 // size at which a new segment file starts; 0 = 64 MiB default
}

// Record is one spooled record. Seq is 1, 2, 3, … assigned at Append, never reused, and
// survives a reopen.
type Record struct {
	Seq  uint64
	Data []byte
}

// Spool is an open spool directory.
type Spool struct {
	dir  string
	opts Options
	lock *os.File // holds the flock on LOCK until Close

	mu struct {
		sync.Mutex
		segs    []segment // oldest first; they hold records acked+1 … next-1
		active  *os.File  // the last of segs, open for appending; nil when segs is empty
		acked   uint64    // last acknowledged sequence number
		next    uint64    // sequence number the next Append gives
		headOff int64     // offset in segs[0] of record acked+1
		bytes   int64     // bytes of records acked+1 … next-1, framing included
		hint    position  // where the record after the last Peek begins
		failed  error     // set when an Append could not be undone; Appends fail with it
		closed  bool
	}
}

// position is where record seq begins: at off in the segment whose first record is segFirst.
type position struct {
	seq      uint64
	segFirst uint64
	off      int64
}

// Open opens the spool in dir, creating dir if it is missing, and recovers it (see the package
// doc). Damage that is not a torn final write is an errcode.CorruptData error naming the file and
// byte offset; a directory another Spool holds open is an errcode.Conflict error.
func Open(dir string, o Options) (*Spool, error) {
	if o.MaxBytes < 0 || o.SegmentBytes < 0 {
		return nil, errcode.New(errcode.InvalidArgument,
			"spool %s: MaxBytes %d and SegmentBytes %d must not be negative; use 0 for the defaults", dir, o.MaxBytes, o.SegmentBytes)
	}
	o.MaxBytes = cmp.Or(o.MaxBytes, DefaultMaxBytes)
	o.SegmentBytes = cmp.Or(o.SegmentBytes, DefaultSegmentBytes)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, ioError(dir, "creating the directory", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, opts: o, lock: lock}
	if err := s.recover(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return s, nil
}

// Len is the number of records held (appended and not acknowledged).
func (s *Spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.mu.next - 1 - s.mu.acked)
}

// Bytes is the bytes of the records held, framing included: what counts toward MaxBytes.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.bytes
}

// Close closes the spool's files and releases its directory. Later calls fail; a second Close
// returns nil.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil
	}
	s.mu.closed = true
	var err error
	if s.mu.active != nil {
		err = s.mu.active.Close()
		s.mu.active = nil
	}
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return ioError(s.dir, "closing", err)
	}
	return nil
}

// checkOpenLocked returns the error of a call on a closed spool.
func (s *Spool) checkOpenLocked() error {
	if s.mu.closed {
		return errcode.New(errcode.Unavailable, "spool %s is closed; open it again", s.dir)
	}
	return nil
}

// path is the path of a file in the spool's directory.
func (s *Spool) path(name string) string { return filepath.Join(s.dir, name) }

// ioError reports a failed disk operation on the spool in dir.
func ioError(dir, op string, err error) error {
	return errcode.New(errcode.Unavailable,
		"spool %s: %s failed: %w; check that the disk is writable and has space, then retry", dir, op, err)
}
