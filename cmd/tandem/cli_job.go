package main

// The Stream Analytics job commands (`tandem job …`). `job test` runs a query over local event
// files with the engine in-process (internal/stream): no server, no hub. This file holds its
// flags, the decoding of event files (JSON array, JSON lines, CSV) and the printing of rows.

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/eventfile"
	"github.com/tandem-streaming/tandem/internal/sqlval"
	"github.com/tandem-streaming/tandem/internal/stream"
)

func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Stream Analytics jobs: queries over event hubs",
		Long: `A job runs a Stream Analytics query (SAQL) over inputs and writes its results to outputs.

  tandem job test --query-file q.saql --input Stream=events.json   run a query over local files
  tandem job create NAME --query-file q.saql --input Stream=NS/HUB --output Out=sqlite:///abs/out.db
  tandem job start NAME [--from now|start|last-stopped|time:RFC3339]
  tandem job show NAME | list | stop NAME | delete NAME`,
	}
	cmd.AddCommand(newJobTestCmd())
	cmd.AddCommand(jobManageCmds()...)
	return cmd
}

// jobTestFlags are the flags of job test.
type jobTestFlags struct {
	query, queryFile string
	inputs, refs     []string
	outOfOrder, late time.Duration
	policy           string
	partitionField   string
}

func newJobTestCmd() *cobra.Command {
	var f jobTestFlags
	cmd := &cobra.Command{
		Use:   "test (--query-file FILE | --query SAQL) --input NAME=FILE [--input NAME=FILE …] [--ref NAME=FILE]",
		Short: "Run a query over local event files and print its output rows; no server needed",
		Long: `Run a Stream Analytics query over events read from local files, with the same engine a job
uses, and print the output rows. Nothing is sent to a server.

  tandem job test --query-file q.saql --input TwitterStream=tweets.json
  tandem job test --query 'SELECT * INTO alerts FROM readings WHERE temp > 30' \
      --input readings=readings.csv -o json
  tandem job test --query-file q.saql --input input=events.jsonl --ref thresholds=thresholds.csv

Inputs. Each --input NAME=FILE gives the events of the streaming input NAME of the query
(names are case-insensitive; repeat --input NAME for more files of one input); --ref NAME=FILE
gives the rows of a reference-data input. Every streaming input the query reads needs a file,
and every name given must be read by the query. Streaming inputs are fed one file after another
in command-line order, each in file order, and the input then ends (open windows close).

File formats:
  JSON        a JSON array of objects, or JSON lines (one object per line; empty lines are
              allowed), told apart by the first character
  CSV         a file named *.csv: the first line is the header (the field names); a value that
              is a JSON number (42, -1.5, 2e3; not 007 or +1) becomes a number (bigint when it
              is an integer that fits 64 bits, else float), every other value a string (an
              empty value is the empty string); quoting as RFC 4180
A line that cannot be read is an error naming the file and line; nothing is skipped.

Times. An event's EventEnqueuedUtcTime field, when present, is its arrival time (an ISO 8601
string); without it the arrival time is taken from the order of the file: the largest event
time so far for an input with TIMESTAMP BY, the previous arrival plus 1 ms otherwise.
--out-of-order, --late-arrival and --policy are the job's event-ordering settings; counts of
late, out-of-order, early and dropped events go to the summary on stderr.

Partitions. Events are in partition 0, or with --partition-field F in the partition given by
their field F (an integer from 0; absent or null means 0). Each input then has the partitions
its files use, and its watermark waits for all of them, as a job reading a hub does.

Output. -o table (the default; also -o text) prints one table per output: the row's
System.Timestamp() first, then its columns. -o json prints one line per row in the order the
job produces them: {"output":"NAME","row":{…}}. A one-line summary goes to stderr.

Exit status: 0 when the query ran, even if rows were dropped by runtime errors (the summary
counts them and shows the last one); 2 for a query that does not compile (the error gives
line:column and a hint), bad flags or a file that cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runJobTest(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.queryFile, "query-file", "", "file holding the query")
	fl.StringVar(&f.query, "query", "", "the query text (instead of --query-file)")
	fl.StringArrayVar(&f.inputs, "input", nil, "NAME=FILE: events of streaming input NAME (repeatable)")
	fl.StringArrayVar(&f.refs, "ref", nil, "NAME=FILE: rows of reference-data input NAME (repeatable)")
	fl.DurationVar(&f.outOfOrder, "out-of-order", 0, "out-of-order tolerance")
	fl.DurationVar(&f.late, "late-arrival", 5*time.Second, "late-arrival tolerance")
	fl.StringVar(&f.policy, "policy", "adjust", "what happens to late and out-of-order events: adjust or drop")
	fl.StringVar(&f.partitionField, "partition-field", "", "take each event's partition id from this field")
	return cmd
}

// namedFile is one NAME=FILE flag value with the events read from the file.
type namedFile struct {
	name, path string
	events     []fileEvent
}

type fileEvent = eventfile.Event

func runJobTest(cmd *cobra.Command, f *jobTestFlags) error {
	format, err := jobTestFormat(cmd)
	if err != nil {
		return err
	}
	e, inputs, err := f.prepare()
	if err != nil {
		return err
	}
	var p rowPrinter = &tablePrinter{w: cmd.OutOrStdout(), outputs: e.Outputs()}
	if format == "json" {
		p = &jsonPrinter{w: bufio.NewWriter(cmd.OutOrStdout())}
	}
	if err := feed(e, inputs, f.partitionField, p); err != nil {
		return err
	}
	if err := p.done(); err != nil {
		return err
	}
	printSummary(cmd.ErrOrStderr(), e.Counters())
	return nil
}

// prepare checks the flags, compiles the query, checks the input names against it, reads the
// files and compiles the query again with the reference rows and partitions. The first
// compilation is there so that query and name errors come before file errors.
func (f *jobTestFlags) prepare() (*stream.Engine, []namedFile, error) {
	query, err := f.readQuery()
	if err != nil {
		return nil, nil, err
	}
	opts, err := f.options()
	if err != nil {
		return nil, nil, err
	}
	inputs, err := parseNamedFiles("--input", f.inputs)
	if err != nil {
		return nil, nil, err
	}
	refs, err := parseNamedFiles("--ref", f.refs)
	if err != nil {
		return nil, nil, err
	}
	if opts.Reference, err = referenceOf(inputs, refs); err != nil {
		return nil, nil, err
	}
	probe, err := stream.Compile(query, opts) // reference names known, rows not read yet
	if err != nil {
		return nil, nil, err // a *saql.Error: line:column, message and hint; exit code 2
	}
	if err := checkInputs(probe.Inputs(), inputs, refs); err != nil {
		return nil, nil, err
	}
	if err := readEvents(inputs); err != nil {
		return nil, nil, err
	}
	if err := readEvents(refs); err != nil {
		return nil, nil, err
	}
	if opts.Reference, err = referenceOf(inputs, refs); err != nil {
		return nil, nil, err
	}
	if opts.Partitions, err = partitionsOf(inputs, f.partitionField); err != nil {
		return nil, nil, err
	}
	e, err := stream.Compile(query, opts)
	return e, inputs, err
}

// jobTestFormat reads the persistent -o flag: table (or text, the CLI's default) or json.
func jobTestFormat(cmd *cobra.Command) (string, error) {
	switch o, _ := cmd.Flags().GetString("output"); o {
	case "text", "table", "":
		return "table", nil
	case "json":
		return "json", nil
	default:
		return "", errcode.New(errcode.InvalidArgument, "--output %q is invalid; use table or json", o)
	}
}

func (f *jobTestFlags) readQuery() (string, error) {
	switch {
	case (f.query == "") == (f.queryFile == ""):
		return "", errcode.New(errcode.InvalidArgument, "give the query with exactly one of --query-file FILE or --query 'SELECT …'")
	case f.query != "":
		return f.query, nil
	}
	b, err := os.ReadFile(f.queryFile)
	if err != nil {
		return "", errcode.New(errcode.InvalidArgument, "read --query-file: %w", err)
	}
	return string(b), nil
}

// options turns the event-ordering flags into engine options.
func (f *jobTestFlags) options() (stream.Options, error) {
	var o stream.Options
	if f.outOfOrder < 0 || f.late < 0 {
		return o, errcode.New(errcode.InvalidArgument, "--out-of-order and --late-arrival must not be negative")
	}
	o.OutOfOrder = f.outOfOrder
	o.LateArrival = f.late
	if f.late == 0 {
		o.LateArrival = -1 // the engine's zero value means its 5 s default; a negative one means 0
	}
	switch strings.ToLower(f.policy) {
	case "adjust":
		o.Policy = stream.Adjust
	case "drop":
		o.Policy = stream.Drop
	default:
		return o, errcode.New(errcode.InvalidArgument, "--policy %q is invalid; use adjust or drop", f.policy)
	}
	return o, nil
}

// parseNamedFiles parses NAME=FILE flag values.
func parseNamedFiles(flag string, vals []string) ([]namedFile, error) {
	var out []namedFile
	for _, kv := range vals {
		name, path, ok := strings.Cut(kv, "=")
		if !ok || name == "" || path == "" {
			return nil, errcode.New(errcode.InvalidArgument, "%s %q is invalid; use %s NAME=FILE", flag, kv, flag)
		}
		out = append(out, namedFile{name: name, path: path})
	}
	return out, nil
}

// readEvents reads the events of each file.
func readEvents(files []namedFile) error {
	for i := range files {
		evs, err := eventfile.Read(files[i].path)
		if err != nil {
			return err
		}
		files[i].events = evs
	}
	return nil
}

// referenceOf collects the --ref rows by input name (the names alone before the files are
// read); a name given with both --input and --ref is an error.
func referenceOf(inputs, refs []namedFile) (map[string][]sqlval.Value, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	m := map[string][]sqlval.Value{}
	for _, r := range refs {
		if slices.ContainsFunc(inputs, func(in namedFile) bool { return strings.EqualFold(in.name, r.name) }) {
			return nil, errcode.New(errcode.InvalidArgument, "%s is given with both --input and --ref; an input is either streaming or reference data", r.name)
		}
		key := r.name
		for k := range m {
			if strings.EqualFold(k, r.name) {
				key = k
			}
		}
		rows := m[key]
		for _, ev := range r.events {
			rows = append(rows, ev.Value)
		}
		m[key] = rows
	}
	return m, nil
}

// checkInputs compares the inputs the query reads with the files given.
func checkInputs(read []stream.Input, inputs, refs []namedFile) error {
	var names []string
	for _, in := range read {
		kind := "streaming"
		if in.Reference {
			kind = "reference"
		}
		names = append(names, fmt.Sprintf("%s (%s)", in.Name, kind))
	}
	reads := strings.Join(names, ", ")
	if reads == "" {
		reads = "nothing"
	}
	for _, nf := range append(slices.Clip(inputs), refs...) {
		if !slices.ContainsFunc(read, func(in stream.Input) bool { return strings.EqualFold(in.Name, nf.name) }) {
			return errcode.New(errcode.InvalidArgument, "the query reads no input named %s; it reads %s", nf.name, reads)
		}
	}
	for _, in := range read {
		given := slices.ContainsFunc(inputs, func(nf namedFile) bool { return strings.EqualFold(in.Name, nf.name) })
		if !in.Reference && !given {
			return errcode.New(errcode.InvalidArgument,
				"the query reads streaming input %s but no file was given for it; add --input %s=FILE (or --ref %s=FILE if it is reference data)",
				in.Name, in.Name, in.Name)
		}
	}
	return nil
}

// partitionsOf lists the partitions each input's files use, when events carry a partition field.
func partitionsOf(inputs []namedFile, field string) (map[string][]int32, error) {
	if field == "" {
		return nil, nil
	}
	parts := map[string][]int32{}
	for _, nf := range inputs {
		key := strings.ToLower(nf.name)
		for _, ev := range nf.events {
			p, err := partitionOf(ev.Value, field)
			if err != nil {
				return nil, errcode.New(errcode.InvalidArgument, "%s line %d: %v", nf.path, ev.Line, err)
			}
			if !slices.Contains(parts[key], p) {
				parts[key] = append(parts[key], p)
			}
		}
		slices.Sort(parts[key])
	}
	return parts, nil
}

func partitionOf(v sqlval.Value, field string) (int32, error) {
	if field == "" {
		return 0, nil
	}
	p, ok := v.Get(field)
	if !ok || p.IsNull() {
		return 0, nil
	}
	if p.Kind() != sqlval.KindBigint || p.Int() < 0 || p.Int() > math.MaxInt32 {
		return 0, fmt.Errorf("partition field %s is %s; a partition id is an integer from 0 to %d", field, p.AppendJSON(nil), math.MaxInt32)
	}
	return int32(p.Int()), nil
}

// arrivalOf reads an event's EventEnqueuedUtcTime; 0 (unknown) when it has none.
func arrivalOf(v sqlval.Value) (int64, error) {
	a, ok := v.Get("EventEnqueuedUtcTime")
	if !ok || a.IsNull() {
		return 0, nil
	}
	d, err := sqlval.Cast(a, sqlval.KindDatetime)
	if err != nil {
		return 0, fmt.Errorf("EventEnqueuedUtcTime: %w", err)
	}
	return d.Ticks(), nil
}

// feed pushes every event of every input file, in command-line and file order, then flushes.
func feed(e *stream.Engine, inputs []namedFile, partitionField string, p rowPrinter) error {
	for _, nf := range inputs {
		for _, ev := range nf.events {
			arrival, err := arrivalOf(ev.Value)
			if err != nil {
				return errcode.New(errcode.InvalidArgument, "%s line %d: %v", nf.path, ev.Line, err)
			}
			part, err := partitionOf(ev.Value, partitionField)
			if err != nil {
				return errcode.New(errcode.InvalidArgument, "%s line %d: %v", nf.path, ev.Line, err)
			}
			rows, err := e.Push(stream.Event{Input: nf.name, Partition: part, Arrival: arrival, Value: ev.Value})
			if err != nil {
				return fmt.Errorf("%s line %d: %w", nf.path, ev.Line, err)
			}
			if err := p.rows(rows); err != nil {
				return err
			}
		}
	}
	rows, err := e.Flush()
	if err != nil {
		return err
	}
	return p.rows(rows)
}

func printSummary(w io.Writer, c stream.Counters) {
	fmt.Fprintf(w, "job test: %s read, %s; late %d, out-of-order %d, early %d, dropped %d, conversion errors %d, runtime errors %d",
		plural(int(c.InputEvents), "event"), plural(int(c.OutputRows), "output row"), c.Late, c.OutOfOrder, c.Early, c.Dropped, c.Conversion, c.Runtime)
	if c.Conversion+c.Runtime > 0 && c.LastError != "" {
		fmt.Fprintf(w, "; last error: %s", c.LastError)
	}
	fmt.Fprintln(w)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// rowPrinter prints output rows as the engine produces them.
type rowPrinter interface {
	rows([]stream.Row) error
	done() error
}

// jsonPrinter writes {"output":"NAME","row":{…}} lines.
type jsonPrinter struct {
	w   *bufio.Writer
	buf []byte
}

func (p *jsonPrinter) rows(rows []stream.Row) error {
	for _, r := range rows {
		p.buf = append(p.buf[:0], `{"output":`...)
		p.buf = sqlval.AppendJSONString(p.buf, r.Output)
		p.buf = append(p.buf, `,"row":`...)
		p.buf = append(p.buf, r.JSON...)
		p.buf = append(p.buf, "}\n"...)
		if _, err := p.w.Write(p.buf); err != nil {
			return err
		}
	}
	return nil
}

func (p *jsonPrinter) done() error { return p.w.Flush() }

// tablePrinter keeps the rows and prints one aligned table per output at the end.
type tablePrinter struct {
	w       io.Writer
	outputs []string // of the query, in order of first use
	byOut   map[string][]stream.Row
}

const timestampColumn = "System.Timestamp()"

func (p *tablePrinter) rows(rows []stream.Row) error {
	if p.byOut == nil {
		p.byOut = map[string][]stream.Row{}
	}
	for _, r := range rows {
		if !slices.Contains(p.outputs, r.Output) {
			p.outputs = append(p.outputs, r.Output)
		}
		p.byOut[r.Output] = append(p.byOut[r.Output], r)
	}
	return nil
}

func (p *tablePrinter) done() error {
	for i, out := range p.outputs {
		if i > 0 {
			fmt.Fprintln(p.w)
		}
		rows := p.byOut[out]
		fmt.Fprintf(p.w, "output %s: %s\n", out, plural(len(rows), "row"))
		if len(rows) == 0 {
			continue
		}
		header := []string{timestampColumn}
		for _, r := range rows {
			for _, f := range r.Value.Fields() {
				if !slices.Contains(header[1:], f.Name) {
					header = append(header, f.Name)
				}
			}
		}
		cells := make([][]string, len(rows))
		for j, r := range rows {
			line := []string{formatTicks(r.Time)}
			for _, col := range header[1:] {
				line = append(line, tableCell(r.Value, col))
			}
			cells[j] = line
		}
		if err := printTable(p.w, header, cells); err != nil {
			return err
		}
	}
	return nil
}

func formatTicks(t int64) string {
	return sqlval.Datetime(t).Time().Format("2006-01-02T15:04:05.0000000Z07:00")
}

// tableCell renders one column of a row: strings as they are (control characters escaped, so
// the table stays aligned), datetimes in ISO 8601, everything else as JSON; empty when the row
// has no such column.
func tableCell(row sqlval.Value, col string) string {
	for _, f := range row.Fields() {
		if f.Name != col {
			continue
		}
		switch f.Value.Kind() {
		case sqlval.KindString:
			s := f.Value.Str()
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				q := string(sqlval.AppendJSONString(nil, s))
				return q[1 : len(q)-1]
			}
			return s
		case sqlval.KindDatetime:
			return formatTicks(f.Value.Ticks())
		}
		return string(f.Value.AppendJSON(nil))
	}
	return ""
}
