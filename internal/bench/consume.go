package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readRange is what a consume phase reads: per partition, from start (inclusive) to end
// (exclusive). A nil end means the range is still being written; the tail supplies it later.
type readRange struct {
	start map[int32]int64
	end   map[int32]int64
}

// tailEnd tells tailing consumers where to stop once the producers have finished.
type tailEnd struct {
	ready chan struct{}
	end   map[int32]int64 // written once, before ready is closed
}

func newTailEnd() *tailEnd { return &tailEnd{ready: make(chan struct{})} }

func (t *tailEnd) set(end map[int32]int64) {
	t.end = end
	close(t.ready)
}

// consumeRun is the shared state of one consume phase.
type consumeRun struct {
	o       Options
	r       readRange
	tail    *tailEnd   // nil when r.end is known up front
	lat     *Histogram // end-to-end latency; nil when not measured
	records atomic.Int64
	bytes   atomic.Int64
}

// consume reads r with up to o.Consumers clients, partitions split round-robin among them,
// and returns when every partition has been read to its end. With a tail, consumers start
// before the end is known and record end-to-end latency.
func consume(ctx context.Context, o Options, r readRange, tail *tailEnd) (*Phase, error) {
	parts := slices.Sorted(maps.Keys(r.start))
	if tail == nil {
		parts = slices.DeleteFunc(parts, func(p int32) bool { return r.start[p] >= r.end[p] })
	}
	c := &consumeRun{o: o, r: r, tail: tail}
	if tail != nil {
		c.lat = new(Histogram)
	}
	n := min(o.Consumers, len(parts))
	errs := make([]error, n)
	began := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		var mine []int32
		for j := i; j < len(parts); j += n {
			mine = append(mine, parts[j])
		}
		wg.Go(func() { errs[i] = c.read(ctx, mine) })
	}
	wg.Wait()
	p := NewPhase(c.records.Load(), c.bytes.Load(), time.Since(began), c.lat)
	if err := errors.Join(errs...); err != nil {
		return p, fmt.Errorf("bench: consume from %s: %w", o.Topic, err)
	}
	return p, nil
}

// read consumes parts with one client until each is read to its end.
func (c *consumeRun) read(ctx context.Context, parts []int32) error {
	offsets := make(map[int32]kgo.Offset, len(parts))
	next := make(map[int32]int64, len(parts))
	for _, p := range parts {
		offsets[p] = kgo.NewOffset().At(c.r.start[p])
		next[p] = c.r.start[p]
	}
	cl, err := kgo.NewClient(append(baseOpts(c.o),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.o.Topic: offsets}),
	)...)
	if err != nil {
		return fmt.Errorf("consumer client: %w", err)
	}
	defer cl.Close()

	end := c.r.end
	pollCtx := ctx
	if end == nil {
		var release func()
		pollCtx, release = c.tail.pollContext(ctx)
		defer release()
	}
	for {
		if end == nil {
			select {
			case <-c.tail.ready:
				end, pollCtx = c.tail.end, ctx
			default:
			}
		}
		if end != nil && reached(next, end) {
			return nil
		}
		fetches := cl.PollFetches(pollCtx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped after %d records (%w)", c.records.Load(), err)
		}
		var fatal error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) && !kerr.IsRetriable(err) && fatal == nil {
				fatal = err
			}
		})
		if fatal != nil {
			return fatal
		}
		c.account(fetches, end, next)
	}
}

// account counts the records of fetches below end (all of them while end is unknown), moves
// next past them and records their end-to-end latency when measured.
func (c *consumeRun) account(fetches kgo.Fetches, end, next map[int32]int64) {
	var records, bytes int64
	fetches.EachRecord(func(rec *kgo.Record) {
		if end != nil && rec.Offset >= end[rec.Partition] {
			return
		}
		next[rec.Partition] = rec.Offset + 1
		records++
		bytes += int64(len(rec.Value))
		if c.lat != nil && len(rec.Value) >= headerSize {
			sent := int64(binary.BigEndian.Uint64(rec.Value))
			c.lat.Record(time.Duration(time.Now().UnixNano() - sent))
		}
	})
	c.records.Add(records)
	c.bytes.Add(bytes)
}

// pollContext returns a context that ends with ctx or as soon as the end is known, so that a
// consumer blocked polling an idle partition wakes up to check whether it is done. release
// ends it and waits for the goroutine that watches the tail.
func (t *tailEnd) pollContext(ctx context.Context) (pollCtx context.Context, release func()) {
	pollCtx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-t.ready:
		case <-pollCtx.Done():
		}
		cancel()
	}()
	return pollCtx, func() {
		cancel()
		<-watched
	}
}

// reached reports whether every partition in next has been read up to its end offset.
func reached(next, end map[int32]int64) bool {
	for p, n := range next {
		if n < end[p] {
			return false
		}
	}
	return true
}
