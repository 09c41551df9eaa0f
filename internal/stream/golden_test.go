package stream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// goldenCase is one directory of testdata/golden (see its README.md).
type goldenCase struct {
	dir      string
	query    string
	opts     Options
	inputs   map[string][]sqlval.Value // stream inputs by name, in file order
	order    []string                  // input names in a fixed order
	expected []goldenRow
}

type goldenRow struct {
	Output string          `json:"output"`
	Row    json.RawMessage `json:"row"`
}

type goldenOptions struct {
	OutOfOrder string   `json:"outOfOrderTolerance"`
	Late       string   `json:"lateArrivalTolerance"`
	Early      string   `json:"earlyArrivalTolerance"`
	Policy     string   `json:"policy"`
	Reference  []string `json:"reference"`
}

func loadGolden(t testing.TB, dir string) *goldenCase {
	t.Helper()
	q, err := os.ReadFile(filepath.Join(dir, "query.saql"))
	if err != nil {
		t.Fatal(err)
	}
	gc := &goldenCase{dir: dir, query: string(q), inputs: map[string][]sqlval.Value{}}
	var o goldenOptions
	if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatalf("%s: options.json: %v", dir, err)
		}
	}
	gc.opts = Options{LateArrival: parseDur(t, o.Late), OutOfOrder: parseDur(t, o.OutOfOrder), EarlyArrival: parseDur(t, o.Early)}
	if o.Policy == "drop" {
		gc.opts.Policy = Drop
	}
	files, _ := filepath.Glob(filepath.Join(dir, "input*.jsonl"))
	slices.Sort(files)
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "input"), ".jsonl")
		name = strings.TrimPrefix(name, ".")
		if name == "" {
			name = "input"
		}
		rows := readJSONLines(t, f)
		if slices.ContainsFunc(o.Reference, func(r string) bool { return strings.EqualFold(r, name) }) {
			if gc.opts.Reference == nil {
				gc.opts.Reference = map[string][]sqlval.Value{}
			}
			gc.opts.Reference[name] = rows
			continue
		}
		gc.inputs[name] = rows
		gc.order = append(gc.order, name)
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var r goldenRow
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s: expected.jsonl: %v", dir, err)
		}
		gc.expected = append(gc.expected, r)
	}
	return gc
}

func parseDur(t testing.TB, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	if d == 0 {
		return -1 // an explicit 0 (the default late-arrival tolerance is 5 s)
	}
	return d
}

func readJSONLines(t testing.TB, path string) []sqlval.Value {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sqlval.Value
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		v, err := sqlval.ParseJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	return out
}

// arrivalOf reads an event's EventEnqueuedUtcTime, or 0.
func arrivalOf(v sqlval.Value) int64 {
	a, ok := v.Get("EventEnqueuedUtcTime")
	if !ok {
		return 0
	}
	d, err := sqlval.Cast(a, sqlval.KindDatetime)
	if err != nil {
		return 0
	}
	return d.Ticks()
}

// run pushes every input (one after the other, each in file order, all in partition 0) and
// flushes.
func (gc *goldenCase) run(t testing.TB) []Row {
	e, err := Compile(gc.query, gc.opts)
	if err != nil {
		t.Fatalf("%s: %v", gc.dir, err)
	}
	var rows []Row
	for _, name := range gc.order {
		for _, v := range gc.inputs[name] {
			out, err := e.Push(Event{Input: name, Value: v, Arrival: arrivalOf(v)})
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, out...)
		}
	}
	out, err := e.Flush()
	if err != nil {
		t.Fatal(err)
	}
	return append(rows, out...)
}

func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/golden/*")
	n := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			gc := loadGolden(t, dir)
			got := gc.run(t)
			if diff := compareGolden(gc.expected, got); diff != "" {
				t.Errorf("%s\nquery:\n%s\n%s", dir, gc.query, diff)
			}
		})
	}
	if n < 50 {
		t.Fatalf("found %d golden cases, want at least 50", n)
	}
}

// compareGolden compares rows in the golden order: by time, output name, then column values.
func compareGolden(want []goldenRow, got []Row) string {
	type cmpRow struct {
		time   int64
		output string
		vals   sqlval.Value
	}
	var gs []cmpRow
	for _, r := range got {
		v, err := sqlval.ParseJSON(r.JSON)
		if err != nil {
			return fmt.Sprintf("row JSON %s: %v", r.JSON, err)
		}
		gs = append(gs, cmpRow{r.Time, r.Output, v})
	}
	slices.SortStableFunc(gs, func(a, b cmpRow) int {
		if a.time != b.time {
			return cmpInt64(a.time, b.time)
		}
		if c := strings.Compare(a.output, b.output); c != 0 {
			return c
		}
		af, bf := a.vals.Fields(), b.vals.Fields()
		for i := 0; i < len(af) && i < len(bf); i++ {
			if c := sqlval.Compare(af[i].Value, bf[i].Value); c != 0 {
				return c
			}
		}
		return 0
	})
	var report strings.Builder
	for i := 0; i < max(len(want), len(gs)); i++ {
		switch {
		case i >= len(gs):
			fmt.Fprintf(&report, "row %d: missing, want %s %s\n", i, want[i].Output, want[i].Row)
		case i >= len(want):
			fmt.Fprintf(&report, "row %d: extra %s %s @%s\n", i, gs[i].output, gs[i].vals.AppendJSON(nil), sqlval.Datetime(gs[i].time))
		default:
			w, err := sqlval.ParseJSON(want[i].Row)
			if err != nil {
				return err.Error()
			}
			if !strings.EqualFold(want[i].Output, gs[i].output) || !sameRow(w, gs[i].vals) {
				fmt.Fprintf(&report, "row %d: got  %s %s @%s\n        want %s %s\n", i, gs[i].output, gs[i].vals.AppendJSON(nil),
					sqlval.Datetime(gs[i].time), want[i].Output, want[i].Row)
			}
		}
	}
	return report.String()
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameRow compares two rows: the same column names in the same order, numbers equal within a
// relative 1e-12, everything else equal.
func sameRow(want, got sqlval.Value) bool {
	if want.Kind() != got.Kind() {
		if isNum(want) && isNum(got) {
			return closeEnough(want.Float(), got.Float())
		}
		return false
	}
	switch want.Kind() {
	case sqlval.KindRecord:
		wf, gf := want.Fields(), got.Fields()
		if len(wf) != len(gf) {
			return false
		}
		for i := range wf {
			if wf[i].Name != gf[i].Name || !sameRow(wf[i].Value, gf[i].Value) {
				return false
			}
		}
		return true
	case sqlval.KindArray:
		we, ge := want.Elems(), got.Elems()
		if len(we) != len(ge) {
			return false
		}
		for i := range we {
			if !sameRow(we[i], ge[i]) {
				return false
			}
		}
		return true
	case sqlval.KindFloat:
		return closeEnough(want.Float(), got.Float())
	}
	return sqlval.Equal(want, got)
}

func isNum(v sqlval.Value) bool {
	return v.Kind() == sqlval.KindBigint || v.Kind() == sqlval.KindFloat
}

func closeEnough(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}
