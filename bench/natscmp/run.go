package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tandem-streaming/tandem/internal/bench"
)

// streamName is the name of the stream that holds partition i.
func streamName(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// subject is the one subject of a stream.
func subject(stream string) string { return stream + ".data" }

// span is what a run read back from one stream: sequences first..last.
type span struct {
	stream      string
	first, last uint64
}

// run creates the streams if missing, publishes, then reads back what it published.
func run(ctx context.Context, o options) (bench.Result, error) {
	res := bench.Result{Mode: bench.ModeBoth, Topic: o.stream, Partitions: o.partitions, RecordSize: o.recordSize, Acks: "all", Compression: "none"}
	nc, err := nats.Connect(o.url, nats.Name("natscmp-admin"))
	if err != nil {
		return res, fmt.Errorf("connect to %s: %w", o.url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return res, err
	}
	streams := make([]jetstream.Stream, o.partitions)
	subjects := make([]string, o.partitions)
	before := make([]uint64, o.partitions)
	for i := range streams {
		name := streamName(o.stream, i)
		subjects[i] = subject(name)
		streams[i], err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: name, Subjects: []string{subjects[i]}, Storage: jetstream.FileStorage, Replicas: 1,
		})
		if err != nil {
			return res, fmt.Errorf("create stream %s: %w", name, err)
		}
		if before[i], err = lastSeq(ctx, streams[i]); err != nil {
			return res, err
		}
	}
	res.Produce, err = publish(ctx, o, subjects)
	if err != nil {
		return res, err
	}
	spans := make([]span, o.partitions)
	for i, s := range streams {
		last, err := lastSeq(ctx, s)
		if err != nil {
			return res, err
		}
		spans[i] = span{stream: streamName(o.stream, i), first: before[i] + 1, last: last}
	}
	res.Consume, err = consume(ctx, js, spans)
	return res, err
}

func lastSeq(ctx context.Context, s jetstream.Stream) (uint64, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// publishRun is the shared state of one publish phase.
type publishRun struct {
	o        options
	deadline time.Time // zero when the phase is bounded by o.records
	lat      bench.Histogram
	acked    atomic.Int64
	claimed  atomic.Int64
	stopped  atomic.Bool

	mu    sync.Mutex
	first error
}

func (r *publishRun) fail(err error) {
	r.mu.Lock()
	if r.first == nil {
		r.first = err
	}
	r.mu.Unlock()
	r.stopped.Store(true)
}

// sent is one published message whose ack is awaited.
type sent struct {
	at  time.Time
	fut jetstream.PubAckFuture
}

// publish runs o.producers publishers, each on its own connection, and measures the time from
// PublishAsync to the ack. A publisher sends message j to subjects[j % len(subjects)] and holds
// at most o.maxInFlight unacknowledged messages over all streams. Its futures go, per stream and
// in order, to one collector goroutine per stream (a stream acknowledges in order, so waiting in
// order measures each ack when it arrives).
func publish(ctx context.Context, o options, subjects []string) (*bench.Phase, error) {
	// Connect every publisher before any starts, so a failed connection leaves nothing running.
	pubs := make([]jetstream.JetStream, o.producers)
	for i := range pubs {
		nc, err := nats.Connect(o.url, nats.Name(fmt.Sprintf("natscmp-pub-%d", i)))
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", o.url, err)
		}
		defer nc.Close()
		// The library's own cap is set above ours so it never stalls first.
		if pubs[i], err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*o.maxInFlight+1)); err != nil {
			return nil, err
		}
	}
	r := &publishRun{o: o}
	began := time.Now()
	if o.records == 0 {
		r.deadline = began.Add(o.duration)
	}
	var wg sync.WaitGroup
	for p, js := range pubs {
		slots := make(chan struct{}, o.maxInFlight) // the in-flight window
		windows := make([]chan sent, len(subjects))
		for k := range windows {
			windows[k] = make(chan sent, o.maxInFlight)
			wg.Go(func() { r.collect(ctx, windows[k], slots) }) // ends when the publisher closes it
		}
		wg.Go(func() {
			defer func() {
				for _, w := range windows {
					close(w)
				}
			}()
			r.publisher(ctx, js, p, subjects, windows, slots)
		})
	}
	wg.Wait()
	n := r.acked.Load()
	ph := bench.NewPhase(n, n*int64(o.recordSize), time.Since(began), &r.lat)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first != nil {
		return ph, fmt.Errorf("publish: %w", r.first)
	}
	return ph, nil
}

// publisher publishes until the phase is over, starting at stream p so that publishers do not
// move over the streams in step.
func (r *publishRun) publisher(ctx context.Context, js jetstream.JetStream, p int, subjects []string, windows []chan sent, slots chan struct{}) {
	data := make([]byte, r.o.recordSize)
	for i := range data[8:] {
		data[8+i] = byte(i*7 + 13)
	}
	for j := p; ctx.Err() == nil && !r.stopped.Load(); j++ {
		if r.o.records > 0 && r.claimed.Add(1) > r.o.records {
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		now := time.Now()
		if !r.deadline.IsZero() && now.After(r.deadline) {
			return
		}
		k := j % len(subjects)
		msg := make([]byte, len(data)) // NATS may hold the slice until it is flushed
		copy(msg, data)
		binary.BigEndian.PutUint64(msg, uint64(now.UnixNano()))
		fut, err := js.PublishAsync(subjects[k], msg)
		if err != nil {
			r.fail(err)
			return
		}
		windows[k] <- sent{now, fut}
	}
}

// collect waits for the acks of one stream's messages in order and frees their window slots.
func (r *publishRun) collect(ctx context.Context, window <-chan sent, slots <-chan struct{}) {
	for s := range window {
		select {
		case <-s.fut.Ok():
			r.lat.Record(time.Since(s.at))
			r.acked.Add(1)
		case err := <-s.fut.Err():
			r.fail(err)
		case <-ctx.Done():
			r.fail(ctx.Err())
		}
		<-slots
	}
}

// consume reads every span with one ordered consumer per stream, all at once, the JetStream
// analogue of one Kafka consumer reading each partition from an offset.
func consume(ctx context.Context, js jetstream.JetStream, spans []span) (*bench.Phase, error) {
	var n, bytes atomic.Int64
	errs := make([]error, len(spans))
	began := time.Now()
	var wg sync.WaitGroup
	for i, sp := range spans {
		if sp.last < sp.first {
			continue
		}
		wg.Go(func() { errs[i] = consumeStream(ctx, js, sp, &n, &bytes) })
	}
	wg.Wait()
	p := bench.NewPhase(n.Load(), bytes.Load(), time.Since(began), nil)
	return p, errors.Join(errs...)
}

func consumeStream(ctx context.Context, js jetstream.JetStream, sp span, n, bytes *atomic.Int64) error {
	c, err := js.OrderedConsumer(ctx, sp.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject(sp.stream)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    sp.first,
	})
	if err != nil {
		return fmt.Errorf("ordered consumer on %s: %w", sp.stream, err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return fmt.Errorf("consume %s: %w", sp.stream, err)
	}
	stopIt := context.AfterFunc(ctx, it.Stop) // a timeout ends a blocked Next
	defer stopIt()
	defer it.Stop()
	want := sp.last - sp.first + 1
	for got := uint64(0); got < want; got++ {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				err = ctx.Err()
			}
			return fmt.Errorf("consume %s after %d of %d messages: %w", sp.stream, got, want, err)
		}
		n.Add(1)
		bytes.Add(int64(len(m.Data())))
	}
	return nil
}
