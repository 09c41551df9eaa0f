package sink

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

// checkErr fails unless err has code and contains every part.
func checkErr(t *testing.T, what string, err error, code errcode.Code, parts ...string) {
	t.Helper()
	if !errcode.Is(err, code) {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v lacks %q", what, err, p)
		}
	}
}

// CheckExists names a missing SQLite file or table and what is there, and creates nothing.
func TestCheckExistsSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "east.db")
	write(t, open(t, "sqlite://"+db, "counts"), rows(0, 1))
	if err := CheckExists(ctx, "sqlite://"+db, "counts"); err != nil {
		t.Fatalf("existing table: %v", err)
	}
	checkErr(t, "missing table", CheckExists(ctx, "sqlite://"+db+"?table=counts2", "x"), errcode.NotFound,
		"table counts2 does not exist in "+db, "tables there: counts")
	typo := filepath.Join(dir, "eats.db")
	checkErr(t, "missing file", CheckExists(ctx, "sqlite://"+typo, "counts"), errcode.NotFound,
		"the SQLite file "+typo+" does not exist", "SQLite files in "+dir+": east.db")
	if _, err := os.Stat(typo); !os.IsNotExist(err) {
		t.Fatalf("CheckExists created %s (stat: %v)", typo, err)
	}
	empty := t.TempDir()
	checkErr(t, "empty directory", CheckExists(ctx, "sqlite://"+filepath.Join(empty, "a.db"), "counts"), errcode.NotFound,
		"there are no SQLite files in "+empty)
	checkErr(t, "missing directory", CheckExists(ctx, "sqlite://"+filepath.Join(dir, "no", "a.db"), "counts"), errcode.InvalidArgument,
		"does not exist; create it first")
	if got := sqliteTableNames(t, db); len(got) != 1 || got[0] != "counts" {
		t.Fatalf("CheckExists changed the tables: %v", got)
	}
	// CheckWritable: the directory is what matters; nothing is created.
	if err := CheckWritable(ctx, "sqlite://"+typo, "counts"); err != nil {
		t.Fatalf("CheckWritable of a new file in an existing directory: %v", err)
	}
	if _, err := os.Stat(typo); !os.IsNotExist(err) {
		t.Fatalf("CheckWritable created %s (stat: %v)", typo, err)
	}
	checkErr(t, "CheckWritable, missing directory", CheckWritable(ctx, "sqlite:///nonexistent-dir/x.db", "counts"),
		errcode.InvalidArgument, "/nonexistent-dir does not exist; create it first")
	checkErr(t, "CheckWritable, unknown scheme", CheckWritable(ctx, "mysql://x/y", "counts"), errcode.InvalidArgument, `scheme "mysql"`)
}

func sqliteTableNames(t *testing.T, path string) []string {
	t.Helper()
	s := open(t, "sqlite://"+path, "counts").(*SQLite)
	r, err := s.db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := scanNames(r)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// A JSON-lines output exists when its active file or a rotated one does.
func TestCheckExistsJSONLines(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	checkErr(t, "empty directory", CheckExists(ctx, "file://"+dir+"/", "alerts"), errcode.NotFound,
		"the JSON-lines file "+filepath.Join(dir, "alerts.jsonl")+" does not exist", "there are no JSON-lines files in "+dir)
	if err := os.WriteFile(filepath.Join(dir, "alerts-3.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckExists(ctx, filepath.Join(dir, "alerts.jsonl"), "x"); err != nil {
		t.Fatalf("a rotated file only: %v", err)
	}
	checkErr(t, "typo", CheckExists(ctx, filepath.Join(dir, "alert.jsonl"), "x"), errcode.NotFound,
		"JSON-lines files in "+dir+": alerts-3.jsonl")
	if err := CheckWritable(ctx, "file://"+dir+"/new.jsonl", "x"); err != nil {
		t.Fatalf("CheckWritable: %v", err)
	}
}

// PostgreSQL: a missing table names the tables there; a database that does not exist is
// refused by CheckWritable; a server that does not answer is Unavailable.
func TestCheckExistsPostgres(t *testing.T) {
	ctx := context.Background()
	checkErr(t, "unreachable", CheckExists(ctx, "postgres://nobody@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "out"),
		errcode.Unavailable, "cannot connect")
	checkErr(t, "CheckWritable, unreachable", CheckWritable(ctx, "postgres://nobody@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "out"),
		errcode.Unavailable, "cannot connect")
	dsn := sinktest.Postgres(t)
	pgExec(t, dsn, `CREATE TABLE counts (ts BIGINT, row_key TEXT, row JSONB)`)
	if err := CheckExists(ctx, dsn+"&table=counts", "x"); err != nil {
		t.Fatalf("existing table: %v", err)
	}
	checkErr(t, "missing table", CheckExists(ctx, dsn, "counts2"), errcode.NotFound,
		"table counts2 does not exist in postgres database", "tables there: counts")
	if err := CheckWritable(ctx, dsn, "counts2"); err != nil {
		t.Fatalf("CheckWritable: %v", err)
	}
	checkErr(t, "missing table after CheckWritable", CheckExists(ctx, dsn, "counts2"), errcode.NotFound, "tables there: counts")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database"
	checkErr(t, "CheckWritable, no such database", CheckWritable(ctx, u.String(), "out"), errcode.InvalidArgument,
		"the server refuses the connection", "3D000")
}
