package output

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/faultproxy"
	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

// proxied returns the PostgreSQL URL dsn reached through a fault-injecting proxy, and the proxy.
func proxied(t *testing.T, dsn string) (string, *faultproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.New("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	u.Host = px.Addr()
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	return u.String(), px
}

// follow opens a follower, closed when the test ends.
func follow(t *testing.T, o FollowOptions) *Follower {
	t.Helper()
	if o.Output == "" {
		o.Output = "out"
	}
	f, err := Follow(context.Background(), o)
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestFollowSwitchesOnErrors: the primary is PostgreSQL behind a proxy, the secondary SQLite;
// the proxy is cut mid-stream, and the follower carries on from the secondary with no row
// twice and none skipped.
func TestFollowSwitchesOnErrors(t *testing.T) {
	dsn := sinktest.Postgres(t) + "&table=out"
	viaProxy, px := proxied(t, dsn)
	secondaryURL := sqliteURL(t, "secondary")
	pg, lite := openSink(t, dsn), openSink(t, secondaryURL)
	write(t, rows(0, 10), pg, lite)

	var ev events
	f := follow(t, FollowOptions{
		Primary: viaProxy, Secondary: secondaryURL,
		ErrorGrace: time.Second, Staleness: time.Hour, Poll: time.Millisecond, BatchSize: 4,
		OnEvent: ev.add,
		Now:     newClock(100 * time.Millisecond).Now, // every reading of the clock is 100 ms later
	})
	got := nextUntil(t, f, 8)
	if f.Source() != "primary" {
		t.Fatalf("reading %s before the cut", f.Source())
	}

	px.Cut()
	write(t, rows(10, 20), pg, lite) // the primary's region still writes; the reader cannot reach it
	got = append(got, nextUntil(t, f, 12)...)
	checkRows(t, got, rows(0, 20))
	if f.Source() != "secondary" {
		t.Fatalf("reading %s after the cut", f.Source())
	}
	kinds := ev.kinds(true)
	if !slices.Contains(kinds, "source-error primary→") || !slices.Contains(kinds, "switched primary→secondary") {
		t.Fatalf("events %v, want the primary's error and a switch to the secondary", kinds)
	}
	for _, e := range ev.all {
		if e.Kind == EventSwitched && (e.Position != row(7).Pos() || !strings.Contains(e.Reason, "failed")) {
			t.Fatalf("switch event %+v: want the position of row 7 and the failure as the reason", e)
		}
	}

	// The primary comes back: reading the secondary, the follower sees it and reports it.
	px.Heal()
	write(t, rows(20, 22), pg, lite)
	checkRows(t, nextUntil(t, f, 2), rows(20, 22))
	st := f.Status(context.Background())
	if st.Source != "secondary" || st.Primary.Err != "" || !st.PrimaryCaughtUp || st.Secondary.HighWater != row(21).Pos() {
		t.Fatalf("status after healing: %+v", st)
	}
}

// TestFollowSwitchesOnStalenessAndBack: the primary (SQLite) stops getting rows while the
// secondary keeps getting them; after Staleness the follower switches and returns the rest in
// order. Then the primary catches up: caught-up, and with SwitchBack the follower returns to it
// with no row twice.
func TestFollowSwitchesOnStalenessAndBack(t *testing.T) {
	primaryURL, secondaryURL := sqliteURL(t, "primary"), sqliteURL(t, "secondary")
	p, s := openSink(t, primaryURL), openSink(t, secondaryURL)
	write(t, rows(0, 10), p, s)

	var ev events
	clock := newClock(0)
	f := follow(t, FollowOptions{
		Primary: primaryURL, Secondary: secondaryURL,
		Staleness: 30 * time.Second, ErrorGrace: 5 * time.Second, Poll: time.Millisecond, BatchSize: 100,
		SwitchBack: true, OnEvent: ev.add, Now: clock.Now,
	})
	checkRows(t, next(t, f), rows(0, 10))

	write(t, rows(10, 20), s) // the primary's job stalls; the secondary's goes on
	clock.Advance(29 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if got, err := f.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next before Staleness passed: %d rows, %v; want no switch yet", len(got), err)
	}

	clock.Advance(2 * time.Second)
	checkRows(t, next(t, f), rows(10, 20))
	if f.Source() != "secondary" || !slices.Equal(ev.kinds(false), []string{"switched primary→secondary"}) {
		t.Fatalf("after the primary stalled: reading %s, events %v", f.Source(), ev.kinds(false))
	}

	write(t, rows(20, 24), s)
	clock.Advance(time.Second)
	checkRows(t, next(t, f), rows(20, 24))
	if f.Source() != "secondary" {
		t.Fatal("switched back to a primary that is behind")
	}

	write(t, rows(10, 24), p) // the primary's job catches up
	write(t, rows(24, 30), p, s)
	clock.Advance(time.Second)
	checkRows(t, next(t, f), rows(24, 30))
	if f.Source() != "primary" {
		t.Fatalf("reading %s after the primary caught up, events %v", f.Source(), ev.kinds(false))
	}
	want := []string{"switched primary→secondary", "caught-up secondary→primary", "switched-back secondary→primary"}
	if !slices.Equal(ev.kinds(false), want) {
		t.Fatalf("events %v, want %v", ev.kinds(false), want)
	}
	write(t, rows(30, 33), p, s)
	checkRows(t, next(t, f), rows(30, 33))
}

// TestFollowStateFile: a follower closed and opened again continues after the committed
// position, on the source it was reading.
func TestFollowStateFile(t *testing.T) {
	primaryURL, secondaryURL := sqliteURL(t, "primary"), sqliteURL(t, "secondary")
	p, s := openSink(t, primaryURL), openSink(t, secondaryURL)
	write(t, rows(0, 10), p, s)
	stateFile := filepath.Join(t.TempDir(), "reader.state")
	clock := newClock(0)
	o := FollowOptions{Primary: primaryURL, Secondary: secondaryURL, Output: "out", StateFile: stateFile,
		Poll: time.Millisecond, BatchSize: 4, Now: clock.Now}

	f, err := Follow(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, next(t, f), rows(0, 4))
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	checkRows(t, next(t, f), rows(4, 8)) // returned, not committed
	f.Close()

	f, err = Follow(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if f.Position() != row(3).Pos() {
		t.Fatalf("reopened at %v, want row 3's position", f.Position())
	}
	checkRows(t, next(t, f), rows(4, 8))
	// Switch to the secondary (the primary stalls), and commit there.
	write(t, rows(10, 12), s)
	clock.Advance(time.Hour)
	checkRows(t, nextUntil(t, f, 4), rows(8, 12))
	if f.Source() != "secondary" {
		t.Fatalf("reading %s, want the secondary", f.Source())
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	f = follow(t, o)
	if f.Source() != "secondary" || f.Position() != row(11).Pos() {
		t.Fatalf("reopened on the %s at %v, want the secondary at row 11", f.Source(), f.Position())
	}
	write(t, rows(12, 14), s)
	checkRows(t, next(t, f), rows(12, 14))
}

func TestFollowBadStateFile(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"", "{", `{"version":1,"time":5,"key":"k","source":"tertiary"}`, `{"version":2,"source":"primary"}`,
		`{"version":1,"time":"x","source":"primary"}`, `{"version":1,"time":5,"key":"k","source":"primary","extra":1}`} {
		path := filepath.Join(dir, "reader.state")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Follow(context.Background(), FollowOptions{Primary: sqliteURL(t, "p"), Secondary: sqliteURL(t, "s"), Output: "out", StateFile: path})
		if !errcode.Is(err, errcode.CorruptData) || !strings.Contains(err.Error(), "delete it") || !strings.Contains(err.Error(), path) {
			t.Fatalf("state file %q: %v; want CorruptData naming the file and saying what to do", content, err)
		}
	}
	_, err := Follow(context.Background(), FollowOptions{Primary: sqliteURL(t, "p"), Secondary: sqliteURL(t, "s"), Output: "out",
		StateFile: filepath.Join(dir, "missing", "reader.state")})
	if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "create it") {
		t.Fatalf("state file in a missing directory: %v", err)
	}
}

// TestFollowStartsWithSourcesDown: opening a follower whose sources are unreachable is not an
// error; Next keeps trying and returns when one answers.
func TestFollowStartsWithSourcesDown(t *testing.T) {
	dsn := sinktest.Postgres(t) + "&table=out"
	viaProxy, px := proxied(t, dsn)
	px.Cut()
	secondaryURL := sqliteURL(t, "secondary")
	f := follow(t, FollowOptions{Primary: viaProxy, Secondary: secondaryURL, Poll: time.Millisecond,
		Now: newClock(100 * time.Millisecond).Now})
	if st := f.Status(context.Background()); st.Primary.Err == "" || st.Secondary.Err != "" || st.Secondary.HasRows {
		t.Fatalf("status with the primary cut off: %+v", st)
	}
	px.Heal()
	write(t, rows(0, 3), openSink(t, dsn))
	checkRows(t, next(t, f), rows(0, 3))
	if f.Source() != "primary" {
		t.Fatalf("reading %s", f.Source())
	}
	_, err := Follow(context.Background(), FollowOptions{Primary: "mysql://x", Secondary: secondaryURL, Output: "out"})
	if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("a malformed URL: %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Next(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled context: %v", err)
	}
}
