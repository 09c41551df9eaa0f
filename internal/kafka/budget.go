package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// memBudget bounds the bytes the server holds for clients at once: request frames being
// read or handled, and fetch responses being built and written. It is shared by every
// connection; a caller that finds it full waits a bounded time, then gives up (the
// connection is closed, or a fetch answers with what fits).
type memBudget struct {
	limit int64

	mu struct {
		sync.Mutex
		used int64
		peak int64
		// freed is closed and replaced whenever bytes are released, waking waiters.
		freed chan struct{}
	}
	onChange func(used, peak int64) // metric hook; called with mu held
}

func newMemBudget(limit int64, onChange func(used, peak int64)) *memBudget {
	b := &memBudget{limit: limit, onChange: onChange}
	b.mu.freed = make(chan struct{})
	return b
}

// acquire takes n bytes, waiting up to wait (or until ctx ends) for them to be free.
func (b *memBudget) acquire(ctx context.Context, n int64, wait time.Duration) error {
	_, err := b.acquireUpTo(ctx, n, n, wait)
	return err
}

// acquireUpTo takes as many of want bytes as are free, at least least, waiting up to wait
// for least bytes to be free. It returns the bytes taken.
func (b *memBudget) acquireUpTo(ctx context.Context, want, least int64, wait time.Duration) (int64, error) {
	if want <= 0 {
		return 0, nil
	}
	least = min(max(least, 1), want)
	var timer *time.Timer
	for {
		b.mu.Lock()
		if free := b.limit - b.mu.used; free >= least {
			got := min(free, want)
			b.addLocked(got)
			b.mu.Unlock()
			return got, nil
		}
		freed := b.mu.freed
		b.mu.Unlock()
		if timer == nil {
			if wait <= 0 {
				return 0, b.fullErr(least, wait)
			}
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-freed:
		case <-timer.C:
			return 0, b.fullErr(least, wait)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// force takes n bytes without waiting, even past the limit: for bytes already in memory
// (a fetch's first batch may exceed what the fetch asked for, as in Kafka).
func (b *memBudget) force(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.addLocked(n)
	b.mu.Unlock()
}

func (b *memBudget) addLocked(n int64) {
	b.mu.used += n
	b.mu.peak = max(b.mu.peak, b.mu.used)
	if b.onChange != nil {
		b.onChange(b.mu.used, b.mu.peak)
	}
}

// release returns n bytes and wakes the waiters.
func (b *memBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.mu.used = max(b.mu.used-n, 0) // never below zero, even if a release were doubled
	close(b.mu.freed)
	b.mu.freed = make(chan struct{})
	if b.onChange != nil {
		b.onChange(b.mu.used, b.mu.peak)
	}
	b.mu.Unlock()
}

// usage reports the bytes held now and the most ever held.
func (b *memBudget) usage() (used, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.used, b.mu.peak
}

func (b *memBudget) fullErr(n int64, wait time.Duration) error {
	return errcode.New(errcode.QuotaExceeded,
		"the Kafka listener's memory budget (--kafka-memory-budget=%d bytes) had no room for %d more bytes within %s; "+
			"retry later, or raise --kafka-memory-budget", b.limit, n, wait)
}
