package sink

// The read side of a sink, for processes that read an output another process writes: an output
// reader following a job's output, diff and repair (client/output). A reader never creates,
// changes or truncates anything: a table or file that does not exist yet reads as empty.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Reader is the read side of a sink: what an output reader, diff and repair need.
type Reader interface {
	// HighWater returns the greatest stored Position, ok=false when empty.
	HighWater(ctx context.Context) (pos Position, ok bool, err error)
	// ReadAfter returns up to limit rows strictly after `after`, in total order.
	ReadAfter(ctx context.Context, after Position, limit int) ([]Row, error)
	Close() error
}

// OpenReader opens the output a URL names for reading only. It accepts the URLs Open accepts.
// It does not connect or read yet: a server that is down or a file not yet there is an error
// (or an empty output) of the calls, not of opening, so a reader can be opened before its
// output's writer starts. Only a malformed URL or a missing directory fails here.
func OpenReader(ctx context.Context, url, output string) (Reader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	scheme, rest, hasScheme := strings.Cut(url, "://")
	switch {
	case hasScheme && scheme == "sqlite":
		path, table, err := parseSQLiteURL(rest, output)
		if err != nil {
			return nil, err
		}
		return openSQLiteReader(path, table)
	case hasScheme && (scheme == "postgres" || scheme == "postgresql"):
		return openPostgresReader(url, output)
	case hasScheme && scheme == "file", !hasScheme && isJSONLPath(url):
		if !hasScheme {
			rest = url
		}
		cfg, err := parseFileURL(rest, output)
		if err != nil {
			return nil, err
		}
		return openFileReader(cfg)
	default:
		// The same errors as Open for a scheme it does not know or a plain path.
		_, err := Open(ctx, url, output)
		return nil, err
	}
}

// sqliteReaderParams configure a reader's connections: wait for the writer like every sink
// does, and refuse any write (the reader runs SELECTs only; this makes sure).
const sqliteReaderParams = "?_busy_timeout=10000&_query_only=1"

// sqliteReader reads a table of a SQLite file without creating the file or the table.
type sqliteReader struct {
	path, table string
	s           *SQLite // its statements and name; s.db is opened once the file exists

	mu struct {
		sync.Mutex
		opened bool // s.db is open: the file existed when last looked at
		closed bool
	}
}

func openSQLiteReader(path, table string) (*sqliteReader, error) {
	abs, err := absPath("sqlite", path)
	if err != nil {
		return nil, err
	}
	if err := checkDir("sqlite", filepath.Dir(abs)); err != nil {
		return nil, err
	}
	t := quoteIdent(table)
	return &sqliteReader{path: abs, table: table, s: &SQLite{
		name:  fmt.Sprintf("sqlite output %s table %s", abs, table),
		high:  sqliteHighSQL(t),
		after: sqliteAfterSQL(t),
	}}, nil
}

// ready returns the open SQLite, or nil when the database file does not exist yet (opening it
// would create it).
func (r *sqliteReader) ready() (*SQLite, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.closed {
		return nil, errcode.New(errcode.Unavailable, "%s is closed; open it again", r.s.name)
	}
	if r.mu.opened {
		return r.s, nil
	}
	if _, err := os.Stat(r.path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, errcode.New(errcode.Unavailable, "%s: %w", r.s.name, err)
	}
	db, err := sql.Open("sqlite", r.path+sqliteReaderParams)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.s.name, err)
	}
	r.s.db, r.mu.opened = db, true
	return r.s, nil
}

// missingTable reports whether the table does not exist (yet), which reads as empty.
func (r *sqliteReader) missingTable(ctx context.Context, s *SQLite) bool {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, r.table).Scan(&n)
	return err == nil && n == 0
}

func (r *sqliteReader) HighWater(ctx context.Context) (Position, bool, error) {
	s, err := r.ready()
	if s == nil || err != nil {
		return Position{}, false, err
	}
	pos, ok, err := s.HighWater(ctx)
	if err != nil && r.missingTable(ctx, s) {
		return Position{}, false, nil
	}
	return pos, ok, err
}

func (r *sqliteReader) ReadAfter(ctx context.Context, after Position, limit int) ([]Row, error) {
	s, err := r.ready()
	if s == nil || err != nil {
		return nil, err
	}
	rows, err := s.ReadAfter(ctx, after, limit)
	if err != nil && r.missingTable(ctx, s) {
		return nil, nil
	}
	return rows, err
}

func (r *sqliteReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.closed = true
	if !r.mu.opened {
		return nil
	}
	r.mu.opened = false
	return r.s.Close()
}

// pgReader reads a PostgreSQL table without creating it. It connects on its first call, and
// again after the connection broke (the Postgres sink does that).
type pgReader struct{ p *Postgres }

func openPostgresReader(rawURL, output string) (*pgReader, error) {
	cfg, table, err := parsePostgresURL(rawURL, output)
	if err != nil {
		return nil, err
	}
	t := quoteIdent(table)
	return &pgReader{p: &Postgres{
		name: fmt.Sprintf("postgres output %s:%d/%s table %s", cfg.Host, cfg.Port, cfg.Database, table),
		cfg:  cfg,
		// A reader creates nothing: connLocked runs this instead of CREATE TABLE.
		create: `SELECT 1`,
		high:   pgHighSQL(t),
		after:  pgAfterSQL(t),
	}}, nil
}

// isUndefinedTable reports PostgreSQL's error for a table that does not exist, which reads as
// empty.
func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}

func (r *pgReader) HighWater(ctx context.Context) (Position, bool, error) {
	pos, ok, err := r.p.HighWater(ctx)
	if isUndefinedTable(err) {
		return Position{}, false, nil
	}
	return pos, ok, err
}

func (r *pgReader) ReadAfter(ctx context.Context, after Position, limit int) ([]Row, error) {
	rows, err := r.p.ReadAfter(ctx, after, limit)
	if isUndefinedTable(err) {
		return nil, nil
	}
	return rows, err
}

func (r *pgReader) Close() error { return r.p.Close() }
