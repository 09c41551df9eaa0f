package bench

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newCluster starts an in-process fake Kafka cluster on 127.0.0.1, closed with the test.
func newCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func run(t *testing.T, o Options) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, res)
	}
	return res
}

func checkPhase(t *testing.T, name string, p *Phase, records int64, size int, wantLatency bool) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: no result", name)
	}
	if p.Records != records || p.Bytes != records*int64(size) || p.Failed != 0 {
		t.Errorf("%s: %d records, %d bytes, %d failed; want %d records of %d bytes, none failed",
			name, p.Records, p.Bytes, p.Failed, records, size)
	}
	if p.Elapsed <= 0 || p.RecordsPerSec <= 0 || p.MBPerSec <= 0 {
		t.Errorf("%s: elapsed %v, %v records/s, %v MB/s; want positive", name, p.Elapsed, p.RecordsPerSec, p.MBPerSec)
	}
	switch {
	case !wantLatency && p.Latency != nil:
		t.Errorf("%s: unexpected latency %+v", name, p.Latency)
	case wantLatency && (p.Latency == nil || p.Latency.Count != uint64(records)):
		t.Errorf("%s: latency %+v, want one sample per record (%d)", name, p.Latency, records)
	case wantLatency && !(p.Latency.P50 <= p.Latency.P99 && p.Latency.P99 <= p.Latency.P999 && p.Latency.P999 <= p.Latency.Max):
		t.Errorf("%s: percentiles out of order: %+v", name, p.Latency)
	}
}

// The default mode writes the records, then reads back exactly those: a second run on the same
// topic reads its own 2,000 records, not the 4,000 the topic then holds.
func TestBothReadsBackWhatTheRunWrote(t *testing.T) {
	brokers := newCluster(t)
	o := Options{Brokers: brokers, Topic: "bench", Partitions: 4, Records: 2000, RecordSize: 100, Producers: 2, Consumers: 3}
	for i := range 2 {
		res := run(t, o)
		if res.Mode != ModeBoth || res.Partitions != 4 {
			t.Fatalf("run %d: mode %q, %d partitions", i, res.Mode, res.Partitions)
		}
		checkPhase(t, "produce", res.Produce, 2000, 100, true)
		checkPhase(t, "consume", res.Consume, 2000, 100, false)
	}
}

// A consume-only run reads the whole topic as earlier runs left it.
func TestConsumeReadsTheTopicFromItsStart(t *testing.T) {
	brokers := newCluster(t)
	o := Options{Brokers: brokers, Topic: "t", Partitions: 3, Records: 1500, Mode: ModeProduce}
	res := run(t, o)
	checkPhase(t, "produce", res.Produce, 1500, 1024, true)
	if res.Consume != nil {
		t.Fatalf("produce mode consumed: %+v", res.Consume)
	}
	o.Mode, o.Consumers = ModeConsume, 8 // more consumers than partitions
	res = run(t, o)
	checkPhase(t, "consume", res.Consume, 1500, 1024, false)
	if res.Produce != nil {
		t.Fatalf("consume mode produced: %+v", res.Produce)
	}
}

func TestEndToEndMeasuresDeliveryLatency(t *testing.T) {
	brokers := newCluster(t)
	res := run(t, Options{Brokers: brokers, Topic: "e2e", Partitions: 2, Records: 2000, RecordSize: 64, Mode: ModeEndToEnd, Consumers: 2})
	checkPhase(t, "produce", res.Produce, 2000, 64, true)
	checkPhase(t, "consume", res.Consume, 2000, 64, true)
}

func TestAcksAndCompression(t *testing.T) {
	brokers := newCluster(t)
	for _, tc := range []struct{ acks, codec string }{
		{"1", "zstd"}, {"all", "lz4"}, {"all", "snappy"}, {"1", "gzip"}, {"0", "none"},
	} {
		t.Run(tc.acks+"-"+tc.codec, func(t *testing.T) {
			res := run(t, Options{Brokers: brokers, Topic: "c-" + tc.codec, Partitions: 2, Records: 500,
				Acks: tc.acks, Compression: tc.codec, Linger: 5 * time.Millisecond, BatchMaxBytes: 64 << 10, MaxInFlight: 100})
			checkPhase(t, "produce", res.Produce, 500, 1024, true)
			if tc.acks == "0" {
				// Nothing confirms an acks=0 write: the broker may still be appending the last
				// batches when the run reads the end offsets, so the read-back may fall short.
				if c := res.Consume; c == nil || c.Records == 0 || c.Records > 500 || c.Bytes != c.Records*1024 {
					t.Fatalf("consume after acks=0: %+v, want 1 to 500 records", c)
				}
				return
			}
			checkPhase(t, "consume", res.Consume, 500, 1024, false)
		})
	}
}

