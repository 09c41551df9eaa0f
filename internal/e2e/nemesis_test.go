package e2e

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/checker"
	"github.com/tandem-streaming/tandem/internal/faultproxy"
)

// fault is one thing a nemesis does to a region: start injects it, heal undoes it. Faults are
// built over nodes and proxies (killRestart, pauseNode, cutLink), so a cluster test makes one
// per node or link and the same schedule code drives them.
type fault struct {
	name  string
	start func(t *testing.T)
	heal  func(t *testing.T)
}

// killRestart kills the node with SIGKILL; its heal starts it again on its data and ports and
// waits until it is ready.
func killRestart(n *node, name string) fault {
	return fault{name: "kill -9 " + name,
		start: func(t *testing.T) { n.kill9() },
		heal:  func(t *testing.T) { n.restart() }}
}

// pauseNode stops the node with SIGSTOP; its heal resumes it with SIGCONT. A node that is
// down (killed by another fault of the same step) is left alone.
func pauseNode(n *node, name string) fault {
	return fault{name: "pause " + name,
		start: func(t *testing.T) {
			if err := n.proc.Pause(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
		},
		heal: func(t *testing.T) {
			if err := n.proc.Resume(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
		}}
}

// cutLink cuts every connection through the proxy and refuses new ones until the heal.
func cutLink(p *faultproxy.Proxy, name string) fault {
	return fault{name: "cut " + name,
		start: func(t *testing.T) { p.Cut() },
		heal:  func(t *testing.T) { p.Heal() }}
}

// nemesisStep is a set of faults injected together (in order), held for hold, then healed
// (in reverse order).
type nemesisStep struct {
	faults []fault
	hold   time.Duration
}

func (s nemesisStep) name() string {
	names := make([]string, len(s.faults))
	for i, f := range s.faults {
		names[i] = f.name
	}
	return strings.Join(names, " + ")
}

// nemesis runs a schedule of steps in the calling goroutine (the test's, so that a fault may
// fail the test) and records each step in the history as one fault operation, from the first
// injection to the last heal. After each heal it waits quiet, so that clients can show they
// recovered before the next step.
type nemesis struct {
	rec   *checker.Recorder
	steps []nemesisStep
	quiet time.Duration
}

// run runs the schedule; it stops early, with every fault it injected healed, when ctx ends.
func (nm nemesis) run(ctx context.Context, t *testing.T) {
	t.Helper()
	for _, s := range nm.steps {
		if ctx.Err() != nil {
			return
		}
		invoke := time.Now()
		for _, f := range s.faults {
			f.start(t)
		}
		sleepCtx(ctx, s.hold)
		for i := len(s.faults) - 1; i >= 0; i-- {
			s.faults[i].heal(t)
		}
		healed := time.Now()
		nm.rec.Add(checker.Op{Kind: checker.KindFault, Process: "nemesis", Fault: s.name(), Invoke: invoke, Time: healed})
		t.Logf("nemesis: %s held %v, healed", s.name(), healed.Sub(invoke).Round(time.Millisecond))
		sleepCtx(ctx, nm.quiet)
	}
}

// randomSteps is a schedule of n steps for soaks: each injects one or two distinct faults
// drawn from faults and holds them for between minHold and maxHold.
func randomSteps(rng *rand.Rand, faults []fault, n int, minHold, maxHold time.Duration) []nemesisStep {
	steps := make([]nemesisStep, n)
	for i := range steps {
		k := 1 + rng.IntN(min(2, len(faults)))
		perm := rng.Perm(len(faults))[:k]
		s := nemesisStep{hold: minHold + time.Duration(rng.Int64N(int64(maxHold-minHold)+1))}
		for _, j := range perm {
			s.faults = append(s.faults, faults[j])
		}
		steps[i] = s
	}
	return steps
}

// sleepCtx waits d or until ctx ends. It paces the nemesis schedule; it is not used to wait
// for anything to happen.
func sleepCtx(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}
