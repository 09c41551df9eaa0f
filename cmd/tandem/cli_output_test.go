package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// runOutputCmd runs `tandem ARGS…` with the output commands and returns stdout, stderr and
// the error.
func runOutputCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "tandem", SilenceUsage: true, SilenceErrors: true}
	addClientFlags(root)
	root.AddCommand(newOutputCmd())
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

var outputT0 = sink.TimeTicks(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))

// outputRow is row i of the test output, one per second.
func outputRow(i int) sink.Row {
	return sink.Row{Time: outputT0 + int64(i)*1e7, Key: fmt.Sprintf("k%03d", i), Data: fmt.Appendf(nil, `{"n":%d}`, i)}
}

// writeOutput writes rows [from, to) except skip to the output at url.
func writeOutput(t *testing.T, url string, from, to int, skip ...int) {
	t.Helper()
	s, err := sink.Open(context.Background(), url, "out")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rs []sink.Row
	for i := from; i < to; i++ {
		keep := true
		for _, k := range skip {
			keep = keep && k != i
		}
		if keep {
			rs = append(rs, outputRow(i))
		}
	}
	if err := s.Write(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
}

func sqliteOutput(t *testing.T, name string) string {
	return "sqlite://" + filepath.Join(t.TempDir(), name+".db")
}

func TestCLIOutputDiff(t *testing.T) {
	p, s := sqliteOutput(t, "primary"), sqliteOutput(t, "secondary")
	writeOutput(t, p, 0, 50)
	writeOutput(t, s, 0, 50)
	out, _, err := runOutputCmd(t, "output", "diff", "--primary", p, "--secondary", s, "--output", "out")
	if err != nil || !strings.Contains(out, "COMPARED") || !strings.Contains(out, "50") {
		t.Fatalf("diff of equal outputs: %v\n%s", err, out)
	}

	p2, s2 := sqliteOutput(t, "primary2"), sqliteOutput(t, "secondary2")
	writeOutput(t, p2, 0, 45, 10) // lacks row 10 and rows 45..49
	writeOutput(t, s2, 0, 50, 20) // lacks row 20
	writeOutput(t, s2, 30, 31)    // (unchanged)
	changed, err := sink.Open(context.Background(), s2, "out")
	if err != nil {
		t.Fatal(err)
	}
	r := outputRow(30)
	r.Data = []byte(`{"n":"changed"}`)
	if err := changed.Write(context.Background(), []sink.Row{r}); err != nil {
		t.Fatal(err)
	}
	changed.Close()

	out, _, err = runOutputCmd(t, "output", "diff", "--primary", p2, "--secondary", s2, "--output", "out", "--max-listed", "3")
	if errcode.ExitCode(err) != 1 || !errcode.Is(err, errcode.Mismatch) {
		t.Fatalf("diff of different outputs: %v (exit code %d), want exit code 1\n%s", err, errcode.ExitCode(err), out)
	}
	for _, want := range []string{"k010", "k045", "k046", "k020", "k030", `{"n":"changed"}`, "--max-listed"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "k047") {
		t.Errorf("diff listed more than --max-listed rows:\n%s", out)
	}
	marks := map[string]string{"k010": "-", "k020": "+", "k030": "~"}
	for _, line := range strings.Split(out, "\n") {
		for key, mark := range marks {
			if strings.Contains(line, key) && !strings.HasPrefix(line, mark) {
				t.Errorf("row %s is not marked %s: %q", key, mark, line)
			}
		}
	}

	// -o json, given before or after the command.
	for _, args := range [][]string{
		{"-o", "json", "output", "diff", "--primary", p2, "--secondary", s2, "--output", "out"},
		{"output", "diff", "--primary", p2, "--secondary", s2, "--output", "out", "-o", "json"},
	} {
		out, _, err = runOutputCmd(t, args...)
		var rep struct {
			Equal                   bool
			Compared                int64
			MissingOnPrimaryCount   int64                  `json:"missing_on_primary_count"`
			MissingOnSecondaryCount int64                  `json:"missing_on_secondary_count"`
			DifferCount             int64                  `json:"differ_count"`
			MissingOnPrimary        []struct{ Key string } `json:"missing_on_primary"`
			Differ                  []struct {
				Key                string
				Primary, Secondary json.RawMessage
			} `json:"differ"`
		}
		if errcode.ExitCode(err) != 1 || json.Unmarshal([]byte(out), &rep) != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if rep.Equal || rep.Compared != 50 || rep.MissingOnPrimaryCount != 6 || rep.MissingOnSecondaryCount != 1 || rep.DifferCount != 1 ||
			len(rep.MissingOnPrimary) != 6 || rep.MissingOnPrimary[0].Key != "k010" || len(rep.Differ) != 1 || compact(rep.Differ[0].Secondary) != `{"n":"changed"}` {
			t.Fatalf("%v: report %+v", args, rep)
		}
	}

	from, to := sink.TicksTime(outputRow(40).Time).Format(time.RFC3339), sink.TicksTime(outputRow(45).Time).Format(time.RFC3339)
	if out, _, err = runOutputCmd(t, "output", "diff", "--primary", p2, "--secondary", s2, "--output", "out", "--from", from, "--to", to); err != nil {
		t.Fatalf("diff of rows 40..44, which are equal: %v\n%s", err, out)
	}
	if _, _, err = runOutputCmd(t, "output", "diff", "--primary", p2, "--secondary", s2, "--output", "out", "--from", "yesterday"); !errcode.Is(err, errcode.InvalidArgument) {
		t.Fatalf("--from yesterday: %v", err)
	}
}

func TestCLIOutputRepair(t *testing.T) {
	p, s := sqliteOutput(t, "primary"), sqliteOutput(t, "secondary")
	writeOutput(t, p, 0, 30, 3, 4)
	writeOutput(t, s, 0, 40)
	out, _, err := runOutputCmd(t, "output", "repair", "--primary", p, "--secondary", s, "--output", "out")
	if err != nil || !strings.Contains(out, "compared 40 rows, copied 12 rows") {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	out, _, err = runOutputCmd(t, "output", "repair", "--primary", p, "--secondary", s, "--output", "out")
	if err != nil || !strings.Contains(out, "copied 0 rows") {
		t.Fatalf("second repair: %v\n%s", err, out)
	}
	if out, _, err = runOutputCmd(t, "output", "diff", "--primary", p, "--secondary", s, "--output", "out"); err != nil {
		t.Fatalf("diff after repair: %v\n%s", err, out)
	}
	file := "file://" + filepath.Join(t.TempDir(), "out.jsonl")
	if _, _, err = runOutputCmd(t, "output", "repair", "--primary", file, "--secondary", s, "--output", "out"); !errcode.Is(err, errcode.InvalidArgument) ||
		!strings.Contains(err.Error(), "catches up by itself") {
		t.Fatalf("repair of a file primary: %v", err)
	}
}

// followLine is a line of `tandem output follow`.
type followLine struct {
	Time, Key, Source string
	Data              json.RawMessage
}

func parseFollow(t *testing.T, out string) []followLine {
	t.Helper()
	var lines []followLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l followLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("follow printed %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

func TestCLIOutputFollow(t *testing.T) {
	p, s := sqliteOutput(t, "primary"), sqliteOutput(t, "secondary")
	writeOutput(t, p, 0, 10)
	writeOutput(t, s, 0, 10)
	state := filepath.Join(t.TempDir(), "reader.state")
	args := []string{"output", "follow", "--primary", p, "--secondary", s, "--output", "out", "--state", state, "--max-rows", "4"}
	var keys []string
	for run := 0; run < 2; run++ {
		out, _, err := runOutputCmd(t, args...)
		if err != nil {
			t.Fatalf("follow run %d: %v\n%s", run, err, out)
		}
		lines := parseFollow(t, out)
		if len(lines) != 4 {
			t.Fatalf("follow --max-rows 4 printed %d lines:\n%s", len(lines), out)
		}
		for _, l := range lines {
			if l.Source != "primary" {
				t.Fatalf("line %+v: source %q", l, l.Source)
			}
			keys = append(keys, l.Key)
		}
		if run == 0 && (lines[0].Time != "2024-05-01T12:00:00Z" || string(lines[0].Data) != `{"n":0}`) {
			t.Fatalf("first line %+v", lines[0])
		}
	}
	if want := "k000 k001 k002 k003 k004 k005 k006 k007"; strings.Join(keys, " ") != want {
		t.Fatalf("two runs with --state printed %v, want %s", keys, want)
	}

	// An unreachable primary: follow switches to the secondary and says so on stderr.
	down := "postgres://nobody@127.0.0.1:1/db?sslmode=disable&connect_timeout=2&table=out"
	out, stderr, err := runOutputCmd(t, "output", "follow", "--primary", down, "--secondary", s, "--output", "out",
		"--error-grace", "1ms", "--poll", "1ms", "--max-rows", "10")
	if err != nil {
		t.Fatalf("follow with the primary down: %v\n%s", err, stderr)
	}
	lines := parseFollow(t, out)
	if len(lines) != 10 || lines[0].Source != "secondary" || lines[9].Key != "k009" {
		t.Fatalf("follow with the primary down printed:\n%s", out)
	}
	if !strings.Contains(stderr, "tandem output: switched to secondary at the beginning: every call to the primary has failed") {
		t.Fatalf("stderr:\n%s", stderr)
	}
}

func compact(data []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return string(data)
	}
	return b.String()
}
