package sink

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// sqliteParams configures every connection: WAL so readers never block the writer, a busy
// timeout so two sinks (or processes) on one file wait for each other instead of failing,
// synchronous=FULL so a committed Write survives power loss (the job checkpoints after it), and
// BEGIN IMMEDIATE so a Write takes the write lock up front and never deadlocks upgrading a read.
const sqliteParams = "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate"

// SQLite is a sink in a table of a SQLite database file.
type SQLite struct {
	name string // "sqlite sink <path> table <table>", for errors
	db   *sql.DB

	upsert, high, after string // the statements, with the table name quoted in
}

var _ Sink = (*SQLite)(nil)

func openSQLite(ctx context.Context, path, table string) (*SQLite, error) {
	abs, err := absPath("sqlite", path)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("sqlite sink %s table %s", abs, table)
	if err := checkDir("sqlite", filepath.Dir(abs)); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", abs+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t := quoteIdent(table)
	s := &SQLite{
		name: name,
		db:   db,
		upsert: `INSERT INTO ` + t + ` (ts, row_key, row) VALUES (?, ?, ?)
			ON CONFLICT (ts, row_key) DO UPDATE SET row = excluded.row`,
		high:  sqliteHighSQL(t),
		after: sqliteAfterSQL(t),
	}
	create := `CREATE TABLE IF NOT EXISTS ` + t + ` (
		ts BIGINT NOT NULL,
		row_key TEXT NOT NULL,
		row TEXT NOT NULL,
		PRIMARY KEY (ts, row_key)
	) WITHOUT ROWID`
	if _, err := db.ExecContext(ctx, create); err != nil {
		db.Close()
		return nil, errcode.New(errcode.Unavailable, "%s: creating the table: %w", name, err)
	}
	return s, nil
}

// Write upserts rows in one transaction.
func (s *SQLite) Write(ctx context.Context, rows []Row) error {
	if err := checkRows(s.name, rows); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return errcode.New(errcode.Unavailable, "%s: beginning a write of %d rows: %w", s.name, len(rows), err)
	}
	defer tx.Rollback() // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx, s.upsert)
	if err != nil {
		return errcode.New(errcode.Unavailable, "%s: preparing the upsert: %w", s.name, err)
	}
	defer stmt.Close()
	for i := range rows {
		r := &rows[i]
		// Key and Data go in as strings so SQLite stores TEXT (compared as bytes), not BLOB.
		if _, err := stmt.ExecContext(ctx, r.Time, r.Key, string(r.Data)); err != nil {
			return errcode.New(errcode.Unavailable, "%s: writing row (time %d, key %q): %w", s.name, r.Time, r.Key, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return errcode.New(errcode.Unavailable, "%s: committing %d rows: %w", s.name, len(rows), err)
	}
	return nil
}

// HighWater returns the greatest stored Position.
func (s *SQLite) HighWater(ctx context.Context) (Position, bool, error) {
	var p Position
	err := s.db.QueryRowContext(ctx, s.high).Scan(&p.Time, &p.Key)
	switch {
	case err == sql.ErrNoRows:
		return Position{}, false, nil
	case err != nil:
		return Position{}, false, errcode.New(errcode.Unavailable, "%s: reading the high water mark: %w", s.name, err)
	}
	return p, true, nil
}

// ReadAfter returns up to limit rows strictly after `after`.
func (s *SQLite) ReadAfter(ctx context.Context, after Position, limit int) ([]Row, error) {
	if limit <= 0 {
		return nil, nil
	}
	rs, err := s.db.QueryContext(ctx, s.after, after.Time, after.Key, limit)
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "%s: reading after (time %d, key %q): %w", s.name, after.Time, after.Key, err)
	}
	defer rs.Close()
	var rows []Row
	for rs.Next() {
		var r Row
		var data string
		if err := rs.Scan(&r.Time, &r.Key, &data); err != nil {
			return nil, errcode.New(errcode.Unavailable, "%s: reading a row: %w", s.name, err)
		}
		r.Data = []byte(data)
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		return nil, errcode.New(errcode.Unavailable, "%s: reading rows: %w", s.name, err)
	}
	return rows, nil
}

// Close closes the database.
func (s *SQLite) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("%s: closing: %w", s.name, err)
	}
	return nil
}

// sqliteHighSQL and sqliteAfterSQL are the read statements of quoted table t (the sink's and a
// reader's).
func sqliteHighSQL(t string) string {
	return `SELECT ts, row_key FROM ` + t + ` ORDER BY ts DESC, row_key DESC LIMIT 1`
}

func sqliteAfterSQL(t string) string {
	return `SELECT ts, row_key, row FROM ` + t + ` WHERE (ts, row_key) > (?, ?) ORDER BY ts, row_key LIMIT ?`
}
