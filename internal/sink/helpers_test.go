package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// kind is one sink implementation, as the table tests see it.
type kind struct {
	name       string
	exactBytes bool // ReadAfter returns the bytes written (PostgreSQL returns jsonb's text)
	upserts    bool // a repeat with other bytes replaces the row (the file sink keeps the first copy)
	// url returns a fresh sink URL for this test, naming the table or file output.
	url func(t testing.TB, output string) string
}

func kinds() []kind {
	return []kind{
		{name: "sqlite", exactBytes: true, upserts: true, url: func(t testing.TB, output string) string {
			return "sqlite://" + filepath.Join(t.TempDir(), "out.db") + "?table=" + url.QueryEscape(output)
		}},
		{name: "postgres", exactBytes: false, upserts: true, url: func(t testing.TB, output string) string {
			return sinktest.Postgres(t) + "&table=" + url.QueryEscape(output)
		}},
		{name: "file", exactBytes: true, upserts: false, url: func(t testing.TB, output string) string {
			return "file://" + filepath.Join(t.TempDir(), output+".jsonl")
		}},
	}
}

// forEachKind runs test as a subtest per sink kind.
func forEachKind(t *testing.T, test func(t *testing.T, k kind)) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) { test(t, k) })
	}
}

// open opens a sink or fails the test; it is closed when the test ends.
func open(t testing.TB, rawURL, output string) Sink {
	t.Helper()
	s, err := Open(context.Background(), rawURL, output)
	if err != nil {
		t.Fatalf("Open(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// keys are the row keys of one timestamp, in byte order ("B" < "a" in bytes, not in most locales).
var keys = []string{"B", "a", "b", "é"}

// t0 is the time of row 0: 2024-05-01T12:00:00Z.
var t0 = TimeTicks(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))

// row returns row i of the test output: four keys per second, in total order by i.
func row(i int) Row {
	key := keys[i%len(keys)]
	return Row{
		Time: t0 + int64(i/len(keys))*1e7,
		Key:  key,
		Data: fmt.Appendf(nil, `{"n":%d,"DeviceId":%q,"Tags":["x","y"]}`, i, key),
	}
}

// rows returns rows [from, to).
func rows(from, to int) []Row {
	out := make([]Row, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, row(i))
	}
	return out
}

// write writes rows or fails the test.
func write(t testing.TB, s Sink, rs []Row) {
	t.Helper()
	if err := s.Write(context.Background(), rs); err != nil {
		t.Fatalf("Write of %d rows: %v", len(rs), err)
	}
}

// readAll reads every row in pages of limit.
func readAll(t testing.TB, s Sink, limit int) []Row {
	t.Helper()
	var out []Row
	after := Beginning
	for {
		page, err := s.ReadAfter(context.Background(), after, limit)
		if err != nil {
			t.Fatalf("ReadAfter(%v, %d): %v", after, limit, err)
		}
		if len(page) > limit {
			t.Fatalf("ReadAfter(%v, %d) returned %d rows", after, limit, len(page))
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
		after = page[len(page)-1].Pos()
	}
}

// checkRowsEqual compares rows; data as bytes when exact, else as JSON values.
func checkRowsEqual(t testing.TB, got, want []Row, exact bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d\n got: %s\nwant: %s", len(got), len(want), summary(got), summary(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Time != w.Time || g.Key != w.Key || !sameData(g.Data, w.Data, exact) {
			t.Fatalf("row %d: got (%d, %q, %s), want (%d, %q, %s)", i, g.Time, g.Key, g.Data, w.Time, w.Key, w.Data)
		}
	}
}

func sameData(got, want []byte, exact bool) bool {
	if exact {
		return bytes.Equal(got, want)
	}
	var g, w any
	return json.Unmarshal(got, &g) == nil && json.Unmarshal(want, &w) == nil && reflect.DeepEqual(g, w)
}

// summary shows the positions of up to 10 rows.
func summary(rs []Row) string {
	var b bytes.Buffer
	for i, r := range rs {
		if i == 10 {
			fmt.Fprintf(&b, "… (%d more)", len(rs)-10)
			break
		}
		fmt.Fprintf(&b, "(%d,%q) ", r.Time-t0, r.Key)
	}
	return b.String()
}

// highWater returns the high water mark or fails the test.
func highWater(t testing.TB, s Sink) (Position, bool) {
	t.Helper()
	pos, ok, err := s.HighWater(context.Background())
	if err != nil {
		t.Fatalf("HighWater: %v", err)
	}
	return pos, ok
}
