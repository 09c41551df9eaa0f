package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// headerSize is the prefix of every record value: the send time, Unix nanoseconds, big endian.
// The rest of the value is incompressible filler, so compression codecs are measured at their
// worst rather than flattered by zeros.
const headerSize = 8

// producerRun is the shared state of one produce phase: the producer goroutines claim records
// from it, and franz-go's promise callbacks report acknowledgements to it.
type producerRun struct {
	o        Options
	deadline time.Time // zero when the phase is bounded by Records
	filler   []byte

	began   time.Time
	claimed atomic.Int64 // records handed to Produce (Records mode)
	slots   atomic.Int64 // records scheduled (Rate mode)
	acked   atomic.Int64
	failed  atomic.Int64
	stopped atomic.Bool // set by the first failure: producers stop at once

	mu struct {
		sync.Mutex
		err error // first failure
	}

	lat  Histogram
	gaps *gapTracker
	pool sync.Pool // *kgo.Record with a RecordSize value, reused once acknowledged
}

// produce runs the produce phase: o.Producers clients, each fed by one goroutine, until the
// record budget or the duration is used up, then flushes and waits for every acknowledgement.
func produce(ctx context.Context, o Options) (*Phase, error) {
	opts, err := producerOpts(o)
	if err != nil {
		return nil, err
	}
	clients := make([]*kgo.Client, 0, o.Producers)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for range o.Producers {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("bench: producer client: %w", err)
		}
		clients = append(clients, cl)
	}

	r := &producerRun{o: o, filler: make([]byte, o.RecordSize)}
	fill(r.filler)
	r.pool.New = func() any { return &kgo.Record{Value: make([]byte, o.RecordSize)} }

	began := time.Now()
	r.began = began
	r.gaps = newGapTracker(began)
	if o.Records == 0 {
		r.deadline = began.Add(o.Duration)
	}
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() {
			r.loop(ctx, cl)
			if err := cl.Flush(ctx); err != nil {
				r.fail(fmt.Errorf("flush: %w", err))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	for _, cl := range clients {
		cl.Close() // fails what a timed-out flush left behind, so the counts below are final
	}
	clients = nil
	acked := r.acked.Load()
	p := NewPhase(acked, acked*int64(o.RecordSize), elapsed, &r.lat)
	p.Failed = r.failed.Load()
	p.AckGaps = r.gaps.gaps()
	if err := r.firstErr(); err != nil {
		return p, fmt.Errorf("bench: produce to %s: %d records failed; first failure: %w", o.Topic, p.Failed, err)
	}
	return p, nil
}

// loop produces records on cl until the phase is over. Produce blocks while the client's buffer
// is full, which is what bounds the number of records in flight.
func (r *producerRun) loop(ctx context.Context, cl *kgo.Client) {
	for ctx.Err() == nil && !r.stopped.Load() {
		if r.o.Records > 0 && r.claimed.Add(1) > r.o.Records {
			return
		}
		now := time.Now()
		if r.o.Rate > 0 {
			at := r.slot()
			if !r.deadline.IsZero() && at.After(r.deadline) {
				return
			}
			if wait := time.Until(at); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
			now = at // latency counts from the scheduled time
		}
		if !r.deadline.IsZero() && now.After(r.deadline) {
			return
		}
		rec := r.pool.Get().(*kgo.Record)
		copy(rec.Value[headerSize:], r.filler[headerSize:])
		binary.BigEndian.PutUint64(rec.Value, uint64(now.UnixNano()))
		rec.Timestamp = now // carries the monotonic reading that promise measures against
		cl.Produce(ctx, rec, r.promise)
	}
}

// slot is the scheduled send time of the next record at o.Rate records per second.
func (r *producerRun) slot() time.Time {
	n := r.slots.Add(1) - 1
	return r.began.Add(time.Duration(float64(n) / r.o.Rate * float64(time.Second)))
}

// promise is franz-go's callback for each record; it may run on several goroutines at once.
func (r *producerRun) promise(rec *kgo.Record, err error) {
	if err != nil {
		r.failed.Add(1)
		r.fail(err)
	} else {
		now := time.Now()
		r.lat.Record(now.Sub(rec.Timestamp))
		r.gaps.ack(rec.Partition, now)
		r.acked.Add(1)
	}
	*rec = kgo.Record{Value: rec.Value[:r.o.RecordSize]}
	r.pool.Put(rec)
}

func (r *producerRun) fail(err error) {
	r.mu.Lock()
	if r.mu.err == nil {
		r.mu.err = err
	}
	r.mu.Unlock()
	r.stopped.Store(true)
}

func (r *producerRun) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.err
}

// fill writes pseudo-random bytes into b; the seed is fixed so runs are comparable.
func fill(b []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(rng.Uint32())
	}
}