// A duration-bounded run stops by itself.
func TestDurationBoundsTheProducePhase(t *testing.T) {
	brokers := newCluster(t)
	res := run(t, Options{Brokers: brokers, Topic: "d", Partitions: 1, Duration: 200 * time.Millisecond, RecordSize: 16, Mode: ModeProduce})
	if res.Produce.Records == 0 || res.Produce.Failed != 0 {
		t.Fatalf("produce: %+v", res.Produce)
	}
}

// With a rate the producers keep to their schedule: no more records than rate × duration
// (plus the one scheduled at the start), and each latency counts from its scheduled time.
func TestRatePacesTheProducers(t *testing.T) {
	brokers := newCluster(t)
	const rate, dur = 500.0, 400 * time.Millisecond
	res := run(t, Options{Brokers: brokers, Topic: "r", Partitions: 2, Duration: dur, RecordSize: 16, Mode: ModeProduce,
		Producers: 2, Rate: rate})
	most := int64(rate*dur.Seconds()) + 1
	if res.Produce.Records == 0 || res.Produce.Records > most || res.Produce.Failed != 0 {
		t.Fatalf("produce at %v records/s for %v: %+v; want between 1 and %d records", rate, dur, res.Produce, most)
	}
	checkPhase(t, "produce", res.Produce, res.Produce.Records, 16, true)
}

// Tandem's Kafka endpoint takes an Event Hubs connection string as the SASL PLAIN password.
func TestSASLPlainConnectionString(t *testing.T) {
	const cs = "Endpoint=sb://ns1.example/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=abc="
	brokers := newCluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", ConnectionStringUser, cs))
	o := Options{Brokers: brokers, Topic: "s", Partitions: 2, Records: 300, SASLUser: ConnectionStringUser, SASLPassword: cs}
	res := run(t, o)
	checkPhase(t, "produce", res.Produce, 300, 1024, true)

	o.SASLPassword = cs + "wrong"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Run(ctx, o); err == nil {
		t.Fatal("Run with a wrong password succeeded")
	}
}

func TestMissingTopicWithoutPartitionsIsAnError(t *testing.T) {
	brokers := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Run(ctx, Options{Brokers: brokers, Topic: "absent", Records: 10})
	if err == nil || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("got %v, want an error naming the missing topic", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	ok := Options{Brokers: []string{"127.0.0.1:1"}, Topic: "t"}
	for _, tc := range []struct {
		name   string
		modify func(*Options)
		want   string
	}{
		{"no brokers", func(o *Options) { o.Brokers = nil }, "no brokers"},
		{"no topic", func(o *Options) { o.Topic = "" }, "no topic"},
		{"tiny records", func(o *Options) { o.RecordSize = 4 }, "too small"},
		{"acks", func(o *Options) { o.Acks = "2" }, "unknown acks"},
		{"codec", func(o *Options) { o.Compression = "brotli" }, "unknown compression"},
		{"mode", func(o *Options) { o.Mode = "sideways" }, "unknown mode"},
		{"negative", func(o *Options) { o.Records = -1 }, "negative"},
		{"negative metadata age", func(o *Options) { o.MetadataMinAge = -time.Second }, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.modify(&o)
			_, err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	d, err := ok.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if d.RecordSize != 1024 || d.Acks != "all" || d.Compression != "none" || d.Mode != ModeBoth ||
		d.Producers != 1 || d.Consumers != 1 || d.Duration != 10*time.Second || d.Timeout != d.Duration+2*time.Minute {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestResultPrintsAndEncodes(t *testing.T) {
	r := Result{Mode: ModeBoth, Topic: "bench", Partitions: 8, RecordSize: 1024, Acks: "all", Compression: "none",
		Produce: NewPhase(1000, 1024*1000, time.Second, nil),
		Consume: NewPhase(1000, 1024*1000, 500*time.Millisecond, nil)}
	r.Produce.Latency = &Latency{Count: 1000, Mean: 600 * time.Microsecond, P50: 500 * time.Microsecond,
		P99: 990 * time.Microsecond, P999: 999 * time.Microsecond, Max: 1500 * time.Microsecond}
	s := r.String()
	for _, want := range []string{
		"produce: 1000 records in 1.00s: 1000 records/s, 1.02 MB/s\n",
		"  ack latency: p50 0.500ms, p99 0.990ms, p99.9 0.999ms, max 1.500ms (mean 0.600ms, 1000 samples)\n",
		"consume: 1000 records in 0.50s: 2000 records/s, 2.05 MB/s\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Produce.Latency.P99 != r.Produce.Latency.P99 || back.Consume.MBPerSec != r.Consume.MBPerSec || back.Consume.Latency != nil {
		t.Fatalf("JSON round trip changed the result:\n%s", b)
	}
}
