package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// job create refuses an output that can never be opened, and job start --wait reports Running
// or the failure instead of a "Starting" table (audit T20).
func TestCLIJobCreateChecksSinkAndStartWaits(t *testing.T) {
	n := newCLIJobsNode(t)
	n.must("", "namespace", "create", "shop-ns")
	n.must("", "hub", "create", "shop-ns/orders", "--partitions", "1")
	create := func(name, out string) (string, error) {
		return n.run("", "job", "create", name, "--query", "SELECT k INTO out FROM orders", "--input", "orders=shop-ns/orders",
			"--output", "out="+out)
	}
	missing := filepath.Join(t.TempDir(), "nonexistent-dir")
	for _, url := range []string{"sqlite://" + missing + "/x.db", missing + "/x.jsonl", "file://" + missing + "/"} {
		out, err := create("bad", url)
		if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "output out") ||
			!strings.Contains(err.Error(), missing+" does not exist; create it first") {
			t.Fatalf("job create --output out=%s: %v, want a refusal naming the missing directory\n%s", url, err, out)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("job create made the directory %s (stat: %v)", missing, err)
	}
	if out, _ := n.run("", "job", "list"); strings.Contains(out, "bad") {
		t.Fatalf("a refused job was stored:\n%s", out)
	}

	// A good output: --wait returns once the job runs.
	dir := t.TempDir()
	n.must("", "job", "create", "good", "--query", "SELECT k INTO out FROM orders", "--input", "orders=shop-ns/orders",
		"--output", "out=sqlite://"+filepath.Join(dir, "out.db"))
	if out := n.must("", "job", "start", "good", "--wait=30s"); !strings.Contains(out, "Running") {
		t.Fatalf("job start --wait of a good job:\n%s", out)
	}

	// The directory disappears between create and start: --wait reports the failure.
	gone := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	n.must("", "job", "create", "gone", "--query", "SELECT k INTO out FROM orders", "--input", "orders=shop-ns/orders",
		"--output", "out=sqlite://"+filepath.Join(gone, "out.db"))
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	out, err := n.run("", "job", "start", "gone", "--wait=30s")
	if err == nil || errcode.ExitCode(err) == 0 || !strings.Contains(err.Error(), "job gone") ||
		!strings.Contains(err.Error(), gone+" does not exist") {
		t.Fatalf("job start --wait of a job whose output directory is gone: %v (exit code %d)\n%s", err, errcode.ExitCode(err), out)
	}

	// A PostgreSQL server that does not answer is accepted at create (it may be up later);
	// --wait says the job is degraded and why.
	n.must("", "job", "create", "pg", "--query", "SELECT k INTO out FROM orders", "--input", "orders=shop-ns/orders",
		"--output", "out=postgres://nobody@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	out, err = n.run("", "job", "start", "pg", "--wait=30s")
	if err == nil || !strings.Contains(err.Error(), "degraded") || !strings.Contains(err.Error(), "cannot connect") {
		t.Fatalf("job start --wait of a job whose PostgreSQL is down: %v\n%s", err, out)
	}
}
