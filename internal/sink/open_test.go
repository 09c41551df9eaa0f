package sink

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestOpenRejectsBadURLs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, url, output string
		want              []string // all must be in the message
	}{
		{"an unknown scheme", "mysql://db/x", "out", []string{`"mysql"`, "sqlite, postgres (postgresql) and file"}},
		{"no scheme and no .jsonl", "out.csv", "out", []string{"no scheme", "sqlite:///abs/path.db"}},
		{"sqlite without a path", "sqlite://", "out", []string{"sqlite sink URL has no path"}},
		{"sqlite with an unknown parameter", "sqlite://" + dir + "/x.db?tbl=t", "out", []string{`"tbl"`, "table"}},
		{"sqlite in a missing directory", "sqlite://" + dir + "/missing/x.db", "out", []string{"missing does not exist"}},
		{"a table name too long", "sqlite://" + dir + "/x.db?table=" + strings.Repeat("t", 64), "out", []string{"1 to 63 bytes"}},
		{"an empty output name as table", "sqlite://" + dir + "/x.db", "", []string{"table name"}},
		{"a bad rotate_bytes", "file://" + dir + "/x.jsonl?rotate_bytes=-1", "out", []string{"rotate_bytes", "positive"}},
		{"a directory and an output name with a slash", "file://" + dir, "a/b", []string{"cannot be a file name"}},
		{"a file in a missing directory", dir + "/missing/x.jsonl", "out", []string{"missing does not exist"}},
		{"a malformed postgres URL", "postgres://u:secret@host:port/db", "out", []string{"postgres sink URL is malformed", "postgres://user:pass@host:port/db"}},
		{"a bad postgres parameter", "postgres://u:secret@127.0.0.1:5432/db?sslmode=bogus", "out", []string{"postgres sink URL", "not valid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.url, tc.output)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !errcode.Is(err, errcode.InvalidArgument) {
				t.Errorf("Open(%q) = %v; want an InvalidArgument error", tc.url, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open(%q) = %v; want it to say %q", tc.url, err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open(%q) = %v; the error shows the password", tc.url, err)
			}
		})
	}
}

// closedPort returns a port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestPostgresUnreachable(t *testing.T) {
	port := closedPort(t)
	url := "postgres://tandem:secret@127.0.0.1:" + strconv.Itoa(port) + "/jobs?sslmode=disable&connect_timeout=5&table=alerts"
	start := time.Now()
	s, err := Open(context.Background(), url, "out")
	if err == nil {
		s.Close()
		t.Fatal("Open of a closed port succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Open took %v to fail; want it quick", took)
	}
	msg := err.Error()
	for _, w := range []string{"postgres sink 127.0.0.1:" + strconv.Itoa(port) + "/jobs table alerts", "cannot connect", "check that the server is running"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error %q shows the password", msg)
	}
	if !errcode.Is(err, errcode.Unavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %q should be Unavailable and wrap the cause (connection refused)", msg)
	}
}

func TestSQLiteRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("data", 0o755); err != nil {
		t.Fatal(err)
	}
	s := open(t, "sqlite://data/out.db", "out")
	write(t, s, rows(0, 3))
	if _, err := os.Stat(filepath.Join(dir, "data", "out.db")); err != nil {
		t.Fatalf("sqlite://data/out.db should be relative to the working directory: %v", err)
	}
}
