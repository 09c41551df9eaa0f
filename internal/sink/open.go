package sink

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// urlForms lists the accepted URL forms, for error messages.
const urlForms = "sqlite:///abs/path.db?table=T, sqlite://relative/path.db, " +
	"postgres://user:pass@host:port/db?table=T&sslmode=disable (or postgresql://), " +
	"file:///abs/dir/name.jsonl?rotate_bytes=N, file:///abs/dir/, or a plain path ending in .jsonl"

// Open opens the sink a URL names, creating its table/file when missing. output is the job output name (the default table/file name).
func Open(ctx context.Context, url string, output string) (Sink, error) {
	scheme, rest, hasScheme := strings.Cut(url, "://")
	switch {
	case hasScheme && scheme == "sqlite":
		path, table, err := parseSQLiteURL(rest, output)
		if err != nil {
			return nil, err
		}
		return openSQLite(ctx, path, table)
	case hasScheme && (scheme == "postgres" || scheme == "postgresql"):
		return openPostgres(ctx, url, output)
	case hasScheme && scheme == "file":
		cfg, err := parseFileURL(rest, output)
		if err != nil {
			return nil, err
		}
		return openFile(ctx, cfg)
	case !hasScheme && isJSONLPath(url):
		cfg, err := parseFileURL(url, output)
		if err != nil {
			return nil, err
		}
		return openFile(ctx, cfg)
	case hasScheme:
		return nil, errcode.New(errcode.InvalidArgument,
			"sink URL scheme %q is not supported; the supported schemes are sqlite, postgres (postgresql) and file; accepted forms: %s",
			scheme, urlForms)
	default:
		return nil, errcode.New(errcode.InvalidArgument,
			"sink URL %q has no scheme and is not a path ending in .jsonl; accepted forms: %s", Redact(url), urlForms)
	}
}

// isJSONLPath reports whether s is a plain path naming a JSON-lines file, optionally followed by
// a ?query.
func isJSONLPath(s string) bool {
	path, _, _ := strings.Cut(s, "?")
	return strings.HasSuffix(path, ".jsonl")
}

// splitQuery splits "path?query" and parses the query, rejecting parameters not in allowed.
func splitQuery(kind, rest string, allowed ...string) (path string, q url.Values, err error) {
	path, raw, _ := strings.Cut(rest, "?")
	q, err = url.ParseQuery(raw)
	if err != nil {
		return "", nil, errcode.New(errcode.InvalidArgument, "%s sink URL has a malformed query %q: %w", kind, Redact(raw), err)
	}
	for k := range q {
		if !contains(allowed, k) {
			return "", nil, errcode.New(errcode.InvalidArgument,
				"%s sink URL has the unknown parameter %q; the accepted parameters are: %s", kind, k, strings.Join(allowed, ", "))
		}
	}
	if path, err = url.PathUnescape(path); err != nil {
		return "", nil, errcode.New(errcode.InvalidArgument, "%s sink URL has a malformed path %q: %w", kind, path, err)
	}
	if path == "" {
		return "", nil, errcode.New(errcode.InvalidArgument, "%s sink URL has no path; accepted forms: %s", kind, urlForms)
	}
	return path, q, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseSQLiteURL parses the part after "sqlite://": "/abs/path.db" or "relative/path.db", with an
// optional ?table=T.
func parseSQLiteURL(rest, output string) (path, table string, err error) {
	path, q, err := splitQuery("sqlite", rest, "table")
	if err != nil {
		return "", "", err
	}
	table = q.Get("table")
	if table == "" {
		table = output
	}
	if err := checkTableName(table); err != nil {
		return "", "", err
	}
	if strings.HasPrefix(path, "file:") {
		path = "./" + path // a plain name, never a SQLite URI filename
	}
	return path, table, nil
}

// checkTableName accepts what both PostgreSQL and SQLite can hold as a quoted identifier:
// 1 to 63 bytes of printable UTF-8. The name is always quoted, so it is used exactly as given
// (case-sensitive, hyphens and spaces allowed).
func checkTableName(name string) error {
	if name == "" || len(name) > 63 || !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool {
		return !unicode.IsPrint(r) && r != ' '
	}) >= 0 {
		return errcode.New(errcode.InvalidArgument,
			"sink table name %q is not valid: it must be 1 to 63 bytes of printable UTF-8; set ?table= in the sink URL or rename the output", name)
	}
	return nil
}

// quoteIdent quotes a checked name as an SQL identifier.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// checkDir returns an error when dir, the directory a sink's file goes in, does not exist.
func checkDir(kind, dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err != nil && os.IsNotExist(err):
		return errcode.New(errcode.InvalidArgument, "%s sink directory %s does not exist; create it first", kind, dir)
	case err != nil:
		return errcode.New(errcode.Unavailable, "%s sink directory %s: %w", kind, dir, err)
	case !fi.IsDir():
		return errcode.New(errcode.InvalidArgument, "%s sink: %s is not a directory", kind, dir)
	}
	return nil
}

// absPath makes path absolute, for stable names in errors and rotation.
func absPath(kind, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s sink path %s: %w", kind, path, err)
	}
	return abs, nil
}

// LocalPath returns the local file a sink URL writes, or a reference table URL reads: the
// SQLite database, or the JSON-lines file (rotated files and SQLite's journal go beside it, in
// the same directory). It is "" for PostgreSQL, which is not a local file. The path is as the
// URL gives it (relative paths are relative to the working directory). A caller that confines
// jobs to a directory checks this path; output is the job output name, as for Open.
func LocalPath(url, output string) (string, error) {
	scheme, rest, hasScheme := strings.Cut(url, "://")
	switch {
	case hasScheme && scheme == "sqlite":
		path, _, err := splitQuery("sqlite", rest, "table")
		if strings.HasPrefix(path, "file:") {
			path = "./" + path // as parseSQLiteURL: a plain name, never a SQLite URI filename
		}
		return path, err
	case hasScheme && (scheme == "postgres" || scheme == "postgresql"):
		return "", nil
	case hasScheme && scheme == "file":
		cfg, err := parseFileURL(rest, output)
		return cfg.path, err
	case !hasScheme && isJSONLPath(url):
		cfg, err := parseFileURL(url, output)
		return cfg.path, err
	}
	return "", errcode.New(errcode.InvalidArgument, "sink URL %q is not supported; accepted forms: %s", Redact(url), urlForms)
}
