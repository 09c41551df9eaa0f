package sink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// pgChunk is the most rows one INSERT carries. A Write of more rows queues several INSERTs in one
// pgx.Batch, which runs as one implicit transaction, so the Write stays all or none.
const pgChunk = 5000

// pgDefaultConnectTimeout bounds connecting when the URL has no connect_timeout, so an
// unreachable server fails a Write quickly instead of hanging the job.
const pgDefaultConnectTimeout = 10 * time.Second

// Postgres is a sink in a PostgreSQL table. It holds one connection, used by one call at a time,
// and connects again on the next call after the connection broke.
//
// A Write is one round trip: the rows go as three arrays (ts, row_key, row) into
// INSERT … SELECT FROM unnest(…) ON CONFLICT (ts, row_key) DO UPDATE, so the statement and its
// plan are the same for every batch size and no parameter limit applies. (A pool, pgxpool, would
// need a module this repository does not require; one job output has one writer anyway.)
type Postgres struct {
	name string // "postgres sink host:port/db table T", for errors; never the password
	cfg  *pgx.ConnConfig

	create, upsert, high, after string

	mu struct {
		sync.Mutex
		conn   *pgx.Conn // nil or closed: connect on the next call
		closed bool      // Close was called
	}
}

var _ Sink = (*Postgres)(nil)

func openPostgres(ctx context.Context, rawURL, output string) (*Postgres, error) {
	cfg, table, err := parsePostgresURL(rawURL, output)
	if err != nil {
		return nil, err
	}
	t := quoteIdent(table)
	p := &Postgres{
		name: fmt.Sprintf("postgres sink %s:%d/%s table %s", cfg.Host, cfg.Port, cfg.Database, table),
		cfg:  cfg,
		create: `CREATE TABLE IF NOT EXISTS ` + t + ` (
			ts BIGINT NOT NULL,
			row_key TEXT COLLATE "C" NOT NULL,
			row JSONB NOT NULL,
			PRIMARY KEY (ts, row_key))`,
		upsert: `INSERT INTO ` + t + ` (ts, row_key, row)
			SELECT u.ts, u.k, u.r::jsonb FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(ts, k, r)
			ON CONFLICT (ts, row_key) DO UPDATE SET row = EXCLUDED.row`,
		high:  pgHighSQL(t),
		after: pgAfterSQL(t),
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.connLocked(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// parsePostgresURL takes ?table= out of the URL and gives the rest to pgx.
func parsePostgresURL(rawURL, output string) (*pgx.ConnConfig, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the URL, password included; say only what kind of mistake it was.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", errcode.New(errcode.InvalidArgument,
			"postgres sink URL is malformed (%v); the form is postgres://user:pass@host:port/db?table=T&sslmode=disable", err)
	}
	q := u.Query()
	table := q.Get("table")
	q.Del("table")
	u.RawQuery = q.Encode()
	if table == "" {
		table = output
	}
	if err := checkTableName(table); err != nil {
		return nil, "", err
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, "", errcode.New(errcode.InvalidArgument,
			"postgres sink URL %s is not valid: %v; the form is postgres://user:pass@host:port/db?table=T&sslmode=disable", u.Redacted(), err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgDefaultConnectTimeout
	}
	return cfg, table, nil
}

// connLocked returns the open connection, connecting (and creating the table) when there is
// none or the last one broke.
func (p *Postgres) connLocked(ctx context.Context) (*pgx.Conn, error) {
	if p.mu.closed {
		return nil, errcode.New(errcode.Unavailable, "%s is closed; open it again", p.name)
	}
	if p.mu.conn != nil && !p.mu.conn.IsClosed() {
		return p.mu.conn, nil
	}
	p.mu.conn = nil
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return nil, errcode.New(errcode.Unavailable,
			"%s: cannot connect: %w; check that the server is running and the URL's host, port, user and database are right", p.name, err)
	}
	if _, err := conn.Exec(ctx, p.create); err != nil && !isDuplicateTable(err) {
		conn.Close(ctx)
		return nil, errcode.New(errcode.Unavailable, "%s: creating the table: %w", p.name, err)
	}
	p.mu.conn = conn
	return conn, nil
}

// isDuplicateTable reports the error two sessions get when both CREATE TABLE IF NOT EXISTS the
// same table at once: the loser's table exists now, which is all it wanted.
func isDuplicateTable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == "42P07" || (pe.Code == "23505" && strings.Contains(pe.ConstraintName, "pg_type"))
}

