package amqp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// budget bounds the bytes of transfer payloads the server holds at once for all connections:
// messages being reassembled, queued for a link's worker or being handled. The reader of a
// connection takes a frame's payload from it before handing the frame on, so a full budget
// stops reading (TCP pushes back on the clients); one connection may hold at most its share,
// so one client cannot take it all; a reader that waits longer than the memory wait gives up
// and its connection is closed (amqp:resource-limit-exceeded), which frees what it held.
type budget struct {
	limit, share int64
	onChange     func(used int64)

	mu    sync.Mutex
	used  int64
	freed chan struct{} // closed and replaced whenever bytes are released
}

func newBudget(limit, share int64, onChange func(int64)) *budget {
	return &budget{limit: limit, share: share, onChange: onChange, freed: make(chan struct{})}
}

// acquire takes n bytes for a connection that holds *held, waiting up to wait (or until ctx
// ends) for them to be free and within the connection's share.
func (b *budget) acquire(ctx context.Context, held *atomic.Int64, n int64, wait time.Duration) error {
	if n <= 0 {
		return nil
	}
	var timer *time.Timer
	for {
		b.mu.Lock()
		h := held.Load()
		if b.used+n <= b.limit && (h == 0 || h+n <= b.share) {
			b.used += n
			held.Add(n)
			b.onChange(b.used)
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-freed:
		case <-timer.C:
			return fmt.Errorf("no room for a %d-byte transfer within %s: the AMQP memory budget (%d bytes, %d per connection) is full; the node is receiving more than it can handle", n, wait, b.limit, b.share)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back n bytes held by a connection.
func (b *budget) release(held *atomic.Int64, n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	held.Add(-n)
	b.onChange(b.used)
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
