package checker

import (
	"fmt"
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
}

// Recovered reports whether a send was acknowledged after the fault.
func (f FaultFigure) Recovered() bool { return !f.FirstAck.IsZero() }

func (f FaultFigure) String() string {
	if !f.Recovered() {
		return fmt.Sprintf("fault %-12s held %v: no send acknowledged afterwards", f.Fault, f.Healed.Sub(f.Start).Round(time.Millisecond))
	}
	return fmt.Sprintf("fault %-12s held %v: producers unavailable %v (%v after the heal)", f.Fault,
		f.Healed.Sub(f.Start).Round(time.Millisecond), f.Unavailable.Round(time.Millisecond), f.AfterHeal.Round(time.Millisecond))
}

// faultFigures measures every fault of the history, and reports the faults after which no
// send was acknowledged.
func faultFigures(ops []Op) ([]FaultFigure, []Violation) {
	var figs []FaultFigure
	var out []Violation
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
