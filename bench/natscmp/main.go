// Command natscmp measures NATS JetStream with the shape `tandem bench --mode both` uses, so the
// two can be compared on one machine: publish fixed-size records with asynchronous publish acks
// and a bounded window of unacknowledged messages, then read back exactly the messages the run
// published with ordered consumers. It prints its result with Tandem's own bench.Result, so the
// lines have the same shape and the same histogram.
//
// A JetStream stream is one ordered log, the analogue of one partition, so --partitions N
// creates N file-backed streams (<stream>-0 … <stream>-N-1, subject <stream>-i.data, one
// replica each). Each publisher sends its messages round-robin over the streams, and the read
// back runs one ordered consumer per stream, all at once.
//
// It is a separate module so that Tandem's main module never depends on NATS. Durability is a
// server option, not a client one: jetstream { sync_interval: 10ms } acknowledges a message
// before the fsync that covers it (the fsync runs on a timer), jetstream { sync_interval:
// always } acknowledges after it. scripts/bench-compare runs both.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	url         string
	stream      string // stream name prefix
	partitions  int    // streams, one per partition
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
	flag.StringVar(&o.stream, "stream", "bench", "stream name prefix: the run creates (file storage, one replica) and uses <stream>-0 … <stream>-N-1, subjects <stream>-i.data")
	flag.IntVar(&o.partitions, "partitions", 1, "streams to spread the messages over, one per partition (a stream is one ordered log)")
	flag.IntVar(&o.recordSize, "record-size", 1024, "bytes of each message (>= 8: the first 8 carry the send time)")
	flag.IntVar(&o.producers, "producers", 1, "concurrent publishers, one connection each")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 4096, "unacknowledged messages each publisher may have, over all streams, before it waits")
	flag.Int64Var(&o.records, "records", 0, "messages to publish (0: publish for --duration)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to publish (ignored when --records is set)")
	flag.DurationVar(&o.timeout, "timeout", 0, "bound on the whole run (0: duration + 2m, or 10m with --records)")
	flag.StringVar(&output, "o", "text", "output format: text or json")
	flag.Parse()
	o.json = output == "json"
	if err := o.check(output); err != nil {
		fmt.Fprintln(os.Stderr, "natscmp:", err)
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

// check says which option is out of range, if any.
func (o options) check(output string) error {
	switch {
	case o.recordSize < 8:
		return fmt.Errorf("--record-size %d is too small: each message carries an 8-byte send time", o.recordSize)
	case o.partitions < 1:
		return fmt.Errorf("--partitions %d: need at least one stream", o.partitions)
	case o.producers < 1 || o.maxInFlight < 1:
		return fmt.Errorf("--producers and --max-in-flight must be at least 1 (got %d and %d)", o.producers, o.maxInFlight)
	case o.records < 0 || o.duration < 0 || o.timeout < 0:
		return fmt.Errorf("--records, --duration and --timeout must not be negative")
	case output != "text" && output != "json":
		return fmt.Errorf("-o %q: use text or json", output)
	}
	return nil
}
