package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

// sqliteTables lists the tables of a SQLite file.
func sqliteTables(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// A typo in --output or in a file name is an error naming what exists, never an "equal" diff,
// a repair that creates the typo'd table or file, or a follow that waits for nothing (T23).
func TestCLIOutputRefusesMissingOutputs(t *testing.T) {
	dir := t.TempDir()
	east, west := filepath.Join(dir, "east.db"), filepath.Join(dir, "west.db")
	p, s := "sqlite://"+east, "sqlite://"+west
	writeOutput(t, p, 0, 5)
	writeOutput(t, s, 0, 7)

	for _, cmd := range []string{"diff", "repair", "follow"} {
		t.Run(cmd+" table typo", func(t *testing.T) {
			args := []string{"output", cmd, "--primary", p, "--secondary", s, "--output", "ou"}
			if cmd == "follow" {
				args = append(args, "--max-rows", "1")
			}
			out, _, err := runOutputCmd(t, args...)
			if !errcode.Is(err, errcode.NotFound) || errcode.ExitCode(err) == 0 {
				t.Fatalf("%s with a typo'd table: %v (exit code %d), want NotFound\n%s", cmd, err, errcode.ExitCode(err), out)
			}
			for _, want := range []string{"--primary", "table ou does not exist in " + east, "tables there: out"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s error lacks %q: %v", cmd, want, err)
				}
			}
			if got := sqliteTables(t, east); len(got) != 1 || got[0] != "out" {
				t.Errorf("%s changed the primary's tables: %v", cmd, got)
			}
		})
		t.Run(cmd+" file typo", func(t *testing.T) {
			typo := filepath.Join(dir, "eats.db")
			args := []string{"output", cmd, "--primary", "sqlite://" + typo, "--secondary", s, "--output", "out"}
			if cmd == "follow" {
				args = append(args, "--max-rows", "1")
			}
			out, _, err := runOutputCmd(t, args...)
			if !errcode.Is(err, errcode.NotFound) {
				t.Fatalf("%s with a typo'd file: %v, want NotFound\n%s", cmd, err, out)
			}
			for _, want := range []string{"the SQLite file " + typo + " does not exist", "SQLite files in " + dir + ": east.db, west.db"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s error lacks %q: %v", cmd, want, err)
				}
			}
			if _, err := os.Stat(typo); !os.IsNotExist(err) {
				t.Errorf("%s created the typo'd primary %s (stat: %v)", cmd, typo, err)
			}
		})
	}

	// The secondary is checked too, and a JSON-lines path as well.
	_, _, err := runOutputCmd(t, "output", "diff", "--primary", p, "--secondary", "file://"+filepath.Join(dir, "west.jsonl"), "--output", "out")
	if !errcode.Is(err, errcode.NotFound) || !strings.Contains(err.Error(), "--secondary") ||
		!strings.Contains(err.Error(), "there are no JSON-lines files in "+dir) {
		t.Fatalf("diff with a missing JSON-lines secondary: %v", err)
	}

	// The real names still work: repair copies the 2 rows the primary lacks.
	out, _, err := runOutputCmd(t, "output", "repair", "--primary", p, "--secondary", s, "--output", "out")
	if err != nil || !strings.Contains(out, "copied 2 rows") {
		t.Fatalf("repair of the real outputs: %v\n%s", err, out)
	}
}

// Two outputs that hold no row are not "equal": nothing was compared.
func TestCLIOutputDiffOfEmptyOutputsIsNotEqual(t *testing.T) {
	p, s := sqliteOutput(t, "primary"), sqliteOutput(t, "secondary")
	for _, url := range []string{p, s} {
		o, err := sink.Open(context.Background(), url, "out") // creates the table, writes nothing
		if err != nil {
			t.Fatal(err)
		}
		o.Close()
	}
	out, _, err := runOutputCmd(t, "output", "diff", "--primary", p, "--secondary", s, "--output", "out")
	if err == nil || errcode.ExitCode(err) == 0 || !strings.Contains(err.Error(), "nothing was compared") {
		t.Fatalf("diff of two empty outputs: %v (exit code %d), want an error\n%s", err, errcode.ExitCode(err), out)
	}
	out, _, _ = runOutputCmd(t, "output", "diff", "--primary", p, "--secondary", s, "--output", "out", "-o", "json")
	var rep struct {
		Equal    *bool `json:"equal"`
		Compared int64 `json:"compared"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Equal == nil || *rep.Equal {
		t.Fatalf("diff -o json of two empty outputs says equal (%v): %s", err, out)
	}

	// Rows outside the bounds only: nothing compared either.
	writeOutput(t, p, 0, 3)
	writeOutput(t, s, 0, 3)
	_, _, err = runOutputCmd(t, "output", "diff", "--primary", p, "--secondary", s, "--output", "out", "--from", "2030-01-01T00:00:00Z")
	if err == nil || !strings.Contains(err.Error(), "between --from and --to") {
		t.Fatalf("diff with no rows within the bounds: %v, want an error", err)
	}
	if _, _, err = runOutputCmd(t, "output", "diff", "--primary", p, "--secondary", s, "--output", "out"); err != nil {
		t.Fatalf("diff of equal outputs: %v", err)
	}
}

// A typo'd PostgreSQL table is refused by diff and repair, naming the tables there, and repair
// does not create it.
func TestCLIOutputRefusesMissingPostgresTable(t *testing.T) {
	dsn := sinktest.Postgres(t)
	s := sqliteOutput(t, "secondary")
	writeOutput(t, dsn, 0, 3)
	writeOutput(t, s, 0, 3)
	for _, cmd := range []string{"diff", "repair"} {
		_, _, err := runOutputCmd(t, "output", cmd, "--primary", dsn, "--secondary", s, "--output", "ou")
		if !errcode.Is(err, errcode.NotFound) || !strings.Contains(err.Error(), "table ou does not exist in postgres database") ||
			!strings.Contains(err.Error(), "tables there: out") {
			t.Fatalf("%s with a typo'd PostgreSQL table: %v", cmd, err)
		}
	}
	if err := sink.CheckExists(context.Background(), dsn, "ou"); !errcode.Is(err, errcode.NotFound) {
		t.Fatalf("repair created the typo'd table: %v", err)
	}
	if _, _, err := runOutputCmd(t, "output", "diff", "--primary", dsn, "--secondary", s, "--output", "out"); err != nil {
		t.Fatalf("diff of the real outputs: %v", err)
	}
}
