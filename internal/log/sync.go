package log

import (
	"context"
	"math"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// fail puts the log in the failed state after an I/O error and returns the error every later
// Append and WaitDurable gets. Nothing after the durable offset is claimed durable again.
func (l *Log) fail(op string, cause error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.failed == nil {
		l.mu.failed = errcode.New(errcode.Unavailable,
			"%s: %s failed: %w; the log takes no more writes and offsets from %d on may not be durable; "+
				"free disk space or replace the disk, then reopen the partition", l.opts.Name, op, pathless(cause), l.mu.durable)
		l.log.Error("partition log failed", "op", op, "err", cause, "durable_offset", l.mu.durable)
		l.broadcastLocked()
	}
	return l.mu.failed
}

func (l *Log) broadcastLocked() {
	close(l.mu.durCh)
	l.mu.durCh = make(chan struct{})
}

func (l *Log) advanceDurable(off int64) {
	l.mu.Lock()
	if off > l.mu.durable {
		l.mu.durable = off
		l.broadcastLocked()
	}
	l.mu.Unlock()
}

// syncUpTo fsyncs the active segment unless every offset below target is already durable.
func (l *Log) syncUpTo(target int64) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.RLock()
	durable, end, failed, closed := l.mu.durable, l.mu.end, l.mu.failed, l.mu.closed
	seg := l.mu.segs[len(l.mu.segs)-1]
	pending := l.unsynced.Load()
	l.mu.RUnlock()
	switch {
	case durable >= min(target, end) && pending == 0, durable >= target:
		return nil
	case failed != nil:
		return failed
	case closed:
		return l.errClosed()
	}
	if err := seg.f.Sync(); err != nil {
		return l.fail("fsync", err)
	}
	l.unsynced.Add(-pending)
	l.advanceDurable(end)
	return nil
}

// Sync fsyncs everything appended so far.
func (l *Log) Sync() error { return l.syncUpTo(math.MaxInt64) }

// DurableOffset is the offset below which every record is fsynced.
func (l *Log) DurableOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.durable
}

// WaitDurable blocks until every record with an offset below offset is fsynced, the log fails
// (an errcode.Unavailable error naming the cause), the log closes, or ctx ends.
func (l *Log) WaitDurable(ctx context.Context, offset int64) error {
	for {
		l.mu.RLock()
		durable, failed, closed, ch := l.mu.durable, l.mu.failed, l.mu.closed, l.mu.durCh
		l.mu.RUnlock()
		switch {
		case durable >= offset:
			return nil
		case failed != nil:
			return failed
		case closed:
			return l.errClosed()
		}
		select {
		case <-ctx.Done():
			return errcode.New(errcode.Timeout,
				"waiting for offset %d of %s to become durable: %w (durable up to %d)", offset, l.opts.Name, ctx.Err(), durable)
		case <-ch:
		}
	}
}

// startSyncerLocked starts the group-commit goroutine of FsyncInterval and FsyncBytes unless
// it runs. The caller holds appendMu.
func (l *Log) startSyncerLocked() {
	if l.opts.Fsync.Mode == FsyncAlways || l.syncer.done != nil {
		return
	}
	l.syncer.stop, l.syncer.done = make(chan struct{}), make(chan struct{})
	go l.runSyncer(l.syncer.stop, l.syncer.done)
}

// stopSyncerLocked stops the group-commit goroutine and waits for it. The caller holds
// appendMu and syncs what is left.
func (l *Log) stopSyncerLocked() {
	if l.syncer.done == nil {
		return
	}
	close(l.syncer.stop)
	<-l.syncer.done
	l.syncer.stop, l.syncer.done = nil, nil
}

// runSyncer is the group-commit goroutine of FsyncInterval and FsyncBytes; it runs until stop
// is closed.
func (l *Log) runSyncer(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var lastSync time.Time
	for {
		select {
		case <-stop:
			return
		case <-l.kick:
		}
		deadline := lastSync.Add(l.opts.Fsync.Interval)
		if l.opts.Fsync.Mode == FsyncBytes {
			deadline = time.Now().Add(l.opts.Fsync.Interval)
		}
		for !l.syncDue(deadline) {
			timer.Reset(time.Until(deadline))
			select {
			case <-stop:
				return
			case <-timer.C:
			case <-l.kick:
			}
		}
		lastSync = time.Now()
		_ = l.syncUpTo(math.MaxInt64) // a failure is recorded in the log's failed state
	}
}

func (l *Log) syncDue(deadline time.Time) bool {
	if l.opts.Fsync.Mode == FsyncBytes && l.unsynced.Load() >= l.opts.Fsync.Bytes {
		return true
	}
	return !time.Now().Before(deadline)
}
