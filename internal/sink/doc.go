// Package sink writes the outputs of stream jobs exactly once, by upsert on a deterministic key.
//
// A job emits the rows of one output in a total order (Time, Key). After a crash it restarts
// from its last checkpoint and emits again some rows it already wrote, with identical bytes and
// identical (Time, Key). Every Sink is therefore idempotent: writing a row again replaces the
// stored copy (or, for the append-only file sink, is skipped because it is at or below the high
// water mark), so the final content holds each row exactly once.
//
// Open takes a URL; the forms are:
//
//	sqlite:///abs/path/file.db?table=T   SQLite file (pure Go, WAL, busy_timeout, synchronous=FULL)
//	sqlite://relative/path.db            path relative to the working directory
//	postgres://user:pass@host:port/db?table=T&sslmode=disable
//	postgresql://…                       the same; every other parameter goes to pgx
//	file:///abs/dir/name.jsonl?rotate_bytes=N
//	file:///abs/dir/                     a directory: the file is <output>.jsonl in it
//	/abs/or/relative/name.jsonl          a plain path ending in .jsonl is a file sink too
//
// URLs can hold passwords: RedactURL (and Redact, for any text such as an error message) shows
// them as ***, and errors of this package that quote a URL redact it.
//
// The table (SQL) or file name defaults to the job's output name. SQL tables have the columns
// ts BIGINT, row_key TEXT, row JSONB (PostgreSQL) or TEXT (SQLite), with PRIMARY KEY (ts,
// row_key), and are created when missing. Rows are read back in (ts, row_key) order with keys
// compared as bytes (COLLATE "C" in PostgreSQL, BINARY in SQLite). PostgreSQL stores the row as
// jsonb, so ReadAfter returns PostgreSQL's normalised text of it (keys reordered, whitespace
// changed); compare rows from it as JSON values, not bytes. docs/SINKS.md has the details.
//
// The package owns the sinks' storage formats and nothing else: it must not know about queries,
// checkpoints or the broker, and it never drops a row silently — every failure comes back from
// Write as an error naming the sink, and the caller retries.
package sink
