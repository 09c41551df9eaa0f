// Package bench is the load generator behind `tandem bench`. It drives any Kafka-protocol
// endpoint (Tandem, Kafka, Redpanda, franz-go's kfake) with franz-go clients: a produce phase
// that measures throughput and the latency from Produce to acknowledgement, and a consume phase
// that reads back exactly the records the run wrote and measures read throughput (and, when the
// two phases overlap, end-to-end latency from the send time carried in each record's value).
//
// It owns only client-side measurement: it imports nothing of Tandem's broker and must not, so
// the same numbers can be taken against any other Kafka-compatible system. Every loop is bounded
// by a record count, a duration and a run timeout, and stops by itself.
package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Mode selects which phases a run performs.
type Mode string

const (
	// ModeProduce writes records and measures produce throughput and ack latency.
	ModeProduce Mode = "produce"
	// ModeConsume reads the topic from its start to the end offsets seen when the run began
	// (what an earlier produce run wrote) and measures consume throughput.
	ModeConsume Mode = "consume"
	// ModeBoth runs a produce phase, then a consume phase that reads back exactly the records
	// the produce phase wrote. The phases do not overlap, so each throughput is measured alone.
	ModeBoth Mode = "both"
	// ModeEndToEnd runs producers and consumers together: consumers tail the records as they are
	// written and record end-to-end latency (send to receipt). Consume throughput is then capped
	// by the produce rate.
	ModeEndToEnd Mode = "e2e"
)

// ConnectionStringUser is the SASL PLAIN user name with which a Kafka client presents an Event
// Hubs connection string as its password, as Tandem's and Event Hubs' Kafka endpoints expect.
const ConnectionStringUser = "$ConnectionString"

// Options configure a run. Zero values take the defaults documented on each field.
type Options struct {
	Brokers []string // seed brokers, host:port; required
	Topic   string   // required

	// Partitions, when > 0, creates the topic with this many partitions if it is missing
	// (replication factor: the broker's default). When 0 the topic must already exist.
	Partitions int

	RecordSize    int           // bytes of each record's value, >= 8; default 1024
	BatchMaxBytes int           // producer batch size cap; 0 keeps franz-go's default (1 MB)
	Linger        time.Duration // how long a producer batch waits to fill; 0 sends at once
	Acks          string        // "0", "1" or "all"; default "all"
	Compression   string        // "none", "gzip", "snappy", "lz4" or "zstd"; default "none"

	Producers int // concurrent producer clients; default 1
	// MaxInFlight caps the records each producer has handed to its client and not yet seen
	// acknowledged; Produce blocks at the cap. Ack latency includes the time a record queues
	// behind this window, so compare systems with equal windows. 0 keeps franz-go's default
	// (50,000).
	MaxInFlight int
	// Rate, when > 0, paces the producers together at this many records per second, each
	// record sent at its scheduled time; latency is then measured from that time, so a
	// broker that falls behind is charged for the wait (no coordinated omission). 0 produces
	// as fast as the window allows.
	Rate      float64
	Consumers int // concurrent consumer clients (partitions are split among them); default 1
	// MetadataMinAge, when > 0, is the shortest time between two metadata refreshes of a
	// client (franz-go's default is 5s; the Java client refreshes after retry.backoff.ms,
	// 100ms): after a leader dies, how soon a producer can learn the new one.
	MetadataMinAge time.Duration

	// Records, when > 0, stops producing after this many records (Duration is then ignored).
	// Otherwise producers run for Duration (default 10s).
	Records  int64
	Duration time.Duration

	// Timeout bounds the whole run, flushing and reading back included. Default: Duration plus
	// two minutes, or ten minutes when Records is set.
	Timeout time.Duration

	Mode Mode // default ModeBoth

	// SASL PLAIN credentials; empty SASLUser means no SASL. To connect to Tandem with a
	// connection string, use ConnectionStringUser and the connection string as password.
	// TLS is not supported.
	SASLUser     string
	SASLPassword string

	// HTTP, when set, is the base URL of a Tandem node's HTTP API (http://host:port): the run
	// produces through its send API instead of Kafka (http.go), HTTPBatch events per request
	// (default DefaultHTTPBatch), as anonymous dev access or, with a connection string as
	// SASLPassword, with a SAS token of it. Only ModeProduce.
	HTTP      string
	HTTPBatch int
}

