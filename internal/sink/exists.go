package sink

// Checks before use, for tools that must not act on nothing: CheckWritable (a job about to be
// created: can its output ever be opened?) and CheckExists (output diff, repair and follow: is
// there an output where the URL points?). Neither creates, changes or truncates anything.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// checkTimeout bounds a check's connection to PostgreSQL when ctx has no earlier deadline.
const checkTimeout = 5 * time.Second

// maxListed is how many existing tables or files an error names.
const maxListed = 20

// CheckWritable checks, without creating anything, that a job could open the output a URL
// names: the URL is well formed with a supported scheme, the directory of a SQLite or
// JSON-lines output exists, and a PostgreSQL server accepts the connection. A server that
// refuses it (password, database) is an InvalidArgument error; one that does not answer is an
// Unavailable error, which a caller may accept (it may be up later).
func CheckWritable(ctx context.Context, url, output string) error {
	scheme, rest, hasScheme := strings.Cut(url, "://")
	switch {
	case hasScheme && scheme == "sqlite":
		path, _, err := parseSQLiteURL(rest, output)
		if err != nil {
			return err
		}
		abs, err := absPath("sqlite", path)
		if err != nil {
			return err
		}
		return checkDir("sqlite", filepath.Dir(abs))
	case hasScheme && (scheme == "postgres" || scheme == "postgresql"):
		conn, _, err := checkConnect(ctx, url, output)
		if err != nil {
			return err
		}
		return conn.Close(context.Background())
	case hasScheme && scheme == "file", !hasScheme && isJSONLPath(url):
		if !hasScheme {
			rest = url
		}
		cfg, err := parseFileURL(rest, output)
		if err != nil {
			return err
		}
		return checkDir("file", filepath.Dir(cfg.path))
	default:
		_, err := OpenReader(ctx, url, output) // the same errors for a scheme it does not know or a plain path
		return err
	}
}

// CheckExists returns a NotFound error, naming what does exist there, when the output a URL
// names does not exist: a SQLite file or its table, a PostgreSQL table, a JSON-lines file
// (active or rotated). A PostgreSQL server that does not answer is an Unavailable error.
func CheckExists(ctx context.Context, url, output string) error {
	scheme, rest, hasScheme := strings.Cut(url, "://")
	switch {
	case hasScheme && scheme == "sqlite":
		path, table, err := parseSQLiteURL(rest, output)
		if err != nil {
			return err
		}
		return sqliteTableExists(ctx, path, table)
	case hasScheme && (scheme == "postgres" || scheme == "postgresql"):
		return pgOutputTableExists(ctx, url, output)
	case hasScheme && scheme == "file", !hasScheme && isJSONLPath(url):
		if !hasScheme {
			rest = url
		}
		cfg, err := parseFileURL(rest, output)
		if err != nil {
			return err
		}
		return jsonlExists(cfg.path)
	default:
		_, err := OpenReader(ctx, url, output)
		return err
	}
}

// sqliteTableExists checks that the database file exists and holds the table.
func sqliteTableExists(ctx context.Context, path, table string) error {
	abs, err := absPath("sqlite", path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(abs)
	if err := checkDir("sqlite", dir); err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errcode.New(errcode.NotFound, "the SQLite file %s does not exist; %s; check the path",
			abs, existing("SQLite files in "+dir, listFiles(dir, func(n string) bool {
				ext := filepath.Ext(n)
				return ext == ".db" || ext == ".sqlite" || ext == ".sqlite3"
			})))
	case err != nil:
		return errcode.New(errcode.Unavailable, "the SQLite file %s: %w", abs, err)
	case fi.IsDir():
		return errcode.New(errcode.InvalidArgument, "%s is a directory, not a SQLite file; name the database file", abs)
	}
	db, err := sql.Open("sqlite", abs+sqliteReaderParams)
	if err != nil {
		return fmt.Errorf("the SQLite file %s: %w", abs, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return errcode.New(errcode.Unavailable, "the SQLite file %s cannot be read: %w; is it a SQLite database?", abs, err)
	}
	tables, err := scanNames(rows)
	if err != nil {
		return errcode.New(errcode.Unavailable, "the SQLite file %s cannot be read: %w", abs, err)
	}
	if slices.Contains(tables, table) {
		return nil
	}
	return errcode.New(errcode.NotFound, "table %s does not exist in %s; %s; check --output or ?table=",
		table, abs, existing("tables there", tables))
}

// pgOutputTableExists connects and checks that the table is in the connection's search path.
func pgOutputTableExists(ctx context.Context, url, output string) error {
	conn, table, err := checkConnect(ctx, url, output)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, quoteIdent(table)).Scan(&ok); err != nil {
		return errcode.New(errcode.Unavailable, "postgres output %s: looking up table %s: %w", pgWhere(conn.Config()), table, err)
	}
	if ok {
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v') AND n.nspname = ANY (current_schemas(false)) ORDER BY 1`)
	var tables []string
	if err == nil {
		tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return errcode.New(errcode.Unavailable, "postgres output %s: listing tables: %w", pgWhere(conn.Config()), err)
	}
	return errcode.New(errcode.NotFound, "table %s does not exist in postgres database %s; %s; check --output or ?table=",
		table, pgWhere(conn.Config()), existing("tables there", tables))
}

// checkConnect connects to the PostgreSQL server a URL names, within checkTimeout.
func checkConnect(ctx context.Context, url, output string) (*pgx.Conn, string, error) {
	cfg, table, err := parsePostgresURL(url, output)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// The server answered and said no: this never works until the URL or the server changes.
		return nil, "", errcode.New(errcode.InvalidArgument,
			"postgres output %s: the server refuses the connection: %s (SQLSTATE %s); check the URL's user, password and database",
			pgWhere(cfg), pe.Message, pe.Code)
	}
	if err != nil {
		return nil, "", errcode.New(errcode.Unavailable,
			"postgres output %s: cannot connect: %w; check that the server is running and the URL's host, port, user and database are right",
			pgWhere(cfg), err)
	}
	return conn, table, nil
}

func pgWhere(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}

// jsonlExists checks that the active file or a rotated one (name-<seq>.jsonl) exists.
func jsonlExists(path string) error {
	dir := filepath.Dir(path)
	if err := checkDir("file", dir); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		return nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return errcode.New(errcode.Unavailable, "file output %s: %w", path, err)
	}
	rotated := regexp.MustCompile(`^` + regexp.QuoteMeta(strings.TrimSuffix(filepath.Base(path), ".jsonl")) + `-[0-9]+\.jsonl$`)
	if len(listFiles(dir, rotated.MatchString)) > 0 {
		return nil
	}
	return errcode.New(errcode.NotFound, "the JSON-lines file %s does not exist; %s; check the path and --output",
		path, existing("JSON-lines files in "+dir, listFiles(dir, func(n string) bool { return strings.HasSuffix(n, ".jsonl") })))
}

// listFiles returns the names of the regular files in dir that keep accepts, sorted.
func listFiles(dir string, keep func(string) bool) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && keep(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}

func scanNames(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// existing says what there is: "tables there: a, b" or "there are no tables there".
func existing(what string, names []string) string {
	if len(names) == 0 {
		return "there are no " + what
	}
	more := ""
	if len(names) > maxListed {
		more = fmt.Sprintf(" and %d more", len(names)-maxListed)
		names = names[:maxListed]
	}
	return what + ": " + strings.Join(names, ", ") + more
}
