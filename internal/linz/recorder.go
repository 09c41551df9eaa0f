package linz

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder collects a history from concurrent clients, with call and return times on the
// monotonic clock. It is safe for concurrent use.
type Recorder struct {
	start time.Time
	mu    struct {
		sync.Mutex
		ops []porcupine.Operation
	}
}

// NewRecorder returns an empty history whose clock starts now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Call is one call in flight; end it with Return.
type Call struct {
	r      *Recorder
	client int
	in     Input
	at     int64
}

func (r *Recorder) now() int64 { return int64(time.Since(r.start)) } // monotonic

// Now is the history's clock: nanoseconds since NewRecorder, the unit of Call and Return
// times, so a runner can place its faults (a kill, a restart) on the same time line.
func (r *Recorder) Now() int64 { return r.now() }

// Call records that client issues in now.
func (r *Recorder) Call(client int, in Input) Call {
	return Call{r: r, client: client, in: in, at: r.now()}
}

// Return records the call's answer. An Unknown answer gets its return at infinity (it may
// take effect at any time after its call); an Unknown read is dropped, since it constrains
// nothing.
func (c Call) Return(out Output) {
	ret := c.r.now()
	if out.Result == Unknown {
		if c.in.Kind.IsRead() {
			return
		}
		ret = math.MaxInt64
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.r.mu.ops = append(c.r.mu.ops, porcupine.Operation{ClientId: c.client, Input: c.in, Call: c.at, Output: out, Return: ret})
}

// History is a copy of the operations recorded so far.
func (r *Recorder) History() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]porcupine.Operation(nil), r.mu.ops...)
}

// Verdict is the outcome of Check.
type Verdict struct {
	Result porcupine.CheckResult // Ok, Illegal, or Unknown when the timeout ran out
	Ops    int
	Took   time.Duration
	HTML   string // the visualisation, written when the result is not Ok and a dir was given
	Saved  string // with HTML: the history, as SaveHistory wrote it
	Why    string // with HTML: Explain's account of where linearization stopped
}

// MaxVisualized is the longest history Check draws: porcupine's visualisation replays every
// partial linearization and takes minutes beyond this; a longer one gets Explain's text.
const MaxVisualized = 30000

// Check checks history against the spec within timeout. When the history is not shown to be
// linearizable and dir is not empty, it writes porcupine's visualisation to
// dir/linearizability.html (Explain's text to dir/linearizability.txt for a history longer
// than MaxVisualized) and the history to dir/history.json (SaveHistory), to check again.
func Check(ctx context.Context, sp Spec, history []porcupine.Operation, timeout time.Duration, dir string) (Verdict, error) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	model := sp.Model()
	t0 := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, history, timeout)
	v := Verdict{Result: res, Ops: len(history), Took: time.Since(t0)}
	if res == porcupine.Ok || dir == "" {
		return v, nil
	}
	v.Saved = filepath.Join(dir, "history.json")
	if err := SaveHistory(v.Saved, history); err != nil {
		return v, err
	}
	var why strings.Builder
	Explain(&why, sp, history, info)
	v.Why = why.String()
	if len(history) > MaxVisualized {
		v.HTML = filepath.Join(dir, "linearizability.txt")
		return v, os.WriteFile(v.HTML, []byte(v.Why), 0o644)
	}
	v.HTML = filepath.Join(dir, "linearizability.html")
	f, err := os.Create(v.HTML)
	if err != nil {
		return v, fmt.Errorf("writing the visualisation: %w", err)
	}
	if err := porcupine.Visualize(model, info, f); err != nil {
		f.Close()
		return v, fmt.Errorf("writing the visualisation %s: %w", v.HTML, err)
	}
	return v, f.Close()
}
