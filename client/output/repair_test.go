package output

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

// TestRepair: the primary lacks a suffix and some inner rows; Repair copies them, a second
// Repair copies nothing, and Diff then finds the outputs equal. For SQLite and PostgreSQL
// primaries.
func TestRepair(t *testing.T) {
	for _, kind := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return sqliteURL(t, "primary") }},
		{"postgres", func(t *testing.T) string { return sinktest.Postgres(t) + "&table=out" }},
	} {
		t.Run(kind.name, func(t *testing.T) {
			primaryURL, secondaryURL := kind.url(t), sqliteURL(t, "secondary")
			p, s := openSink(t, primaryURL), openSink(t, secondaryURL)
			write(t, without(1200, 3, 4, 5, 700), p) // inner rows missing, and the suffix from 1200
			write(t, rows(0, 1500), s)
			ctx := context.Background()
			res, err := Repair(ctx, p, openReader(t, secondaryURL), DiffOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Copied != 304 || res.Compared != 1500 || res.DifferCount != 0 {
				t.Fatalf("first repair: %+v, want 304 copied of 1500", res)
			}
			res, err = Repair(ctx, p, openReader(t, secondaryURL), DiffOptions{})
			if err != nil || res.Copied != 0 || res.Compared != 1500 {
				t.Fatalf("second repair: %+v, %v; want nothing copied", res, err)
			}
			if d := diff(t, primaryURL, secondaryURL, DiffOptions{}); !d.Equal() || d.Compared != 1500 {
				t.Fatalf("diff after repair: %+v", d)
			}
		})
	}
}

// TestRepairBoundedAndDiffering: Repair copies only within From/To, and reports rows that differ without
// overwriting them.
func TestRepairBoundedAndDiffering(t *testing.T) {
	primaryURL, secondaryURL := sqliteURL(t, "primary"), sqliteURL(t, "secondary")
	p, s := openSink(t, primaryURL), openSink(t, secondaryURL)
	changed := row(2)
	changed.Data = []byte(`{"n":"changed"}`)
	write(t, []sink.Row{row(0), row(1), changed}, p)
	write(t, rows(0, 20), s)
	res, err := Repair(context.Background(), p, openReader(t, secondaryURL), DiffOptions{From: row(0).Time, To: row(10).Time})
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 7 || res.DifferCount != 1 || len(res.Differ) != 1 || res.Differ[0].Primary.Pos() != changed.Pos() {
		t.Fatalf("bounded repair: %+v; want rows 3..9 copied and row 2 reported", res)
	}
	got, err := p.ReadAfter(context.Background(), row(1).Pos(), 1)
	if err != nil || len(got) != 1 || string(got[0].Data) != `{"n":"changed"}` {
		t.Fatalf("row 2 after repair: %s, %v; want it left as it was", got[0].Data, err)
	}
	if hw, _, _ := p.HighWater(context.Background()); hw != row(9).Pos() {
		t.Fatalf("the primary's high water after the bounded repair: %v, want row 9", hw)
	}
}

// TestRepairRefusesFiles: a JSON-lines primary is appended by its job alone.
func TestRepairRefusesFiles(t *testing.T) {
	dir := t.TempDir()
	fileURL := "file://" + filepath.Join(dir, "out.jsonl")
	f := openSink(t, fileURL)
	_, err := Repair(context.Background(), f, openReader(t, sqliteURL(t, "secondary")), DiffOptions{})
	if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "catches up by itself") {
		t.Fatalf("repairing a file primary: %v", err)
	}
	for _, u := range []string{fileURL, filepath.Join(dir, "x.jsonl"), "file:///d/"} {
		if err := CheckRepairable(u); !errcode.Is(err, errcode.InvalidArgument) {
			t.Errorf("CheckRepairable(%s): %v", u, err)
		}
	}
	for _, u := range []string{"sqlite:///x.db", "postgres://h/db"} {
		if err := CheckRepairable(u); err != nil {
			t.Errorf("CheckRepairable(%s): %v", u, err)
		}
	}
}
