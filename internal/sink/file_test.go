package sink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// fileURL is the URL of out.jsonl in dir, rotating at rotate bytes (0: the default).
func fileURL(dir string, rotate int64) string {
	u := "file://" + filepath.Join(dir, "out.jsonl")
	if rotate > 0 {
		u += "?rotate_bytes=" + strconv.FormatInt(rotate, 10)
	}
	return u
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFileLineFormat(t *testing.T) {
	dir := t.TempDir()
	s := open(t, fileURL(dir, 0), "out")
	write(t, s, []Row{
		{Time: t0, Key: "d1", Data: []byte(`{"DeviceId":"d1","Count":3}`)},
		{Time: t0 + 1234567, Key: `q"\`, Data: []byte("{\n  \"Pretty\": [1, 2]\n}")},
	})
	want := `{"ts":"2024-05-01T12:00:00.0000000Z","key":"d1","row":{"DeviceId":"d1","Count":3}}` + "\n" +
		`{"ts":"2024-05-01T12:00:00.1234567Z","key":"q\"\\","row":{"Pretty":[1,2]}}` + "\n"
	if got := readFile(t, filepath.Join(dir, "out.jsonl")); string(got) != want {
		t.Fatalf("file holds\n%s\nwant\n%s", got, want)
	}
}

func TestFileTornTailIsTruncated(t *testing.T) {
	src := t.TempDir()
	s := open(t, fileURL(src, 0), "out")
	write(t, s, rows(0, 10))
	s.Close()
	full := readFile(t, filepath.Join(src, "out.jsonl"))
	lineEnds := []int{} // offset after each line
	for i, c := range full {
		if c == '\n' {
			lineEnds = append(lineEnds, i+1)
		}
	}
	tests := []struct {
		name     string
		cut      int // the file's length after the crash
		complete int // whole lines left
	}{
		{"mid last line", lineEnds[9] - 20, 9},
		{"all but the last newline", lineEnds[9] - 1, 9},
		{"a few bytes into line 6", lineEnds[5] + 3, 6},
		{"one byte into the first line", 1, 0},
		{"at a line boundary", lineEnds[4], 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.jsonl")
			writeFile(t, path, full[:tc.cut])
			s := open(t, fileURL(dir, 0), "out")
			checkRowsEqual(t, readAll(t, s, 3), rows(0, tc.complete), true)
			wantLen := 0
			if tc.complete > 0 {
				wantLen = lineEnds[tc.complete-1]
				if pos, ok := highWater(t, s); !ok || pos != row(tc.complete-1).Pos() {
					t.Fatalf("HighWater = %v, %v; want %v", pos, ok, row(tc.complete-1).Pos())
				}
			}
			if got := readFile(t, path); !bytes.Equal(got, full[:wantLen]) {
				t.Fatalf("after open the file has %d bytes, want the %d bytes of whole lines", len(got), wantLen)
			}
			write(t, s, rows(0, 10)) // the job's replay from its checkpoint
			checkRowsEqual(t, readAll(t, s, 3), rows(0, 10), true)
			if got := readFile(t, path); !bytes.Equal(got, full) {
				t.Fatal("after the replay the file differs from one written without a crash")
			}
		})
	}
}

func TestFileCorruptionIsAnError(t *testing.T) {
	src := t.TempDir()
	s := open(t, fileURL(src, 0), "out")
	write(t, s, rows(0, 6))
	s.Close()
	full := readFile(t, filepath.Join(src, "out.jsonl"))
	lines := strings.SplitAfter(string(full), "\n")[:6]
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"a damaged line in the middle", strings.Replace(string(full), `"row":{"n":2`, `"row":{"n":2,`, 1), "is not a sink row"},
		{"zeros before the last line", lines[0] + lines[1] + strings.Repeat("\x00", 30) + "\n" + lines[2], "is not a sink row"},
		{"an empty line", lines[0] + "\n" + lines[1], "is not a sink row"},
		{"rows out of order", lines[0] + lines[2] + lines[1], "does not come after"},
		{"a repeated row", lines[0] + lines[1] + lines[1], "does not come after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.jsonl")
			writeFile(t, path, []byte(tc.content))
			_, err := Open(context.Background(), fileURL(dir, 0), "out")
			if !errcode.Is(err, errcode.CorruptData) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v; want a CorruptData error naming %s and saying %q", err, path, tc.want)
			}
			if got := readFile(t, path); string(got) != tc.content {
				t.Fatal("opening a corrupt file changed it")
			}
		})
	}
}

// segmentFiles lists the rotated files and the active file of out.jsonl in dir, in order.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	paths, _, err := listRotated(dir, "out")
	if err != nil {
		t.Fatal(err)
	}
	return append(paths, filepath.Join(dir, "out.jsonl"))
}

// concatSegments returns the bytes of all segments in order.
func concatSegments(t testing.TB, dir string) []byte {
	var all []byte
	for _, p := range segmentFiles(t, dir) {
		all = append(all, readFile(t, p)...)
	}
	return all
}

// linesOf encodes rows as the file sink does.
func linesOf(rs []Row) []byte {
	var b []byte
	for i := range rs {
		b = appendLine(b, &rs[i])
	}
	return b
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	const rotate = 1000
	u := fileURL(dir, rotate)
	s := open(t, u, "out")
	for i := 0; i < 200; i += 7 {
		write(t, s, rows(max(i-3, 0), min(i+7, 200))) // each batch repeats the last rows of the one before
	}
	files := segmentFiles(t, dir)
	if len(files) < 10 {
		t.Fatalf("rotating at %d bytes made only %d files", rotate, len(files))
	}
	for i, p := range files[:len(files)-1] {
		if want := filepath.Join(dir, fmt.Sprintf("out-%08d.jsonl", i+1)); p != want {
			t.Fatalf("rotated file %d is %s, want %s", i, p, want)
		}
		if fi, _ := os.Stat(p); fi.Size() < rotate {
			t.Fatalf("%s has %d bytes; rotation happens only past %d", p, fi.Size(), rotate)
		}
	}
	if got := concatSegments(t, dir); !bytes.Equal(got, linesOf(rows(0, 200))) {
		t.Fatal("the files together do not hold each row exactly once, in order")
	}
	for _, limit := range []int{1, 9, 64, 500} {
		checkRowsEqual(t, readAll(t, s, limit), rows(0, 200), true)
	}
	s.Close()
	s = open(t, u, "out")
	checkRowsEqual(t, readAll(t, s, 13), rows(0, 200), true)
	write(t, s, rows(20, 230)) // a replay reaching back into rotated files
	checkRowsEqual(t, readAll(t, s, 13), rows(0, 230), true)
	if got := concatSegments(t, dir); !bytes.Equal(got, linesOf(rows(0, 230))) {
		t.Fatal("after a replay across rotated files the files do not hold each row exactly once")
	}
}

// TestFileRotationCrashStates puts on disk each state a crash between rotation steps can leave
// (see rotateLocked) and checks that opening recovers it with nothing lost or duplicated.
func TestFileRotationCrashStates(t *testing.T) {
	const rotate = 2000
	tests := []struct {
		name  string
		crash func(t *testing.T, dir string) // turns a directory with one big out.jsonl into the state
	}{
		{"before the rename", func(t *testing.T, dir string) {}},
		{"after the rename, before the new active file", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "out.jsonl"), filepath.Join(dir, rotatedName("out", 1)))
		}},
		{"after the new active file was created", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "out.jsonl"), filepath.Join(dir, rotatedName("out", 1)))
			writeFile(t, filepath.Join(dir, "out.jsonl"), nil)
		}},
		{"after the rename, with a torn append to the new active file", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "out.jsonl"), filepath.Join(dir, rotatedName("out", 1)))
			r := row(60)
			writeFile(t, filepath.Join(dir, "out.jsonl"), appendLine(nil, &r)[:30])
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			big := open(t, fileURL(dir, 1<<30), "out")
			write(t, big, rows(0, 60)) // > rotate bytes, not rotated yet
			big.Close()
			tc.crash(t, dir)
			s := open(t, fileURL(dir, rotate), "out")
			if pos, ok := highWater(t, s); !ok || pos != row(59).Pos() {
				t.Fatalf("HighWater after recovery = %v, %v; want %v", pos, ok, row(59).Pos())
			}
			checkRowsEqual(t, readAll(t, s, 7), rows(0, 60), true)
			if fi, err := os.Stat(filepath.Join(dir, "out.jsonl")); err != nil || fi.Size() != 0 {
				t.Fatalf("after recovery the active file should exist and be empty: %v, %v", fi, err)
			}
			write(t, s, rows(50, 120)) // the job's replay from its checkpoint
			checkRowsEqual(t, readAll(t, s, 7), rows(0, 120), true)
			if got := concatSegments(t, dir); !bytes.Equal(got, linesOf(rows(0, 120))) {
				t.Fatal("the files do not hold each row exactly once, in order")
			}
			if _, err := os.Stat(filepath.Join(dir, rotatedName("out", 2))); err != nil {
				t.Fatalf("the next rotation should be seq 2: %v", err)
			}
		})
	}
}

func TestFileRotatedFileDamaged(t *testing.T) {
	dir := t.TempDir()
	s := open(t, fileURL(dir, 500), "out")
	write(t, s, rows(0, 40))
	s.Close()
	first := filepath.Join(dir, rotatedName("out", 1))
	content := readFile(t, first)
	writeFile(t, first, content[:len(content)-5])
	_, err := Open(context.Background(), fileURL(dir, 500), "out")
	if !errcode.Is(err, errcode.CorruptData) || !strings.Contains(err.Error(), first) {
		t.Fatalf("Open with a torn rotated file = %v; want a CorruptData error naming %s", err, first)
	}
}

func TestFileDirectoryURL(t *testing.T) {
	dir := t.TempDir()
	s := open(t, "file://"+dir+"/", "alerts")
	write(t, s, rows(0, 3))
	if _, err := os.Stat(filepath.Join(dir, "alerts.jsonl")); err != nil {
		t.Fatalf("a directory URL should write <output>.jsonl in it: %v", err)
	}
	plain := open(t, filepath.Join(dir, "plain.jsonl"), "ignored")
	write(t, plain, rows(0, 3))
	if _, err := os.Stat(filepath.Join(dir, "plain.jsonl")); err != nil {
		t.Fatalf("a plain .jsonl path should be a file sink: %v", err)
	}
}

// TestFileReloadsAfterAFailedWrite breaks the active file under the sink: the failed Write says
// so, and the next one reloads from disk and stores each row once.
func TestFileReloadsAfterAFailedWrite(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), fileURL(dir, 0), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, rows(0, 10))
	f := s.(*File)
	f.mu.Lock()
	f.mu.active.Close() // every write and fsync now fails
	f.mu.Unlock()
	err = s.Write(context.Background(), rows(5, 20))
	if !errcode.Is(err, errcode.Unavailable) || !strings.Contains(err.Error(), "write them again") {
		t.Fatalf("Write on a broken file = %v; want an Unavailable error asking to write again", err)
	}
	write(t, s, rows(5, 20)) // the job's retry
	checkRowsEqual(t, readAll(t, s, 6), rows(0, 20), true)
	if got := readFile(t, filepath.Join(dir, "out.jsonl")); !bytes.Equal(got, linesOf(rows(0, 20))) {
		t.Fatal("after the retry the file does not hold each row exactly once")
	}
}
