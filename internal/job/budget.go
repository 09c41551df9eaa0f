package job

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// The state budget: a job's engine state (events waiting for the watermark, open windows and
// their accumulators, join buffers, analytic history) is bounded, so that a query whose state
// grows without end (COUNT(DISTINCT …) over many keys, a long window at a fine hop) fails its
// job with a clear error instead of exhausting the node it shares with the broker.
//
// The measure is the size of the engine's snapshot, the bytes a checkpoint writes: taken at
// every checkpoint, and between checkpoints whenever the engine's estimate of the state added
// since the last snapshot (stream.Engine.StateAdded) reaches measureFraction of the budget, so
// the state cannot run far past the budget within one checkpoint interval.
const measureFraction = 8 // measure after budget/8 bytes of estimated growth

// budget is the state budget of a job: the node's, or the job's own when it sets a smaller one.
func (m *Manager) budget(s Spec) int64 {
	if s.StateBudgetBytes > 0 && s.StateBudgetBytes < m.opts.StateBudget {
		return s.StateBudgetBytes
	}
	return m.opts.StateBudget
}

// checkBudgetSpec refuses a job budget the node would not honour.
func (m *Manager) checkBudgetSpec(s Spec) error {
	if s.StateBudgetBytes < 0 || s.StateBudgetBytes > m.opts.StateBudget {
		return errcode.New(errcode.InvalidArgument,
			"job %s: stateBudgetBytes %d must be between 1 and this node's --job-state-budget (%d bytes); leave it out to use the node's",
			s.Name, s.StateBudgetBytes, m.opts.StateBudget)
	}
	return nil
}

// checkState measures the state when the engine has taken on enough since the last measure,
// and fails the run when the state is over the budget.
func (x *execution) checkState() error {
	if x.engine.StateAdded() < x.budget/measureFraction {
		return nil
	}
	return x.stateSize(int64(len(x.engine.Snapshot())))
}

// stateSize records a measured state size and returns an error when it is over the budget.
func (x *execution) stateSize(size int64) error {
	x.r.update(func(s *Status) { s.StateBytes = size })
	if size <= x.budget {
		return nil
	}
	return errcode.New(errcode.QuotaExceeded,
		"job %s: job state is %s, over the budget of %s, set by --job-state-budget or the job's stateBudgetBytes; "+
			"the query keeps too much: shorten its windows or hops, group by fewer distinct keys or values, bound its JOINs and LIMIT DURATIONs more tightly, "+
			"or raise the budget; then start the job with --from last-stopped (it resumes from its last checkpoint, nothing is lost)",
		x.r.spec.Name, mib(size), mib(x.budget))
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB (%d bytes)", float64(n)/(1<<20), n) }
