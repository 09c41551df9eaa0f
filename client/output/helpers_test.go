package output

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tandem-streaming/tandem/internal/sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testClock is the followers' clock in tests: it moves when the test advances it, and by step
// at every reading (step 0: only when advanced).
type testClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func newClock(step time.Duration) *testClock { return &testClock{now: base, step: step} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// t0 is the time of row 0.
var t0 = sink.TimeTicks(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))

// row returns row i of the test output: two keys per second.
func row(i int) sink.Row {
	key := []string{"dev-a", "dev-b"}[i%2]
	return sink.Row{Time: t0 + int64(i/2)*1e7, Key: key, Data: fmt.Appendf(nil, `{"n":%d,"device":%q}`, i, key)}
}

// rows returns rows [from, to).
func rows(from, to int) []sink.Row {
	out := make([]sink.Row, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, row(i))
	}
	return out
}

// sqliteURL is a new SQLite output in a temporary directory.
func sqliteURL(t testing.TB, name string) string {
	return "sqlite://" + filepath.Join(t.TempDir(), name+".db") + "?table=" + url.QueryEscape("out")
}

// openSink opens an output for writing; it is closed when the test ends.
func openSink(t testing.TB, rawURL string) sink.Sink {
	t.Helper()
	s, err := sink.Open(context.Background(), rawURL, "out")
	if err != nil {
		t.Fatalf("sink.Open(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openReader opens an output for reading; it is closed when the test ends.
func openReader(t testing.TB, rawURL string) sink.Reader {
	t.Helper()
	r, err := sink.OpenReader(context.Background(), rawURL, "out")
	if err != nil {
		t.Fatalf("sink.OpenReader(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// write writes rows to each sink, or fails the test.
func write(t testing.TB, rs []sink.Row, sinks ...sink.Sink) {
	t.Helper()
	for _, s := range sinks {
		if err := s.Write(context.Background(), rs); err != nil {
			t.Fatalf("Write of %d rows: %v", len(rs), err)
		}
	}
}

// events records a follower's events.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// kinds returns the kinds of the events so far, skipping source-error and source-recovered
// unless all.
func (e *events) kinds(all bool) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		if all || ev.Kind != EventSourceError && ev.Kind != EventSourceRecovered {
			out = append(out, ev.Kind+" "+ev.From+"→"+ev.To)
		}
	}
	return out
}

// next calls f.Next with a deadline that only a bug reaches, and fails the test on error.
func next(t testing.TB, f *Follower) []sink.Row {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := f.Next(ctx)
	if err != nil {
		t.Fatalf("Next (on the %s, after %v): %v", f.Source(), f.Position(), err)
	}
	return got
}

// nextUntil calls Next until it has returned n rows in all (failing on more).
func nextUntil(t testing.TB, f *Follower, n int) []sink.Row {
	t.Helper()
	var got []sink.Row
	for len(got) < n {
		got = append(got, next(t, f)...)
	}
	if len(got) != n {
		t.Fatalf("Next returned %d rows, want %d: %s", len(got), n, positions(got))
	}
	return got
}

// checkRows compares rows by position and JSON value.
func checkRows(t testing.TB, got, want []sink.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d\n got: %s\nwant: %s", len(got), len(want), positions(got), positions(want))
	}
	for i := range want {
		if got[i].Pos() != want[i].Pos() || !SameData(got[i].Data, want[i].Data) {
			t.Fatalf("row %d: got (%d, %q, %s), want (%d, %q, %s)", i,
				got[i].Time-t0, got[i].Key, got[i].Data, want[i].Time-t0, want[i].Key, want[i].Data)
		}
	}
}

// positions shows rows as their numbers in the test output.
func positions(rs []sink.Row) string {
	out := ""
	for _, r := range rs {
		out += fmt.Sprintf("%d%s ", (r.Time-t0)/1e7, r.Key[len(r.Key)-1:])
	}
	return out
}
