package bench

import (
	"sort"
	"sync"
	"time"
)

// gapTracker records, per partition, the longest time between two consecutive acknowledgements
// (the first measured from the start of the phase). Under steady load it is the time a
// partition could not take writes: a leader failover shows up as one long gap on each
// partition the dead node led. Safe for concurrent use by franz-go's promise callbacks.
type gapTracker struct {
	mu    sync.Mutex
	start time.Time
	parts map[int32]*partitionGap
}

type partitionGap struct {
	last time.Time
	max  time.Duration
}

func newGapTracker(start time.Time) *gapTracker {
	return &gapTracker{start: start, parts: make(map[int32]*partitionGap)}
}

// ack notes an acknowledgement of a record of partition p at time at.
func (g *gapTracker) ack(p int32, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	pg := g.parts[p]
	if pg == nil {
		pg = &partitionGap{last: g.start}
		g.parts[p] = pg
	}
	if d := at.Sub(pg.last); d > pg.max {
		pg.max = d
	}
	if at.After(pg.last) {
		pg.last = at
	}
}

// gaps returns each acknowledged partition's longest gap, ordered by partition.
func (g *gapTracker) gaps() []AckGap {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]AckGap, 0, len(g.parts))
	for p, pg := range g.parts {
		out = append(out, AckGap{Partition: p, Max: pg.max})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// AckGap is one partition's longest time without an acknowledgement during a produce phase.
type AckGap struct {
	Partition int32         `json:"partition"`
	Max       time.Duration `json:"max_ns"`
}

// LongestAckGap returns the longest of gaps (zero AckGap when there are none).
func LongestAckGap(gaps []AckGap) AckGap {
	var best AckGap
	for _, g := range gaps {
		if g.Max > best.Max {
			best = g
		}
	}
	return best
}
