package sink

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// openReader opens a reader or fails the test; it is closed when the test ends.
func openReader(t testing.TB, rawURL, output string) Reader {
	t.Helper()
	r, err := OpenReader(context.Background(), rawURL, output)
	if err != nil {
		t.Fatalf("OpenReader(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readAllFrom reads every row of r in pages of limit.
func readAllFrom(t testing.TB, r Reader, limit int) []Row {
	t.Helper()
	var out []Row
	after := Beginning
	for {
		page, err := r.ReadAfter(context.Background(), after, limit)
		if err != nil {
			t.Fatalf("ReadAfter(%v, %d): %v", after, limit, err)
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
		after = page[len(page)-1].Pos()
	}
}

// readerHighWater returns r's high water mark or fails the test.
func readerHighWater(t testing.TB, r Reader) (Position, bool) {
	t.Helper()
	pos, ok, err := r.HighWater(context.Background())
	if err != nil {
		t.Fatalf("HighWater: %v", err)
	}
	return pos, ok
}

// dirListing names the files in dir with their sizes, to show a reader changed nothing.
func dirListing(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]int64)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Size()
	}
	return out
}

// TestReaderOfMissingOutputIsEmpty: before the writer starts, every kind of output reads as
// empty, and the reader creates neither file nor table.
func TestReaderOfMissingOutputIsEmpty(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		u := k.url(t, "later")
		r := openReader(t, u, "later")
		if _, ok := readerHighWater(t, r); ok {
			t.Fatal("HighWater of a missing output: ok")
		}
		if got := readAllFrom(t, r, 10); len(got) != 0 {
			t.Fatalf("a missing output read %d rows", len(got))
		}
		switch k.name {
		case "sqlite", "file":
			path := strings.TrimPrefix(strings.TrimPrefix(u, "sqlite://"), "file://")
			path, _, _ = strings.Cut(path, "?")
			if got := dirListing(t, filepath.Dir(path)); len(got) != 0 {
				t.Fatalf("the reader created files: %v", got)
			}
		case "postgres":
			if pgTableExists(t, u, "later") {
				t.Fatal("the reader created the table")
			}
		}
		w := open(t, u, "later")
		write(t, w, rows(0, 7))
		if hw, ok := readerHighWater(t, r); !ok || hw != row(6).Pos() {
			t.Fatalf("HighWater after the writer wrote 7 rows: %v %v", hw, ok)
		}
		checkRowsEqual(t, readAllFrom(t, r, 3), rows(0, 7), k.exactBytes)
	})
}

// pgTableExists reports whether the table exists in the database of dsn.
func pgTableExists(t testing.TB, dsn, table string) bool {
	t.Helper()
	cfg, _, err := parsePostgresURL(dsn, table)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, quoteIdent(table)).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

