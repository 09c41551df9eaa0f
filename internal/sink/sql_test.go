package sink

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-streaming/tandem/internal/sink/sinktest"
)

// pgExec runs statements on the database dsn names.
func pgExec(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// sqliteExec runs statements on a SQLite file.
func sqliteExec(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestSQLiteTwoOpensOfOneFile(t *testing.T) {
	u := "sqlite://" + filepath.Join(t.TempDir(), "jobs.db") + "?table=out"
	a, b := open(t, u, "out"), open(t, u, "out")
	write(t, a, rows(0, 50))
	if pos, ok := highWater(t, b); !ok || pos != row(49).Pos() {
		t.Fatalf("the second open sees HighWater %v, %v; want %v", pos, ok, row(49).Pos())
	}
	write(t, b, rows(25, 100))
	checkRowsEqual(t, readAll(t, a, 30), rows(0, 100), true)

	// Both write the same rows at once, as a job and its replaced copy might: the busy timeout
	// serialises them, and the upserts leave each row once.
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, s := range []Sink{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 100; i < 400; i += 10 {
				if err := s.Write(context.Background(), rows(i-5, i+10)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Write: %v", err)
	}
	checkRowsEqual(t, readAll(t, b, 1000), rows(0, 400), true)
}

// TestSQLWriteIsAllOrNone makes the database itself reject one row in the middle of a batch
// (a CHECK constraint on a table made beforehand) and checks no row of the batch is stored.
func TestSQLWriteIsAllOrNone(t *testing.T) {
	const table = `CREATE TABLE out (ts BIGINT NOT NULL, row_key TEXT NOT NULL, row %s NOT NULL,
		PRIMARY KEY (ts, row_key), CHECK (row_key <> 'poison'))`
	tests := []struct {
		name string
		url  func(t *testing.T) string
		n    int // rows in the batch: more than pgChunk makes the PostgreSQL sink queue several INSERTs
	}{
		{"sqlite", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "out.db")
			sqliteExec(t, path, fmt.Sprintf(table, "TEXT"))
			return "sqlite://" + path
		}, 500},
		{"postgres", func(t *testing.T) string {
			dsn := sinktest.Postgres(t)
			pgExec(t, dsn, fmt.Sprintf(table, "JSONB"))
			return dsn
		}, 2*pgChunk + 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, tc.url(t), "out")
			batch := rows(0, tc.n)
			batch[tc.n-10].Key = "poison" // still in order: "poison" sorts between "b" and "é"
			if err := s.Write(context.Background(), batch); err == nil || !strings.Contains(err.Error(), "writ") {
				t.Fatalf("Write with a row the database rejects = %v; want an error", err)
			}
			if pos, ok := highWater(t, s); ok {
				t.Fatalf("a failed Write stored rows: HighWater = %v", pos)
			}
			write(t, s, rows(0, tc.n))
			checkRowsEqual(t, readAll(t, s, 1000), rows(0, tc.n), tc.name == "sqlite")
		})
	}
}

// TestPostgresOrdersKeysAsBytes uses a database whose default collation is ICU en-US, where "a"
// sorts before "B": the sink's table, and even a table made beforehand without COLLATE "C", must
// still read back in byte order.
func TestPostgresOrdersKeysAsBytes(t *testing.T) {
	dsn := sinktest.Postgres(t)
	u, _ := url.Parse(dsn)
	name := strings.TrimPrefix(u.Path, "/") + "_icu"
	pgExec(t, dsn, `CREATE DATABASE "`+name+`" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`)
	t.Cleanup(func() { pgExec(t, dsn, `DROP DATABASE "`+name+`" WITH (FORCE)`) })
	u.Path = "/" + name
	icu := u.String()
	var localeOrder bool
	conn, err := pgx.Connect(context.Background(), icu)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.QueryRow(context.Background(), `SELECT 'a'::text < 'B'::text`).Scan(&localeOrder)
	conn.Close(context.Background())
	if err != nil || !localeOrder {
		t.Fatalf("the test database should sort 'a' before 'B' (got %v, %v); the test proves nothing otherwise", localeOrder, err)
	}
	pgExec(t, icu, `CREATE TABLE premade (ts BIGINT NOT NULL, row_key TEXT NOT NULL, row JSONB NOT NULL, PRIMARY KEY (ts, row_key))`)
	for _, table := range []string{"created_by_sink", "premade"} {
		t.Run(table, func(t *testing.T) {
			s := open(t, icu+"&table="+table, "out")
			write(t, s, rows(0, 40))
			checkRowsEqual(t, readAll(t, s, 3), rows(0, 40), false)
			if pos, _ := highWater(t, s); pos != row(39).Pos() {
				t.Fatalf("HighWater = %v, want %v", pos, row(39).Pos())
			}
		})
	}
}

// TestPostgresReconnects kills the sink's server session, as a database restart or failover
// would: Writes fail until the sink connects again, and the job's retries leave each row once.
func TestPostgresReconnects(t *testing.T) {
	dsn := sinktest.Postgres(t)
	s := open(t, dsn+"&table=out", "out")
	write(t, s, rows(0, 100))
	u, _ := url.Parse(dsn)
	pgExec(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = '`+strings.TrimPrefix(u.Path, "/")+`' AND pid <> pg_backend_pid()`)
	var err error
	for attempt := 0; attempt < 3; attempt++ { // the job's retry loop, without its back-off
		if err = s.Write(context.Background(), rows(50, 200)); err == nil {
			break
		}
		if !strings.Contains(err.Error(), "postgres sink") {
			t.Fatalf("Write error %q does not name the sink", err)
		}
		t.Logf("attempt %d: %v", attempt, err)
	}
	if err != nil {
		t.Fatalf("Write still fails after the session was killed: %v", err)
	}
	checkRowsEqual(t, readAll(t, s, 1000), rows(0, 200), false)
}
