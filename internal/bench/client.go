package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// requestTimeout bounds each produce request and record delivery, so a dead broker turns into
// an error instead of an endless retry.
const requestTimeout = 30 * time.Second

// baseOpts are the client options every client of a run shares: seeds and authentication.
func baseOpts(o Options) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID("tandem-bench"),
		kgo.RetryTimeout(requestTimeout),
	}
	if o.MetadataMinAge > 0 {
		opts = append(opts, kgo.MetadataMinAge(o.MetadataMinAge))
	}
	if o.SASLUser != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: o.SASLUser, Pass: o.SASLPassword}.AsMechanism()))
	}
	return opts
}

// producerOpts are the options of one producer client.
func producerOpts(o Options) ([]kgo.Opt, error) {
	acks, err := parseAcks(o.Acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(o.Compression)
	if err != nil {
		return nil, err
	}
	opts := append(baseOpts(o),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.ProducerLinger(o.Linger),
		kgo.ProducerBatchCompression(codec),
		kgo.RecordDeliveryTimeout(requestTimeout),
		kgo.ProduceRequestTimeout(requestTimeout),
	)
	if o.MaxInFlight > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(o.MaxInFlight))
	}
	if o.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(o.BatchMaxBytes)))
	}
	switch acks {
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case 1:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	return opts, nil
}

// parseCompression maps a codec name to franz-go's codec.
func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(s) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("bench: unknown compression %q; use none, gzip, snappy, lz4 or zstd", s)
}

// admin wraps the one metadata client of a run.
type admin struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newAdmin(o Options) (*admin, error) {
	cl, err := kgo.NewClient(baseOpts(o)...)
	if err != nil {
		return nil, fmt.Errorf("bench: admin client: %w", err)
	}
	return &admin{cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (a *admin) close() { a.cl.Close() }

// ensureTopic returns the topic's partition ids, creating the topic first when it is missing
// and o.Partitions > 0.
func (a *admin) ensureTopic(ctx context.Context, o Options) ([]int32, error) {
	parts, err := a.partitions(ctx, o.Topic)
	if err == nil || !errors.Is(err, kerr.UnknownTopicOrPartition) || o.Partitions == 0 {
		return parts, err
	}
	resp, err := a.adm.CreateTopic(ctx, int32(o.Partitions), -1, nil, o.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("bench: create topic %s with %d partitions: %w", o.Topic, o.Partitions, err)
	}
	a.cl.PurgeTopicsFromClient(o.Topic) // forget the cached "unknown topic" answer
	return a.partitions(ctx, o.Topic)
}

// partitions returns the sorted partition ids of topic.
func (a *admin) partitions(ctx context.Context, topic string) ([]int32, error) {
	tds, err := a.adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("bench: metadata for topic %s: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok {
		return nil, fmt.Errorf("bench: topic %s: %w", topic, kerr.UnknownTopicOrPartition)
	}
	if td.Err != nil {
		return nil, fmt.Errorf("bench: topic %s: %w", topic, td.Err)
	}
	ids := make([]int32, 0, len(td.Partitions))
	for p := range td.Partitions {
		ids = append(ids, p)
	}
	slices.Sort(ids)
	return ids, nil
}

// endOffsets returns each partition's next offset to be written.
func (a *admin) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	return a.offsets(ctx, topic, a.adm.ListEndOffsets)
}

// existingRange is the range a consume-only run reads: from the start of each partition to its
// end offset now.
func (a *admin) existingRange(ctx context.Context, topic string) (readRange, error) {
	start, err := a.offsets(ctx, topic, a.adm.ListStartOffsets)
	if err != nil {
		return readRange{}, err
	}
	end, err := a.endOffsets(ctx, topic)
	return readRange{start: start, end: end}, err
}

func (a *admin) offsets(ctx context.Context, topic string,
	list func(context.Context, ...string) (kadm.ListedOffsets, error),
) (map[int32]int64, error) {
	listed, err := list(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("bench: list offsets of %s: %w", topic, err)
	}
	out := make(map[int32]int64)
	for p, lo := range listed[topic] {
		out[p] = lo.Offset
	}
	return out, nil
}