// Write upserts rows in one transaction and one round trip.
func (p *Postgres) Write(ctx context.Context, rows []Row) error {
	if err := checkRows(p.name, rows); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	var b pgx.Batch
	for start := 0; start < len(rows); start += pgChunk {
		chunk := rows[start:min(start+pgChunk, len(rows))]
		ts, keys, data := make([]int64, len(chunk)), make([]string, len(chunk)), make([][]byte, len(chunk))
		for i := range chunk {
			ts[i], keys[i], data[i] = chunk[i].Time, chunk[i].Key, chunk[i].Data
		}
		b.Queue(p.upsert, ts, keys, data)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	conn, err := p.connLocked(ctx)
	if err != nil {
		return err
	}
	if err := conn.SendBatch(ctx, &b).Close(); err != nil {
		return errcode.New(errcode.Unavailable, "%s: writing %d rows (time %d, key %q to time %d, key %q): %w",
			p.name, len(rows), rows[0].Time, rows[0].Key, rows[len(rows)-1].Time, rows[len(rows)-1].Key, err)
	}
	return nil
}

// HighWater returns the greatest stored Position.
func (p *Postgres) HighWater(ctx context.Context) (Position, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	conn, err := p.connLocked(ctx)
	if err != nil {
		return Position{}, false, err
	}
	var pos Position
	err = conn.QueryRow(ctx, p.high).Scan(&pos.Time, &pos.Key)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Position{}, false, nil
	case err != nil:
		return Position{}, false, errcode.New(errcode.Unavailable, "%s: reading the high water mark: %w", p.name, err)
	}
	return pos, true, nil
}

// ReadAfter returns up to limit rows strictly after `after`. Data is PostgreSQL's text of the
// stored jsonb: the same JSON value as written, not necessarily the same bytes.
func (p *Postgres) ReadAfter(ctx context.Context, after Position, limit int) ([]Row, error) {
	if limit <= 0 {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	conn, err := p.connLocked(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := conn.Query(ctx, p.after, after.Time, after.Key, limit)
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "%s: reading after (time %d, key %q): %w", p.name, after.Time, after.Key, err)
	}
	var r Row
	rows, err := pgx.CollectRows(rs, func(row pgx.CollectableRow) (Row, error) {
		err := row.Scan(&r.Time, &r.Key, &r.Data)
		return r, err
	})
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "%s: reading after (time %d, key %q): %w", p.name, after.Time, after.Key, err)
	}
	return rows, nil
}

// Close closes the connection.
func (p *Postgres) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.closed = true
	if p.mu.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.mu.conn.Close(ctx)
	p.mu.conn = nil
	if err != nil {
		return fmt.Errorf("%s: closing: %w", p.name, err)
	}
	return nil
}

// pgHighSQL and pgAfterSQL are the read statements of quoted table t (the sink's and a
// reader's). Keys compare bytewise (COLLATE "C"), as Position.Less does.
func pgHighSQL(t string) string {
	return `SELECT ts, row_key FROM ` + t + ` ORDER BY ts DESC, row_key COLLATE "C" DESC LIMIT 1`
}

func pgAfterSQL(t string) string {
	return `SELECT ts, row_key, row::text FROM ` + t + `
			WHERE (ts, row_key COLLATE "C") > ($1::bigint, $2::text COLLATE "C")
			ORDER BY ts, row_key COLLATE "C" LIMIT $3`
}
