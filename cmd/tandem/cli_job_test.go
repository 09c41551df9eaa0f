package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sqlval"
)

const goldenDir = "../../internal/stream/testdata/golden"

// runJobTestCmd runs `tandem job test args…` in-process and returns stdout, stderr and the error.
func runJobTestCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"job", "test"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// writeFile writes a file in a fresh temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// jsonRow is one line of -o json output and of a golden expected.jsonl.
type jsonRow struct {
	Output string          `json:"output"`
	Row    json.RawMessage `json:"row"`
}

// canonical parses JSON lines of rows into "output canonical-row-JSON" strings.
func canonical(t *testing.T, lines string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(lines), "\n") {
		if line == "" {
			continue
		}
		var r jsonRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		v, err := sqlval.ParseJSON(r.Row)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, strings.ToLower(r.Output)+" "+string(v.AppendJSON(nil)))
	}
	return out
}

func checkRows(t *testing.T, got string, want []string) {
	t.Helper()
	g := canonical(t, got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
}

func goldenRows(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return canonical(t, string(b))
}

// The golden cases chosen have one output and rows at distinct timestamps, so the engine's
// order is the file's order.
func TestJobTestGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"tumbling-doc-example", []string{"--input", "TwitterStream=input.TwitterStream.jsonl"}},
		{"join-datediff-doc-example", []string{"--input", "Input1=input.Input1.jsonl", "--input", "Input2=input.Input2.jsonl"}},
		{"getrecordpropertyvalue-refdata-doc-example", []string{"--input", "input=input.jsonl", "--ref", "thresholds=input.thresholds.jsonl"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(goldenDir, c.name)
			args := []string{"--query-file", filepath.Join(dir, "query.saql"), "-o", "json"}
			for i, a := range c.args {
				if i%2 == 1 {
					name, file, _ := strings.Cut(a, "=")
					a = name + "=" + filepath.Join(dir, file)
				}
				args = append(args, a)
			}
			out, errOut, err := runJobTestCmd(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(line, `{"output":"output","row":{`) || !strings.HasSuffix(line, "}}") {
					t.Errorf("line %q is not {\"output\":…,\"row\":{…}}", line)
				}
			}
			checkRows(t, out, goldenRows(t, c.name))
			if !strings.Contains(errOut, "output row") || strings.Count(errOut, "\n") != 1 {
				t.Errorf("summary %q, want one line", errOut)
			}
		})
	}
}

