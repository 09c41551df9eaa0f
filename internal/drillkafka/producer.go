package drillkafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Config says where the workload goes.
type Config struct {
	Brokers    []string // bootstrap: host:port of any nodes of either region
	ConnString string   // the SASL PLAIN password of user $ConnectionString (the alias's)
	Topic      string   // the event hub
	Run        string   // marks this run's records (a topic may hold earlier ones)
	Rate       int      // records per second
}

// MetadataMinAge is how soon the workload's clients ask for Metadata again after an error
// (franz-go's default is 5s): a client that is sent to another node learns of a new leader
// within this.
const MetadataMinAge = 500 * time.Millisecond

func (c Config) client(opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.MetadataMinAge(MetadataMinAge),
		kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: c.ConnString}.AsMechanism())}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating a Kafka client for %s: %w", strings.Join(c.Brokers, ","), err)
	}
	return cl, nil
}

// Producer sends Rate records per second until stopped.
type Producer struct {
	cfg    Config
	cl     *kgo.Client
	acks   *Acks
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts sending; Stop ends it.
func Start(ctx context.Context, cfg Config) (*Producer, error) {
	if cfg.Rate <= 0 {
		return nil, errors.New("drillkafka: the rate must be positive")
	}
	cl, err := cfg.client(kgo.DefaultProduceTopic(cfg.Topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return nil, err
	}
	p := &Producer{cfg: cfg, cl: cl, acks: NewAcks(), done: make(chan struct{})}
	ctx, p.cancel = context.WithCancel(ctx)
	go func() {
		defer close(p.done)
		p.run(ctx)
	}()
	return p, nil
}

// Acks is the record of what the client saw.
func (p *Producer) Acks() *Acks { return p.acks }

// run hands the client every 10 ms the records due by then.
func (p *Producer) run(ctx context.Context) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var seq int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * float64(p.cfg.Rate))
		for ; seq < due; seq++ {
			n, sent := seq+1, time.Now()
			r := &kgo.Record{Key: []byte("d" + strconv.FormatInt(n%10, 10)), Value: []byte(p.cfg.Run + " " + strconv.FormatInt(n, 10))}
			p.acks.Sent()
			p.cl.Produce(context.WithoutCancel(ctx), r, func(r *kgo.Record, err error) { p.acks.Done(n, r.Partition, sent, time.Now(), err) })
		}
	}
}

// Stop stops sending and waits (within ctx) for the answers to what was sent.
func (p *Producer) Stop(ctx context.Context) error {
	p.cancel()
	<-p.done
	defer p.cl.Close()
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("waiting for the producer's last acknowledgements: %w", err)
	}
	return nil
}

// ReadBack reads the topic from the start until every record acks acknowledged is found (or
// ctx ends), and returns the sequence numbers of this run's records read, repeats included.
func ReadBack(ctx context.Context, cfg Config, acks *Acks) ([]int64, error) {
	cl, err := cfg.client(kgo.ConsumeTopics(cfg.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []int64
	seen := map[int64]int{}
	prefix := cfg.Run + " "
	quiet := 0 // polls that found nothing new after everything was found
	for quiet < 2 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return out, fmt.Errorf("reading %s back: %d acknowledged records still missing: %w", cfg.Topic, acks.Missing(seen), context.Cause(ctx))
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			v, ok := strings.CutPrefix(string(r.Value), prefix)
			if !ok {
				return
			}
			if seq, err := strconv.ParseInt(v, 10, 64); err == nil {
				out = append(out, seq)
				seen[seq]++
				n++
			}
		})
		if n == 0 && acks.Missing(seen) == 0 {
			quiet++
		}
	}
	return out, nil
}
