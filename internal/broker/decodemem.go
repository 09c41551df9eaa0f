package broker

import (
	"context"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// DefaultDecodeMemory is the decode memory of a node when Options.DecodeMemory is 0: room
// for two batches of batch.MaxDecompressedSize, or thirty 8 MiB zstd windows, at once.
const DefaultDecodeMemory = 256 << 20

// decodeMemory bounds the bytes the node's event readers (HTTP receives, jobs) hold for
// decoding beyond one event: zstd windows and snappy batches decoded whole (batch.Memory).
// A reservation waits while the bytes are in use; one larger than the whole limit waits
// until nothing else is held and then runs alone, so such a batch stays readable.
type decodeMemory struct {
	limit int64
	mu    struct {
		sync.Mutex
		used, peak int64
		freed      chan struct{} // closed and replaced whenever bytes are released
	}
}

func newDecodeMemory(limit int64) *decodeMemory {
	m := &decodeMemory{limit: limit}
	m.mu.freed = make(chan struct{})
	return m
}

// reserve takes n bytes (at most the limit), waiting up to wait (0: until ctx ends).
func (m *decodeMemory) reserve(ctx context.Context, n int64, wait time.Duration) (func(), error) {
	n = min(n, m.limit)
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		m.mu.Lock()
		if m.mu.used+n <= m.limit {
			m.mu.used += n
			m.mu.peak = max(m.mu.peak, m.mu.used)
			m.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { m.release(n) }) }, nil
		}
		freed := m.mu.freed
		m.mu.Unlock()
		select {
		case <-freed:
		case <-timeout:
			return nil, errcode.New(errcode.Unavailable,
				"the node's decode memory (--receive-memory-budget=%d bytes) had no room for %d bytes within %s: other receives are decoding large zstd windows or snappy batches; retry shortly, or raise --receive-memory-budget",
				m.limit, n, wait)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (m *decodeMemory) release(n int64) {
	m.mu.Lock()
	m.mu.used -= n
	close(m.mu.freed)
	m.mu.freed = make(chan struct{})
	m.mu.Unlock()
}

// DecodeMemoryUsage reports the decode memory held now and the most ever held.
func (b *Broker) DecodeMemoryUsage() (used, peak int64) {
	m := b.decodeMem
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.used, m.mu.peak
}

// readMemory is the batch.Memory of one read: the broker's decode memory, with the read's
// context and wait.
type readMemory struct {
	ctx  context.Context
	m    *decodeMemory
	wait time.Duration
}

func (r readMemory) Reserve(n int64) (func(), error) { return r.m.reserve(r.ctx, n, r.wait) }