// withDefaults returns o with defaults filled in, or an error naming the first invalid field.
func (o Options) withDefaults() (Options, error) {
	if len(o.Brokers) == 0 {
		return o, errors.New("bench: no brokers given; pass at least one host:port")
	}
	if o.Topic == "" {
		return o, errors.New("bench: no topic given")
	}
	if o.RecordSize == 0 {
		o.RecordSize = 1024
	}
	if o.RecordSize < headerSize {
		return o, fmt.Errorf("bench: record size %d is too small; each record carries an %d-byte send time", o.RecordSize, headerSize)
	}
	if o.Acks == "" {
		o.Acks = "all"
	}
	if _, err := parseAcks(o.Acks); err != nil {
		return o, err
	}
	if o.Compression == "" {
		o.Compression = "none"
	}
	if _, err := parseCompression(o.Compression); err != nil {
		return o, err
	}
	if o.Mode == "" {
		o.Mode = ModeBoth
	}
	switch o.Mode {
	case ModeProduce, ModeConsume, ModeBoth, ModeEndToEnd:
	default:
		return o, fmt.Errorf("bench: unknown mode %q; use produce, consume, both or e2e", o.Mode)
	}
	o.Producers = max(o.Producers, 1)
	o.Consumers = max(o.Consumers, 1)
	if o.Partitions < 0 || o.Records < 0 || o.Duration < 0 || o.Timeout < 0 || o.Linger < 0 || o.BatchMaxBytes < 0 || o.MaxInFlight < 0 || o.Rate < 0 || o.MetadataMinAge < 0 {
		return o, errors.New("bench: partitions, records, duration, timeout, linger, batch bytes, max in flight, rate and metadata min age must not be negative")
	}
	if o.Records == 0 && o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
		if o.Records == 0 {
			o.Timeout = o.Duration + 2*time.Minute
		}
	}
	return o, nil
}

// Run performs one benchmark run and returns what it measured. On error the Result holds what
// was measured before the failure.
func Run(ctx context.Context, opts Options) (Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	res := Result{Mode: o.Mode, Topic: o.Topic, RecordSize: o.RecordSize, Acks: o.Acks, Compression: o.Compression}
	if o.HTTP != "" {
		res.Acks, res.Compression = "http", "none"
		return runHTTP(ctx, o, res)
	}
	adm, err := newAdmin(o)
	if err != nil {
		return res, err
	}
	defer adm.close()

	parts, err := adm.ensureTopic(ctx, o)
	if err != nil {
		return res, err
	}
	res.Partitions = len(parts)

	switch o.Mode {
	case ModeProduce:
		res.Produce, err = produce(ctx, o)
	case ModeConsume:
		var r readRange
		if r, err = adm.existingRange(ctx, o.Topic); err == nil {
			res.Consume, err = consume(ctx, o, r, nil)
		}
	case ModeBoth:
		res.Produce, res.Consume, err = produceThenConsume(ctx, o, adm)
	case ModeEndToEnd:
		res.Produce, res.Consume, err = produceWithTail(ctx, o, adm)
	}
	return res, err
}

// produceThenConsume runs the two phases one after the other; the consume phase reads the
// offsets the produce phase added.
func produceThenConsume(ctx context.Context, o Options, adm *admin) (*Phase, *Phase, error) {
	start, err := adm.endOffsets(ctx, o.Topic)
	if err != nil {
		return nil, nil, err
	}
	p, err := produce(ctx, o)
	if err != nil {
		return p, nil, err
	}
	end, err := adm.endOffsets(ctx, o.Topic)
	if err != nil {
		return p, nil, err
	}
	c, err := consume(ctx, o, readRange{start: start, end: end}, nil)
	return p, c, err
}

// produceWithTail runs producers and tailing consumers together. The consumers learn where to
// stop once the producers have flushed.
func produceWithTail(ctx context.Context, o Options, adm *admin) (*Phase, *Phase, error) {
	start, err := adm.endOffsets(ctx, o.Topic)
	if err != nil {
		return nil, nil, err
	}
	tail := newTailEnd()
	type consumed struct {
		p   *Phase
		err error
	}
	done := make(chan consumed, 1)
	cctx, cancelConsume := context.WithCancel(ctx)
	defer cancelConsume()
	go func() {
		c, err := consume(cctx, o, readRange{start: start}, tail)
		done <- consumed{c, err}
	}()

	p, perr := produce(ctx, o)
	var end map[int32]int64
	if perr == nil {
		end, perr = adm.endOffsets(ctx, o.Topic)
	}
	if perr != nil {
		cancelConsume()
		<-done
		return p, nil, perr
	}
	tail.set(end)
	c := <-done
	return p, c.p, c.err
}

// parseAcks maps the user's spelling of acks to the Kafka value.
func parseAcks(s string) (int16, error) {
	switch strings.ToLower(s) {
	case "0", "none":
		return 0, nil
	case "1", "leader":
		return 1, nil
	case "all", "-1":
		return -1, nil
	}
	return 0, fmt.Errorf("bench: unknown acks %q; use 0, 1 or all", s)
}