// TestPostgresReaderOpensWhileServerIsDown: opening a reader does not connect, so it succeeds
// with the server unreachable; the calls fail with Unavailable.
func TestPostgresReaderOpensWhileServerIsDown(t *testing.T) {
	r := openReader(t, "postgres://nobody@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "out")
	if _, _, err := r.HighWater(context.Background()); err == nil {
		t.Fatal("HighWater of an unreachable server: no error")
	}
}

// TestFileReaderFollowsWriter: a reader of a file output sees every row a writer appends, across
// rotations, and changes nothing on disk.
func TestFileReaderFollowsWriter(t *testing.T) {
	dir := t.TempDir()
	w := open(t, fileURL(dir, 400), "out")
	r := openReader(t, fileURL(dir, 0), "out") // a reader's rotate_bytes does not matter
	var pos Position = Beginning
	var followed []Row
	for i := 0; i < 60; i += 3 {
		write(t, w, rows(i, i+3))
		before := dirListing(t, dir)
		if hw, ok := readerHighWater(t, r); !ok || hw != row(i+2).Pos() {
			t.Fatalf("after writing rows to %d: HighWater %v %v", i+2, hw, ok)
		}
		// Follow in small pages, as an output reader does.
		for {
			page, err := r.ReadAfter(context.Background(), pos, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			followed = append(followed, page...)
			pos = page[len(page)-1].Pos()
		}
		if after := dirListing(t, dir); !equalListing(before, after) {
			t.Fatalf("reading changed the directory: %v → %v", before, after)
		}
	}
	checkRowsEqual(t, followed, rows(0, 60), true)
	checkRowsEqual(t, readAllFrom(t, r, 7), rows(0, 60), true)
	if n := len(dirListing(t, dir)); n < 4 {
		t.Fatalf("only %d files: the writer did not rotate enough for this test", n)
	}
}

func equalListing(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestFileReaderIgnoresTornTail: a last line without its newline (an append in progress, or a
// crashed writer's torn tail) is not read and not truncated; once complete it is read.
func TestFileReaderIgnoresTornTail(t *testing.T) {
	dir := t.TempDir()
	w := open(t, fileURL(dir, 500), "out")
	write(t, w, rows(0, 12))
	w.Close()
	active := filepath.Join(dir, "out.jsonl")
	line := appendLine(nil, ptr(row(12)))
	f, err := os.OpenFile(active, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(line[:len(line)/2]); err != nil {
		t.Fatal(err)
	}
	torn := readFile(t, active)

	r := openReader(t, fileURL(dir, 0), "out")
	if hw, ok := readerHighWater(t, r); !ok || hw != row(11).Pos() {
		t.Fatalf("HighWater with a torn tail: %v %v, want row 11", hw, ok)
	}
	checkRowsEqual(t, readAllFrom(t, r, 5), rows(0, 12), true)
	if got := readFile(t, active); !bytes.Equal(got, torn) {
		t.Fatalf("the reader changed the active file: %d bytes, had %d", len(got), len(torn))
	}

	if _, err := f.Write(line[len(line)/2:]); err != nil {
		t.Fatal(err)
	}
	if hw, ok := readerHighWater(t, r); !ok || hw != row(12).Pos() {
		t.Fatalf("HighWater after the line was completed: %v %v, want row 12", hw, ok)
	}
	page, err := r.ReadAfter(context.Background(), row(11).Pos(), 10)
	if err != nil {
		t.Fatal(err)
	}
	checkRowsEqual(t, page, rows(12, 13), true)
}

func ptr[T any](v T) *T { return &v }

// TestFileReaderBetweenRotationSteps: a rotation renamed the active file and has not created
// the new one yet; the reader reads the rotated files, and then the new active file.
func TestFileReaderBetweenRotationSteps(t *testing.T) {
	dir := t.TempDir()
	w := open(t, fileURL(dir, 1<<20), "out")
	write(t, w, rows(0, 8))
	w.Close()
	if err := os.Rename(filepath.Join(dir, "out.jsonl"), filepath.Join(dir, rotatedName("out", 1))); err != nil {
		t.Fatal(err)
	}
	r := openReader(t, fileURL(dir, 0), "out")
	checkRowsEqual(t, readAllFrom(t, r, 3), rows(0, 8), true)
	w = open(t, fileURL(dir, 1<<20), "out") // creates the active file
	write(t, w, rows(8, 10))
	checkRowsEqual(t, readAllFrom(t, r, 3), rows(0, 10), true)
}

// TestFileReaderWhileWriterRotates: a reader follows a writer that appends and rotates at the
// same time, and sees every row once, in order.
func TestFileReaderWhileWriterRotates(t *testing.T) {
	dir := t.TempDir()
	const total = 600
	w := open(t, fileURL(dir, 2000), "out")
	r := openReader(t, fileURL(dir, 0), "out")
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < total && err == nil; i += 5 {
			err = w.Write(context.Background(), rows(i, i+5))
		}
		done <- err
	}()
	var got []Row
	pos := Beginning
	finished := false
	for {
		page, err := r.ReadAfter(context.Background(), pos, 17)
		if err != nil {
			if !finished {
				<-done
			}
			t.Fatalf("ReadAfter(%v) while the writer rotates: %v", pos, err)
		}
		got = append(got, page...)
		if len(page) > 0 {
			pos = page[len(page)-1].Pos()
			continue
		}
		if finished {
			break // nothing more after the writer ended
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true // read once more: the last rows may have come since
		default:
			runtime.Gosched()
		}
	}
	checkRowsEqual(t, got, rows(0, total), true)
	if n := len(dirListing(t, dir)); n < 10 {
		t.Fatalf("only %d files: the writer did not rotate enough for this test", n)
	}
}
