// Command natscmp measures NATS JetStream with the shape `tandem bench --mode both` uses, so the
// two can be compared on one machine: publish fixed-size records to a file-backed stream with
// asynchronous publish acks and a bounded window of unacknowledged messages, then read back
// exactly the messages the run published with an ordered consumer. It prints its result with
// Tandem's own bench.Result, so the lines have the same shape and the same histogram.
//
// It is a separate module so that Tandem's main module never depends on NATS. Group fsync is a
// server option (jetstream { sync_interval: 10ms }); scripts/bench-compare sets it.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tandem-streaming/tandem/internal/bench"
)

type options struct {
	url         string
	stream      string
	recordSize  int
	producers   int
	maxInFlight int
	records     int64
	duration    time.Duration
	timeout     time.Duration
	json        bool
}

func main() {
	var o options
	var output string
	flag.StringVar(&o.url, "url", "nats://127.0.0.1:4222", "NATS server URL")
	flag.StringVar(&o.stream, "stream", "bench", "stream to create (file storage, one replica) and use; its subject is <stream>.data")
	flag.IntVar(&o.recordSize, "record-size", 1024, "bytes of each message (>= 8: the first 8 carry the send time)")
	flag.IntVar(&o.producers, "producers", 1, "concurrent publishers, one connection each")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 4096, "unacknowledged messages each publisher may have before it waits")
	flag.Int64Var(&o.records, "records", 0, "messages to publish (0: publish for --duration)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to publish (ignored when --records is set)")
	flag.DurationVar(&o.timeout, "timeout", 0, "bound on the whole run (0: duration + 2m, or 10m with --records)")
	flag.StringVar(&output, "o", "text", "output format: text or json")
	flag.Parse()
	o.json = output == "json"
	if o.recordSize < 8 || o.producers < 1 || o.maxInFlight < 1 || (output != "text" && output != "json") {
		fmt.Fprintln(os.Stderr, "natscmp: need --record-size >= 8, --producers >= 1, --max-in-flight >= 1 and -o text|json")
		os.Exit(2)
	}
	if o.timeout == 0 {
		o.timeout = 10 * time.Minute
		if o.records == 0 {
			o.timeout = o.duration + 2*time.Minute
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	res, err := run(ctx, o)
	if o.json {
		if b, jerr := res.JSON(); jerr == nil {
			fmt.Println(string(b))
		}
	} else {
		fmt.Print(res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "natscmp:", err)
		os.Exit(1)
	}
}

// run creates the stream if missing, publishes, then reads back what it published.
func run(ctx context.Context, o options) (bench.Result, error) {
	res := bench.Result{Mode: bench.ModeBoth, Topic: o.stream, Partitions: 1, RecordSize: o.recordSize, Acks: "all", Compression: "none"}
	nc, err := nats.Connect(o.url, nats.Name("natscmp-admin"))
	if err != nil {
		return res, fmt.Errorf("connect to %s: %w", o.url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return res, err
	}
	subject := o.stream + ".data"
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: o.stream, Subjects: []string{subject}, Storage: jetstream.FileStorage, Replicas: 1,
	})
	if err != nil {
		return res, fmt.Errorf("create stream %s: %w", o.stream, err)
	}
	before, err := s.Info(ctx)
	if err != nil {
		return res, err
	}
	res.Produce, err = publish(ctx, o, subject)
	if err != nil {
		return res, err
	}
	after, err := s.Info(ctx)
	if err != nil {
		return res, err
	}
	first, last := before.State.LastSeq+1, after.State.LastSeq
	res.Consume, err = consume(ctx, js, o, subject, first, last)
	return res, err
}

// publish runs o.producers publishers, each on its own connection, and measures the time from
// PublishAsync to the ack. Each publisher hands its futures, in order, to a collector goroutine;
// the channel between them is the in-flight window.
func publish(ctx context.Context, o options, subject string) (*bench.Phase, error) {
	var (
		lat     bench.Histogram
		acked   atomic.Int64
		claimed atomic.Int64
		stopped atomic.Bool
		errMu   sync.Mutex
		first   error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		errMu.Lock()
		if first == nil {
			first = err
		}
		errMu.Unlock()
		stopped.Store(true)
	}
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
	began := time.Now()
	var deadline time.Time
	if o.records == 0 {
		deadline = began.Add(o.duration)
	}
	for _, js := range pubs {
		type sent struct {
			at  time.Time
			fut jetstream.PubAckFuture
		}
		window := make(chan sent, o.maxInFlight)
		wg.Go(func() { // collector: ends when the publisher closes window
			for s := range window {
				select {
				case <-s.fut.Ok():
					lat.Record(time.Since(s.at))
					acked.Add(1)
				case err := <-s.fut.Err():
					fail(err)
				case <-ctx.Done():
					fail(ctx.Err())
				}
			}
		})
		wg.Go(func() { // publisher
			defer close(window)
			data := make([]byte, o.recordSize)
			for i := range data[8:] {
				data[8+i] = byte(i*7 + 13)
			}
			for ctx.Err() == nil && !stopped.Load() {
				if o.records > 0 && claimed.Add(1) > o.records {
					return
				}
				now := time.Now()
				if !deadline.IsZero() && now.After(deadline) {
					return
				}
				msg := make([]byte, len(data)) // NATS may hold the slice until it is flushed
				copy(msg, data)
				binary.BigEndian.PutUint64(msg, uint64(now.UnixNano()))
				fut, err := js.PublishAsync(subject, msg)
				if err != nil {
					fail(err)
					return
				}
				window <- sent{now, fut}
			}
		})
	}
	wg.Wait()
	n := acked.Load()
	p := bench.NewPhase(n, n*int64(o.recordSize), time.Since(began), &lat)
	errMu.Lock()
	defer errMu.Unlock()
	if first != nil {
		return p, fmt.Errorf("publish: %w", first)
	}
	return p, nil
}

// consume reads stream sequences first..last with one ordered consumer, the JetStream analogue
// of one Kafka consumer reading a partition from an offset.
func consume(ctx context.Context, js jetstream.JetStream, o options, subject string, first, last uint64) (*bench.Phase, error) {
	if last < first {
		return bench.NewPhase(0, 0, 0, nil), nil
	}
	want := int64(last - first + 1)
	began := time.Now()
	c, err := js.OrderedConsumer(ctx, o.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    first,
	})
	if err != nil {
		return nil, fmt.Errorf("ordered consumer: %w", err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return nil, err
	}
	stopIt := context.AfterFunc(ctx, it.Stop) // a timeout ends a blocked Next
	defer stopIt()
	defer it.Stop()
	var n, bytes int64
	for n < want {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				err = ctx.Err()
			}
			return bench.NewPhase(n, bytes, time.Since(began), nil), fmt.Errorf("consume after %d of %d messages: %w", n, want, err)
		}
		n++
		bytes += int64(len(m.Data()))
	}
	return bench.NewPhase(n, bytes, time.Since(began), nil), nil
}
