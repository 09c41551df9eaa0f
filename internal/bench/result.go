package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Result is what one run measured. Throughput counts record values only (RecordSize bytes
// each), not keys, headers or protocol overhead; MB is 10^6 bytes.
type Result struct {
	Mode        Mode   `json:"mode"`
	Topic       string `json:"topic"`
	Partitions  int    `json:"partitions"`
	RecordSize  int    `json:"record_size"`
	Acks        string `json:"acks"`
	Compression string `json:"compression"`
	Produce     *Phase `json:"produce,omitempty"` // nil when the run did not produce
	Consume     *Phase `json:"consume,omitempty"` // nil when the run did not consume
}

// Phase is the measurement of one phase, produce or consume.
type Phase struct {
	Records       int64         `json:"records"`
	Bytes         int64         `json:"bytes"`
	Failed        int64         `json:"failed,omitempty"` // produce: records whose delivery failed
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"`
	MBPerSec      float64       `json:"mb_per_sec"`
	// Latency is, for produce, from the Produce call to the acknowledgement; for consume, from
	// the send time in the record to its receipt (ModeEndToEnd only; nil otherwise, because a
	// record read after the produce phase ended measures the wait, not the delivery).
	Latency *Latency `json:"latency,omitempty"`
	// AckGaps (produce only) is each partition's longest time between two acknowledgements,
	// the first counted from the start of the phase: under steady load (Rate), the time a
	// partition took no writes, such as a leader failover.
	AckGaps []AckGap `json:"ack_gaps,omitempty"`
}

// Latency summarises a latency histogram. Percentiles carry the histogram's relative error
// (below 1%); Mean and Max are exact.
type Latency struct {
	Count uint64        `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

// NewPhase builds a Phase from a record count, their total bytes, the elapsed time and an
// optional latency histogram (nil, or empty, for none). Other load generators that print in
// this package's format (bench/natscmp) use it too.
func NewPhase(records, bytes int64, elapsed time.Duration, lat *Histogram) *Phase {
	p := &Phase{Records: records, Bytes: bytes, Elapsed: elapsed}
	p.RecordsPerSec = perSecond(records, elapsed)
	p.MBPerSec = perSecond(p.Bytes, elapsed) / 1e6
	if lat != nil && lat.Count() > 0 {
		p.Latency = lat.Summary()
	}
	return p
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// String prints the result for people. The "produce:" and "consume:" lines keep a fixed shape
// (scripts/bench-compare reads the MB/s figure from them).
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "topic %s: %d partitions, %d-byte records, acks=%s, compression=%s, mode %s\n",
		r.Topic, r.Partitions, r.RecordSize, r.Acks, r.Compression, r.Mode)
	if r.Produce != nil {
		r.Produce.write(&b, "produce", "ack latency")
	}
	if r.Consume != nil {
		r.Consume.write(&b, "consume", "end-to-end latency")
	}
	return b.String()
}

func (p *Phase) write(b *strings.Builder, name, latName string) {
	fmt.Fprintf(b, "%s: %d records in %.2fs: %.0f records/s, %.2f MB/s", name, p.Records, p.Elapsed.Seconds(), p.RecordsPerSec, p.MBPerSec)
	if p.Failed > 0 {
		fmt.Fprintf(b, " (%d failed)", p.Failed)
	}
	b.WriteByte('\n')
	if l := p.Latency; l != nil {
		fmt.Fprintf(b, "  %s: p50 %s, p99 %s, p99.9 %s, max %s (mean %s, %d samples)\n",
			latName, ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max), ms(l.Mean), l.Count)
	}
	if g := LongestAckGap(p.AckGaps); g.Max > 0 {
		fmt.Fprintf(b, "  longest gap between acknowledgements: %s (partition %d)\n", ms(g.Max), g.Partition)
	}
}

// ms formats d in milliseconds with three decimals, the unit latency is usually read in.
func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

// JSON returns the result as indented JSON, for `-o json`.
func (r Result) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
