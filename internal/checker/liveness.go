package checker

import (
	"fmt"
	"slices"
	"time"
)

// FaultFigure is the client-observed unavailability of one fault: how long after the fault
// started producers had a send acknowledged again.
type FaultFigure struct {
	Fault  string    `json:"fault"`
	Start  time.Time `json:"start"`
	Healed time.Time `json:"healed"`
	// FirstAck is when the first send counted as "after the fault" was acknowledged: the
	// first one acknowledged at or after the heal, or, if earlier, one sent after the fault
	// started and acknowledged (the fault did not stop producers). Zero if none was.
	FirstAck time.Time `json:"firstAck,omitzero"`
	// Unavailable is FirstAck - Start: the client-observed unavailability.
	Unavailable time.Duration `json:"unavailable"`
	// AfterHeal is FirstAck - Healed, or 0 when producers did not wait for the heal: how
	// long clients took to recover once the fault was gone.
	AfterHeal time.Duration `json:"afterHeal"`
	// LongestGap is the longest time between two acknowledgements of one partition, next to
	// each other in time, that spans part of the fault (the later one at or after its start,
	// the earlier one before its heal): the unavailability clients saw on the partition
	// the fault hurt most. GapPartition is that partition. A fault that stops one partition's
	// leader shows here even while the other partitions keep acknowledging.
	LongestGap   time.Duration `json:"longestGap"`
	GapPartition int32         `json:"gapPartition"`
}

// Recovered reports whether a send was acknowledged after the fault.
func (f FaultFigure) Recovered() bool { return !f.FirstAck.IsZero() }

func (f FaultFigure) String() string {
	if !f.Recovered() {
		return fmt.Sprintf("fault %-12s held %v: no send acknowledged afterwards", f.Fault, f.Healed.Sub(f.Start).Round(time.Millisecond))
	}
	return fmt.Sprintf("fault %-12s held %v: producers unavailable %v (%v after the heal); longest gap between acknowledgements %v (partition %d)", f.Fault,
		f.Healed.Sub(f.Start).Round(time.Millisecond), f.Unavailable.Round(time.Millisecond), f.AfterHeal.Round(time.Millisecond),
		f.LongestGap.Round(time.Millisecond), f.GapPartition)
}

// faultFigures measures every fault of the history, and reports the faults after which no
// send was acknowledged.
func faultFigures(ops []Op) ([]FaultFigure, []Violation) {
	var figs []FaultFigure
	var out []Violation
	acks := ackTimes(ops)
	for _, f := range ops {
		if f.Kind != KindFault {
			continue
		}
		fig := FaultFigure{Fault: f.Fault, Start: f.Invoke, Healed: f.Time}
		for _, op := range ops {
			if op.Kind != KindSend || op.Outcome != OK || op.Time.Before(f.Invoke) {
				continue
			}
			if !op.Time.Before(f.Time) || !op.Invoke.Before(f.Invoke) {
				if fig.FirstAck.IsZero() || op.Time.Before(fig.FirstAck) {
					fig.FirstAck = op.Time
				}
			}
		}
		fig.LongestGap, fig.GapPartition = longestGap(acks, fig.Start, fig.Healed)
		if fig.Recovered() {
			fig.Unavailable = fig.FirstAck.Sub(fig.Start)
			fig.AfterHeal = max(fig.FirstAck.Sub(fig.Healed), 0)
		} else {
			out = append(out, Violation{Kind: NoRecovery, Detail: fmt.Sprintf("no send was acknowledged after fault %q (started %s, healed %s)",
				f.Fault, f.Invoke.Format(time.RFC3339Nano), f.Time.Format(time.RFC3339Nano))})
		}
		figs = append(figs, fig)
	}
	return figs, out
}

// ackTimes are the times of the acknowledged sends of each partition, in time order.
func ackTimes(ops []Op) map[int32][]time.Time {
	acks := map[int32][]time.Time{}
	for _, op := range ops {
		if op.Kind == KindSend && op.Outcome == OK {
			acks[op.Partition] = append(acks[op.Partition], op.Time)
		}
	}
	for _, ts := range acks {
		slices.SortFunc(ts, time.Time.Compare)
	}
	return acks
}

// longestGap is the longest time between consecutive acknowledgements of one partition that
// spans part of [start, healed), and that partition (the lowest of equal gaps).
func longestGap(acks map[int32][]time.Time, start, healed time.Time) (time.Duration, int32) {
	var gap time.Duration
	var part int32
	for _, p := range sortedKeys(acks) {
		ts := acks[p]
		for i := 1; i < len(ts); i++ {
			if ts[i].Before(start) || !ts[i-1].Before(healed) {
				continue
			}
			if d := ts[i].Sub(ts[i-1]); d > gap {
				gap, part = d, p
			}
		}
	}
	return gap, part
}