func TestJobTestTableAndSummary(t *testing.T) {
	dir := filepath.Join(goldenDir, "tumbling-doc-example")
	out, errOut, err := runJobTestCmd(t, "--query-file", filepath.Join(dir, "query.saql"),
		"--input", "twitterstream="+filepath.Join(dir, "input.TwitterStream.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || lines[0] != "output output: 3 rows" {
		t.Fatalf("table:\n%s", out)
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "System.Timestamp() WindowEndTime TimeZone Count" {
		t.Errorf("header %q", lines[1])
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "2021-10-26T10:15:10.0000000Z 2021-10-26T10:15:10.0000000Z PST 5" {
		t.Errorf("first row %q", lines[2])
	}
	// Columns are aligned: every line has Count at the same position.
	if strings.Index(lines[1], "Count") != strings.LastIndex(lines[3], "2") {
		t.Errorf("columns not aligned:\n%s", out)
	}
	want := "job test: 11 events read, 3 output rows; late 0, out-of-order 0, early 0, dropped 0, conversion errors 0, runtime errors 0\n"
	if errOut != want {
		t.Errorf("summary %q, want %q", errOut, want)
	}
}

// The tumbling case again, with its events in a JSON array and in CSV.
func TestJobTestFileFormats(t *testing.T) {
	dir := filepath.Join(goldenDir, "tumbling-doc-example")
	query := filepath.Join(dir, "query.saql")
	want := goldenRows(t, "tumbling-doc-example")
	lines, err := os.ReadFile(filepath.Join(dir, "input.TwitterStream.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	events := strings.Split(strings.TrimSpace(string(lines)), "\n")

	array := "[\n  " + strings.Join(events, ",\n  ") + "\n]\n"
	out, errOut, err := runJobTestCmd(t, "--query-file", query, "-o", "json", "--input", "TwitterStream="+writeFile(t, "tweets.json", array))
	if err != nil {
		t.Fatalf("JSON array: %v\n%s", err, errOut)
	}
	checkRows(t, out, want)

	csvText := "Stamp,CreatedAt,TimeZone\n"
	for _, e := range events {
		var ev struct {
			Stamp               int
			CreatedAt, TimeZone string
		}
		if err := json.Unmarshal([]byte(e), &ev); err != nil {
			t.Fatal(err)
		}
		csvText += strings.Join([]string{string(rune('0' + ev.Stamp)), ev.CreatedAt, `"` + ev.TimeZone + `"`}, ",") + "\r\n"
	}
	out, errOut, err = runJobTestCmd(t, "--query-file", query, "-o", "json", "--input", "TwitterStream="+writeFile(t, "tweets.csv", csvText))
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, errOut)
	}
	checkRows(t, out, want)
}

// CSV values: JSON numbers become numbers, everything else stays a string.
func TestJobTestCSVValues(t *testing.T) {
	csvFile := writeFile(t, "e.csv", "EventEnqueuedUtcTime,Code,N,Big,Amount,Exp,Plus,Empty,Text\n"+
		"2026-01-02T03:04:05Z,007,42,12345678901234567890,-1.5,2e3,+1,,\"a, b\"\n")
	out, _, err := runJobTestCmd(t, "-o", "json", "--query", "SELECT Code, N, Big, Amount, Exp, Plus, Empty, Text FROM input",
		"--input", "input="+csvFile)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"output":"output","row":{"Code":"007","N":42,"Big":12345678901234567000.0,"Amount":-1.5,"Exp":2000.0,"Plus":"+1","Empty":"","Text":"a, b"}}` + "\n"
	if out != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestJobTestErrors(t *testing.T) {
	dir := filepath.Join(goldenDir, "tumbling-doc-example")
	query := filepath.Join(dir, "query.saql")
	events := filepath.Join(dir, "input.TwitterStream.jsonl")
	badLine := writeFile(t, "events.json", `{"Stamp": 1, "CreatedAt": "2021-10-26T10:15:01Z"}`+"\n\n"+
		`{"Stamp": 2, "CreatedAt": "2021-10-26T10:15:02Z"}`+"\n"+`{"Stamp": 3, "CreatedAt": }`+"\n")
	cases := []struct {
		name string
		args []string
		want []string // substrings of the error
	}{
		{"bad JSON line", []string{"--query-file", query, "--input", "TwitterStream=" + badLine},
			[]string{"events.json line 4: invalid JSON: ", "; each line must be one JSON object"}},
		{"not an object", []string{"--query-file", query, "--input", "TwitterStream=" + writeFile(t, "n.jsonl", "{}\n[1]\n")},
			[]string{"n.jsonl line 2: ", "not an object", "each line must be one JSON object"}},
		{"bad array element", []string{"--query-file", query, "--input", "TwitterStream=" + writeFile(t, "a.json", "[\n{},\n{},\n7\n]")},
			[]string{"a.json line 4: ", "array element 3 is a JSON bigint, not an object"}},
		{"broken array", []string{"--query-file", query, "--input", "TwitterStream=" + writeFile(t, "b.json", "[\n{},\n{\"a\":\n]")},
			[]string{"b.json line 3: invalid JSON"}},
		{"bad CSV", []string{"--query-file", query, "--input", "TwitterStream=" + writeFile(t, "c.csv", "a,b\n1,2\n3\n")},
			[]string{"c.csv line 3: invalid CSV: wrong number of fields"}},
		{"unknown input", []string{"--query-file", query, "--input", "TwitterStream=" + events, "--input", "Tweets=" + events},
			[]string{"the query reads no input named Tweets; it reads TwitterStream (streaming)"}},
		{"name checked before files", []string{"--query-file", query, "--input", "Tweets=/nonexistent/e.json"},
			[]string{"no input named Tweets"}},
		{"unknown reference", []string{"--query-file", query, "--input", "TwitterStream=" + events, "--ref", "ref=" + events},
			[]string{"no input named ref"}},
		{"missing input", []string{"--query-file", query},
			[]string{"the query reads streaming input TwitterStream but no file was given for it; add --input TwitterStream=FILE"}},
		{"compile error", []string{"--query", "SELECT *\nFORM TwitterStream", "--input", "TwitterStream=" + events},
			[]string{"line 2:1: ", "hint: did you mean FROM?"}},
		{"no query", []string{"--input", "TwitterStream=" + events}, []string{"exactly one of --query-file FILE or --query"}},
		{"two queries", []string{"--query", "SELECT 1 FROM x", "--query-file", query}, []string{"exactly one of"}},
		{"bad input flag", []string{"--query-file", query, "--input", events}, []string{"use --input NAME=FILE"}},
		{"missing file", []string{"--query-file", query, "--input", "TwitterStream=/nonexistent/e.json"}, []string{"/nonexistent/e.json"}},
		{"bad policy", []string{"--query-file", query, "--input", "TwitterStream=" + events, "--policy", "skip"}, []string{`--policy "skip" is invalid`}},
		{"bad output", []string{"--query-file", query, "--input", "TwitterStream=" + events, "-o", "yaml"}, []string{`use table or json`}},
		{"bad partition", []string{"--query-file", query, "--input", "TwitterStream=" + events, "--partition-field", "TimeZone"},
			[]string{"input.TwitterStream.jsonl line 1: partition field TimeZone is \"PST\""}},
		{"bad arrival", []string{"--query", "SELECT * FROM input", "--input", "input=" + writeFile(t, "arr.jsonl", `{"EventEnqueuedUtcTime": "yesterday"}`)},
			[]string{"arr.jsonl line 1: EventEnqueuedUtcTime: "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := runJobTestCmd(t, c.args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if code := errcode.ExitCode(err); code != 2 {
				t.Errorf("exit code %d, want 2 (%v)", code, err)
			}
			if out != "" {
				t.Errorf("output on error: %q", out)
			}
		})
	}
}

// Runtime errors do not fail the command: the summary counts them and shows the last one.
func TestJobTestRuntimeErrorSummary(t *testing.T) {
	in := writeFile(t, "e.jsonl", `{"EventEnqueuedUtcTime": "2026-01-02T00:00:00Z", "v": "x"}`+"\n")
	out, errOut, err := runJobTestCmd(t, "--query", "SELECT CAST(v AS bigint) AS n FROM input", "--input", "input="+in, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("rows %q, want none", out)
	}
	if !strings.Contains(errOut, "runtime errors 1; last error: ") {
		t.Errorf("summary %q", errOut)
	}
}

// With --partition-field, each input waits for every partition its files use: partition 1's
// events come after partition 0's in the file, and are neither late nor lost.
func TestJobTestPartitions(t *testing.T) {
	var b strings.Builder
	for _, p := range []int{0, 1} {
		for s := 1; s <= 3; s++ {
			b.WriteString(`{"p": ` + string(rune('0'+p)) + `, "t": "2026-01-02T00:00:0` + string(rune('0'+s)) + `Z"}` + "\n")
		}
	}
	in := writeFile(t, "e.jsonl", b.String())
	query := "SELECT COUNT(*) AS n, System.Timestamp() AS t FROM input TIMESTAMP BY t GROUP BY TumblingWindow(second, 2)"
	out, errOut, err := runJobTestCmd(t, "--query", query, "--input", "input="+in, "--partition-field", "p", "--late-arrival", "0s", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, out, []string{
		`output {"n":4,"t":"2026-01-02T00:00:02.0000000Z"}`, // windows are (start, end]
		`output {"n":2,"t":"2026-01-02T00:00:04.0000000Z"}`,
	})
	if !strings.Contains(errOut, "6 events read, 2 output rows; late 0, out-of-order 0") {
		t.Errorf("summary %q", errOut)
	}

	// Without it, the same events are one partition, where partition 1's events are behind.
	_, errOut, err = runJobTestCmd(t, "--query", query, "--input", "input="+in, "--late-arrival", "0s", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errOut, "late 0, out-of-order 0") {
		t.Errorf("one partition: summary %q, want late or out-of-order events", errOut)
	}
}
