package output

import (
	"context"
	"testing"

	"github.com/tandem-streaming/tandem/internal/sink"
	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

// without returns rows [0, n) without the rows numbered in skip.
func without(n int, skip ...int) []sink.Row {
	var out []sink.Row
	for i := 0; i < n; i++ {
		keep := true
		for _, s := range skip {
			keep = keep && s != i
		}
		if keep {
			out = append(out, row(i))
		}
	}
	return out
}

// diff runs Diff on two outputs by URL.
func diff(t *testing.T, primaryURL, secondaryURL string, o DiffOptions) DiffResult {
	t.Helper()
	res, err := Diff(context.Background(), openReader(t, primaryURL), openReader(t, secondaryURL), o)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	return res
}

func TestDiff(t *testing.T) {
	primaryURL, secondaryURL := sqliteURL(t, "primary"), sqliteURL(t, "secondary")
	p, s := openSink(t, primaryURL), openSink(t, secondaryURL)
	write(t, rows(0, 2500), p, s) // more than a page of each

	if res := diff(t, primaryURL, secondaryURL, DiffOptions{}); !res.Equal() || res.Compared != 2500 {
		t.Fatalf("equal outputs: %+v", res)
	}

	// The secondary lacks rows 7 and 2400; the primary lacks 1000, 1001 and everything from 2490.
	p2URL, s2URL := sqliteURL(t, "primary2"), sqliteURL(t, "secondary2")
	p2, s2 := openSink(t, p2URL), openSink(t, s2URL)
	write(t, without(2490, 1000, 1001), p2)
	changed := row(1500)
	changed.Data = []byte(`{"n":-1}`)
	secondaryRows := without(2500, 7, 2400)
	for i := range secondaryRows {
		if secondaryRows[i].Pos() == changed.Pos() {
			secondaryRows[i] = changed
		}
	}
	write(t, secondaryRows, s2)

	res := diff(t, p2URL, s2URL, DiffOptions{MaxListed: 5})
	if res.Equal() || res.Compared != 2500 {
		t.Fatalf("unequal outputs: Equal %v, compared %d", res.Equal(), res.Compared)
	}
	if res.MissingOnPrimaryCount != 12 || res.MissingOnSecondaryCount != 2 || res.DifferCount != 1 {
		t.Fatalf("counts: missing on primary %d (want 12), on secondary %d (want 2), differ %d (want 1)",
			res.MissingOnPrimaryCount, res.MissingOnSecondaryCount, res.DifferCount)
	}
	checkRows(t, res.MissingOnPrimary, []sink.Row{row(1000), row(1001), row(2490), row(2491), row(2492)})
	checkRows(t, res.MissingOnSecondary, []sink.Row{row(7), row(2400)})
	if len(res.Differ) != 1 || res.Differ[0].Primary.Pos() != changed.Pos() || string(res.Differ[0].Secondary.Data) != `{"n":-1}` {
		t.Fatalf("differ: %+v", res.Differ)
	}

	// Bounds: From <= Time < To.
	from, to := row(1000).Time, row(2400).Time // rows 1000..2399 (two per tick)
	res = diff(t, p2URL, s2URL, DiffOptions{From: from, To: to})
	if res.Compared != 1400 || res.MissingOnPrimaryCount != 2 || res.MissingOnSecondaryCount != 0 || res.DifferCount != 1 {
		t.Fatalf("bounded diff: %+v", res)
	}
}

// TestDiffAcrossKinds: the same rows in PostgreSQL (jsonb: its own text) and SQLite compare
// equal.
func TestDiffAcrossKinds(t *testing.T) {
	pgURL := sinktest.Postgres(t) + "&table=out"
	liteURL := sqliteURL(t, "secondary")
	pretty := []sink.Row{
		{Time: t0, Key: "a", Data: []byte(`{"b": 1.50, "a": [1, 2.0, {"x": null}], "s": "é\u00e9"}`)},
		{Time: t0, Key: "b", Data: []byte(`{"n": 1e2}`)},
	}
	write(t, pretty, openSink(t, pgURL), openSink(t, liteURL))
	if res := diff(t, pgURL, liteURL, DiffOptions{}); !res.Equal() || res.Compared != 2 {
		t.Fatalf("the same rows in PostgreSQL and SQLite: %+v", res)
	}
}

func TestSameData(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":2}`, `{"b": 2, "a": 1}`, true},
		{`{"a":1.0}`, `{"a":1}`, true},
		{`{"a":1e2}`, `{"a":100}`, true},
		{`{"a":0.1}`, `{"a":0.10000000000000001}`, false},
		{`{"a":1e999999999}`, `{"a":1e999999999}`, true},
		{`{"a":1e999999999}`, `{"a":1e999999998}`, false},
		{`{"a":[1,2]}`, `{"a":[2,1]}`, false},
		{`{"a":"x"}`, `{"a":"\u0078"}`, true},
		{`{"a":null}`, `{}`, false},
		{`{"a":true}`, `{"a":"true"}`, false},
		{`{"a":{"b":[{}]}}`, `{"a":{"b":[{}]}}`, true},
	}
	for _, tc := range tests {
		if got := SameData([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("SameData(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
