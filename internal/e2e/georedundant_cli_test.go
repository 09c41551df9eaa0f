package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGeoRedundantJobsCLI drives geo-redundant jobs through the CLI as a user does, with two
// real region processes: `job deploy --regions`, `send --regions` while one region is killed
// (its events spooled, then replayed by the next send), `job show --regions` and `output diff`.
// What must hold: both regions' outputs end identical, and diff says so with exit status 0.
func TestGeoRedundantJobsCLI(t *testing.T) {
	dir := t.TempDir()
	east := startNode(t, filepath.Join(dir, "east"), "--region", "east")
	west := startNode(t, filepath.Join(dir, "west"), "--region", "west")
	for _, n := range []*node{east, west} {
		n.cli(t, "", "namespace", "create", "geo-jobs")
		n.cli(t, "", "hub", "create", "geo-jobs/readings", "--partitions", "2")
	}
	regions := filepath.Join(dir, "regions.json")
	file := fmt.Sprintf(`{"regions":[{"name":"east","server":"http://%s","adminKeyFile":%q},{"name":"west","server":"http://%s","adminKeyFile":%q}]}`,
		east.HTTPAddr, filepath.Join(east.data, "admin-key"), west.HTTPAddr, filepath.Join(west.data, "admin-key"))
	if err := os.WriteFile(regions, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	geo := func(stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, tandemBin, args...)
		cmd.Env = append(os.Environ(), "TANDEM_REGIONS_FILE="+regions)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			err = fmt.Errorf("tandem %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out), err
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := geo(stdin, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	query := filepath.Join(dir, "q.saql")
	if err := os.WriteFile(query, []byte(`SELECT k, COUNT(*) AS n, System.Timestamp() AS w INTO counts
FROM readings TIMESTAMP BY t GROUP BY k, TumblingWindow(second, 10)`), 0o600); err != nil {
		t.Fatal(err)
	}
	must("", "job", "deploy", "counts", "--regions", "east,west", "--query-file", query,
		"--input", "readings=geo-jobs/readings", "--output", "counts=sqlite://"+dir+"/{region}.db")

	base := time.Now().UTC().Truncate(10 * time.Second)
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, `{"k":"k%d","t":"%s"}`+"\n", i%4, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
		}
		return b.String()
	}
	spool := filepath.Join(dir, "spool")
	send := func(stdin string, extra ...string) string {
		return must(stdin, append([]string{"send", "--regions", "east,west", "--spool", spool, "geo-jobs/readings"}, extra...)...)
	}
	send(lines(0, 20))
	west.kill9()
	if out := send(lines(20, 40)); !strings.Contains(out, "west: DOWN") || !strings.Contains(out, "spooled in "+spool) {
		t.Fatalf("send with west down should say it spooled west's events:\n%s", out)
	}
	west.restart()
	if out := send(lines(40, 60), "--wait", "60s"); strings.Contains(out, "DOWN") {
		t.Fatalf("send --wait with west back should replay its spool:\n%s", out)
	}

	// Windows up to base+50 close (the last events are at base+59 in both partitions). Under CI
	// load the watermarks once stood at base+49 after 60 s (every event read, 3 counted late),
	// so the wait is generous.
	type shown struct {
		Status struct {
			OutputRows int64 `json:"outputRows"`
			Outputs    map[string]struct {
				Time time.Time `json:"time"`
				Key  string    `json:"key"`
			} `json:"outputs"`
		} `json:"status"`
	}
	waitFor(t, 150*time.Second, "both regions' outputs at the same high-water mark past base+50", func() (bool, string) {
		out, err := geo("", "job", "show", "counts", "--regions", "east,west", "-o", "json")
		if err != nil {
			return false, err.Error()
		}
		var jobs map[string]shown
		if err := json.Unmarshal([]byte(out), &jobs); err != nil {
			return false, out
		}
		e, w := jobs["east"].Status.Outputs["counts"], jobs["west"].Status.Outputs["counts"]
		return e == w && !e.Time.Before(base.Add(50*time.Second)), out
	})
	table := must("", "job", "show", "counts", "--regions", "east,west")
	if !strings.Contains(table, "EAST") || !strings.Contains(table, "WEST") || !strings.Contains(table, "highWater counts") {
		t.Fatalf("job show --regions is not side by side:\n%s", table)
	}
	diff := must("", "output", "diff", "--primary", "sqlite://"+dir+"/east.db", "--secondary", "sqlite://"+dir+"/west.db", "--output", "counts")
	t.Logf("output diff:\n%s", diff)

	// A row only in east: diff exits with status 1 (Mismatch).
	_, err := geo("", "output", "diff", "--primary", "sqlite://"+dir+"/east.db", "--secondary", "sqlite://"+dir+"/west.db",
		"--output", "counts", "--to", base.Add(20*time.Second).Format(time.RFC3339))
	if err != nil {
		t.Fatalf("a bounded diff of identical outputs: %v", err)
	}
	// A secondary that does not exist (a typo) is an error naming the files there, never a
	// list of rows "missing" on it (issue 14).
	missing := exec.Command(tandemBin, "output", "diff", "--primary", "sqlite://"+dir+"/east.db", "--secondary", "sqlite://"+dir+"/missing.db", "--output", "counts")
	var stderr strings.Builder
	missing.Stderr = &stderr
	err = missing.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "missing.db does not exist") ||
		!strings.Contains(stderr.String(), "east.db, west.db") {
		t.Fatalf("diff against a missing output: %v, want exit status 3 (NotFound) naming the files there\n%s", err, stderr.String())
	}
}
