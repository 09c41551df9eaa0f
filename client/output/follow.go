package output

import (
	"context"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// Defaults of FollowOptions.
const (
	DefaultStaleness  = 30 * time.Second
	DefaultErrorGrace = 5 * time.Second
	DefaultPoll       = 200 * time.Millisecond
	DefaultBatchSize  = 500
)

// minCallTimeout bounds every call to a source from below; a call to the current source times
// out after ErrorGrace (so one hung call is enough to switch), a check of the other one sooner.
const (
	minCallTimeout   = time.Second
	otherCallTimeout = 2 * time.Second
)

// FollowOptions configure Follow.
type FollowOptions struct {
	Primary, Secondary string // sink URLs (as sink.Open accepts)
	Output             string // the job output name: the default table / file name in the URLs
	// StateFile is where the reader's position is kept durably ("" = memory only). It is
	// replaced atomically and durably by Commit; its directory must exist.
	StateFile string
	// Staleness (default 30s): switch when the current source's high water has not advanced
	// for this long while the other source has rows after the reader's position.
	Staleness time.Duration
	// ErrorGrace (default 5s): switch when every call to the current source has failed for
	// this long and the other source answers.
	ErrorGrace time.Duration
	Poll       time.Duration // how often Next looks for new rows while there are none (default 200ms)
	BatchSize  int           // the most rows one Next returns (default 500)
	// SwitchBack: go back to the primary once it has caught up with the secondary.
	SwitchBack bool
	// OnEvent, if set, is called (from Next, in its goroutine) with every switch, catch-up,
	// source error and recovery. They are reported nowhere else.
	OnEvent func(Event)
	Now     func() time.Time // the clock for the rules, for tests; default time.Now
}

// Event is something the follower did or saw.
type Event struct {
	Time     time.Time
	Kind     string        // "switched", "switched-back", "caught-up", "source-error", "source-recovered"
	From, To string        // "primary" or "secondary"; To is empty for source-error and source-recovered
	Position sink.Position // the reader's position then
	Reason   string
}

// Follower reads a job output from the primary region's sink and, when it fails or stalls,
// from the secondary's, returning each row once in total order. Next must not be called
// concurrently with itself; the other methods may be called at any time.
type Follower struct {
	o       FollowOptions
	rules   rules
	sources [2]*source

	mu struct {
		sync.Mutex
		st   state
		idle bool // the last read found no row
	}
}

// Follow opens a follower. It starts after the position in o.StateFile, on the source it was
// reading, when the file exists, else at the beginning of the output on the primary. A source
// that is down is not an error: it is called again at every poll.
func Follow(ctx context.Context, o FollowOptions) (*Follower, error) {
	if o.Primary == "" || o.Secondary == "" {
		return nil, errcode.New(errcode.InvalidArgument, "following an output needs both the primary's and the secondary's sink URL")
	}
	if o.Staleness < 0 || o.ErrorGrace < 0 || o.Poll < 0 || o.BatchSize < 0 {
		return nil, errcode.New(errcode.InvalidArgument,
			"follow options: Staleness, ErrorGrace, Poll and BatchSize must not be negative (0 means the default)")
	}
	o.Staleness = cmpOr(o.Staleness, DefaultStaleness)
	o.ErrorGrace = cmpOr(o.ErrorGrace, DefaultErrorGrace)
	o.Poll = cmpOr(o.Poll, DefaultPoll)
	o.BatchSize = cmpOr(o.BatchSize, DefaultBatchSize)
	if o.Now == nil {
		o.Now = time.Now
	}
	f := &Follower{o: o, rules: rules{Staleness: o.Staleness, ErrorGrace: o.ErrorGrace, Poll: o.Poll, SwitchBack: o.SwitchBack}}
	f.sources[primary] = &source{name: sourceNames[primary], url: o.Primary, output: o.Output}
	f.sources[secondary] = &source{name: sourceNames[secondary], url: o.Secondary, output: o.Output}
	f.mu.st = state{Current: primary, Pos: sink.Beginning}
	if o.StateFile != "" {
		pos, current, _, err := loadState(o.StateFile)
		if err != nil {
			return nil, err
		}
		f.mu.st.Pos, f.mu.st.Current = pos, current
	}
	for _, s := range f.sources {
		if _, err := s.open(ctx); errcode.Is(err, errcode.InvalidArgument) {
			f.Close()
			return nil, errcode.New(errcode.InvalidArgument, "the %s output: %w", s.name, err)
		}
	}
	return f, nil
}

// cmpOr returns v, or def when v is zero.
func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Next blocks until at least one row after the position is available from the current source
// (switching sources as the rules say), returns up to BatchSize rows in total order and moves
// the position to the last one. Source, called after Next, names the source they came from. It
// returns ctx.Err() when ctx ends.
func (f *Follower) Next(ctx context.Context) ([]sink.Row, error) {
	return f.NextUpTo(ctx, f.o.BatchSize)
}

// NextUpTo is Next returning at most limit rows (and at most BatchSize).
func (f *Follower) NextUpTo(ctx context.Context, limit int) ([]sink.Row, error) {
	if limit <= 0 {
		return nil, errcode.New(errcode.InvalidArgument, "NextUpTo: the limit must be positive, not %d", limit)
	}
	limit = min(limit, f.o.BatchSize)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cur, pos, err := f.poll(ctx)
		if err != nil {
			return nil, err
		}
		start := f.o.Now()
		rows, err := f.sources[cur].readAfter(ctx, f.callTimeout(), pos, limit)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rows = after(rows, pos)
		f.update(func(s state) (state, []Event) {
			s, evs := s.observe(cur, result{Err: err}, start)
			if len(rows) > 0 {
				s.Pos = rows[len(rows)-1].Pos()
			}
			return s, evs
		}, len(rows) == 0)
		if len(rows) > 0 {
			return rows, nil
		}
		t := time.NewTimer(f.o.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// after drops rows at or before pos, and any not in increasing order: a source's rows are in
// order after pos, and this makes sure no row is returned twice whatever a source returns.
func after(rows []sink.Row, pos sink.Position) []sink.Row {
	out := rows[:0]
	for _, r := range rows {
		if pos.Less(r.Pos()) {
			out = append(out, r)
			pos = r.Pos()
		}
	}
	return out
}

// poll calls the current source's HighWater, the other's when the rules need it, and applies
// the rules. It returns the source to read and the position to read after, or ctx's error.
func (f *Follower) poll(ctx context.Context) (current int, pos sink.Position, err error) {
	st, idle := f.snapshot()
	cur, other := st.Current, 1-st.Current
	start := f.o.Now()
	res := f.sources[cur].highWater(ctx, f.callTimeout())
	if err := ctx.Err(); err != nil {
		return 0, sink.Position{}, err // not the source's failure
	}
	st = f.update(func(s state) (state, []Event) { return s.observe(cur, res, start) }, idle)
	if start := f.o.Now(); st.otherDue(f.rules, start, idle) {
		res := f.sources[other].highWater(ctx, min(f.callTimeout(), otherCallTimeout))
		if err := ctx.Err(); err != nil {
			return 0, sink.Position{}, err
		}
		f.update(func(s state) (state, []Event) { return s.observe(other, res, start) }, idle)
	}
	now := f.o.Now()
	st = f.update(func(s state) (state, []Event) { return s.decide(f.rules, now) }, idle)
	return st.Current, st.Pos, nil
}

// callTimeout bounds one call to the current source.
func (f *Follower) callTimeout() time.Duration { return max(f.o.ErrorGrace, minCallTimeout) }

// snapshot returns the state and whether the last read found nothing.
func (f *Follower) snapshot() (state, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.st, f.mu.idle
}

// update applies a transition of the pure state under the lock, then reports its events.
func (f *Follower) update(step func(state) (state, []Event), idle bool) state {
	f.mu.Lock()
	st, evs := step(f.mu.st)
	f.mu.st, f.mu.idle = st, idle
	f.mu.Unlock()
	if f.o.OnEvent != nil {
		for _, e := range evs {
			f.o.OnEvent(e)
		}
	}
	return st
}

// Commit makes the position of the rows Next has returned durable in the state file (nothing
// without one).
func (f *Follower) Commit() error {
	if f.o.StateFile == "" {
		return nil
	}
	st, _ := f.snapshot()
	return saveState(f.o.StateFile, st.Pos, st.Current)
}

// Position returns the position of the last row Next returned (sink.Beginning, or the state
// file's, before any).
func (f *Follower) Position() sink.Position {
	st, _ := f.snapshot()
	return st.Pos
}

// Source returns the source the follower reads now: "primary" or "secondary".
func (f *Follower) Source() string {
	st, _ := f.snapshot()
	return sourceNames[st.Current]
}

// Close closes both sources. It does not commit.
func (f *Follower) Close() error {
	err := f.sources[primary].close()
	if err2 := f.sources[secondary].close(); err == nil {
		err = err2
	}
	return err
}
