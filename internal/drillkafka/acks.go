package drillkafka

import (
	"sync"
	"time"
)

// Acks records what the producer's client saw: every record sent, acknowledged or failed, and
// the pauses between acknowledgements. Safe for concurrent use.
type Acks struct {
	mu       sync.Mutex
	sent     int64
	acked    map[int64]bool
	failed   int64
	firstErr string
	firstAck time.Time
	lastAck  map[int32]time.Time // by partition
	gap      time.Duration
	gapAt    time.Time // when the longest pause began
	gapPart  int32     // and on which partition
	slowest  time.Duration
}

// NewAcks returns an empty record.
func NewAcks() *Acks { return &Acks{acked: map[int64]bool{}, lastAck: map[int32]time.Time{}} }

// Sent counts a record handed to the client.
func (a *Acks) Sent() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent++
}

// Done records the outcome of record seq, handed to the client at sent, answered at now,
// stored in partition part. The pauses are per partition (a partition whose leader died
// waits while the others go on); the clocks start at a partition's first acknowledgement, so
// the client's start (connections, metadata) is no pause.
func (a *Acks) Done(seq int64, part int32, sent, now time.Time, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failed++
		if a.firstErr == "" {
			a.firstErr = err.Error()
		}
		return
	}
	a.acked[seq] = true
	if !a.firstAck.IsZero() && !sent.Before(a.firstAck) && now.Sub(sent) > a.slowest {
		a.slowest = now.Sub(sent)
	}
	if a.firstAck.IsZero() {
		a.firstAck = now
	}
	last, ok := a.lastAck[part]
	if ok && now.Sub(last) > a.gap {
		a.gap, a.gapAt, a.gapPart = now.Sub(last), last, part
	}
	if !ok || now.After(last) {
		a.lastAck[part] = now
	}
}

// Summary is what the client saw and what the read-back found.
type Summary struct {
	Sent       int64         `json:"recordsSent"`
	Acked      int64         `json:"recordsAcknowledged"`
	Failed     int64         `json:"recordsFailed"` // the client gave up on them (must be 0)
	FirstError string        `json:"firstError,omitempty"`
	Gap        time.Duration `json:"-"`
	GapAt      time.Time     `json:"-"`
	GapPart    int32         `json:"clientGapPartition"`
	Slowest    time.Duration `json:"-"`
	Read       int64         `json:"recordsReadBack"`
	Lost       int64         `json:"recordsLost"` // acknowledged, not read back (must be 0)
	Duplicates int64         `json:"recordsReadTwice"`
}

// Summary returns the counts so far.
func (a *Acks) Summary() Summary {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Summary{Sent: a.sent, Acked: int64(len(a.acked)), Failed: a.failed, FirstError: a.firstErr,
		Gap: a.gap, GapAt: a.gapAt, GapPart: a.gapPart, Slowest: a.slowest}
}

// Check compares the acknowledged records with the sequence numbers read back (in any order,
// repeats allowed) and fills in Read, Lost and Duplicates.
func (a *Acks) Check(read []int64) Summary {
	s := a.Summary()
	seen := map[int64]int{}
	for _, seq := range read {
		seen[seq]++
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for seq := range a.acked {
		if seen[seq] == 0 {
			s.Lost++
		}
	}
	for _, n := range seen {
		s.Read++
		if n > 1 {
			s.Duplicates += int64(n - 1)
		}
	}
	return s
}

// Missing reports whether some acknowledged record is not among read.
func (a *Acks) Missing(read map[int64]int) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n int64
	for seq := range a.acked {
		if read[seq] == 0 {
			n++
		}
	}
	return n
}
