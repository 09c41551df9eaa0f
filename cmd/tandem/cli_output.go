package main

// tandem output follow|diff|repair: read a job output that runs in two regions (client/output).
// These commands talk to the sinks directly, not to a Tandem node.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client/output"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

func newOutputCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "output",
		Short: "Follow, compare and repair a job output written in two regions",
		Long: `A job deployed in two regions writes the same rows to each region's output (sink). These
commands read both outputs directly, by their sink URLs (sqlite://, postgres://, file://):

  tandem output follow --primary URL --secondary URL     print the rows, switching regions on failure
  tandem output diff   --primary URL --secondary URL     compare them (exit code 1 when they differ)
  tandem output repair --primary URL --secondary URL     copy into a SQL primary the rows it lacks

--output NAME is the job output name, the table or file name when a URL does not give one.
Report formats are chosen with -o text|json (not --output, which names the job output here).`,
	}
	cmd.AddCommand(newOutputFollowCmd(), newOutputDiffCmd(), newOutputRepairCmd())
	return cmd
}

// outputSources are the flags every output command has.
type outputSources struct {
	primary, secondary, name string
	format                   string // -o, shadowed by --output on these commands
}

func (s *outputSources) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.primary, "primary", "", "sink URL of the primary region's output (required)")
	fl.StringVar(&s.secondary, "secondary", "", "sink URL of the secondary region's output (required)")
	fl.StringVar(&s.name, "output", "", "the job output name: the table or file name when a URL does not give one")
	// --output above hides the root's -o/--output, so -o is defined again here.
	fl.StringVarP(&s.format, "format", "o", "", "report format: text or json (the root -o)")
	_ = cmd.MarkFlagRequired("primary")
	_ = cmd.MarkFlagRequired("secondary")
}

// jsonReport reports whether -o json was given.
func (s *outputSources) jsonReport(cmd *cobra.Command) (bool, error) {
	f := s.format
	if f == "" {
		f = outputFormat(cmd)
	}
	if f != "" && f != "text" && f != "json" {
		return false, errcode.New(errcode.InvalidArgument, "-o %q is invalid; use text or json", f)
	}
	return f == "json", nil
}

// outputBounds are the --from/--to flags of diff and repair.
type outputBounds struct {
	from, to  string
	maxListed int
}

func (b *outputBounds) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&b.from, "from", "", "compare rows at or after this time (RFC 3339)")
	fl.StringVar(&b.to, "to", "", "compare rows before this time (RFC 3339)")
	fl.IntVar(&b.maxListed, "max-listed", output.DefaultMaxListed, "how many rows of each kind to list")
}

func (b *outputBounds) options() (output.DiffOptions, error) {
	o := output.DiffOptions{MaxListed: b.maxListed}
	if b.maxListed <= 0 {
		return o, errcode.New(errcode.InvalidArgument, "--max-listed must be positive, not %d", b.maxListed)
	}
	for _, f := range []struct {
		name, v string
		ticks   *int64
	}{{"--from", b.from, &o.From}, {"--to", b.to, &o.To}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.v)
		if err != nil {
			return o, errcode.New(errcode.InvalidArgument, "%s %q is not an RFC 3339 time such as 2024-05-01T12:00:00Z", f.name, f.v)
		}
		*f.ticks = sink.TimeTicks(t)
	}
	if o.From != 0 && o.To != 0 && o.To <= o.From {
		return o, errcode.New(errcode.InvalidArgument, "--to %s is not after --from %s", b.to, b.from)
	}
	return o, nil
}

// openReaders opens both outputs for reading, once both exist.
func (s *outputSources) openReaders(ctx context.Context) (primary, secondary sink.Reader, err error) {
	if err := output.CheckOutputs(ctx, s.primary, s.secondary, s.name, false); err != nil {
		return nil, nil, err
	}
	if primary, err = sink.OpenReader(ctx, s.primary, s.name); err != nil {
		return nil, nil, fmt.Errorf("--primary: %w", err)
	}
	if secondary, err = sink.OpenReader(ctx, s.secondary, s.name); err != nil {
		primary.Close()
		return nil, nil, fmt.Errorf("--secondary: %w", err)
	}
	return primary, secondary, nil
}

func newOutputFollowCmd() *cobra.Command {
	var s outputSources
	var o output.FollowOptions
	var maxRows int
	cmd := &cobra.Command{
		Use:   "follow --primary URL --secondary URL [--state FILE]",
		Short: "Print a job output's rows as JSON lines, from the primary region or, when it fails, the secondary",
		Long: `Print every row of a job output once, in order, as one JSON line:

  {"time":"2024-05-01T12:00:00Z","key":"d1","source":"primary","data":{…}}

Rows come from the primary's output. When every call to it fails for --error-grace, or its
newest row does not advance for --staleness while the secondary has newer rows, follow
continues from the same row in the secondary's output; with --switch-back it returns to the
primary once it has caught up. Switches are reported on stderr. With --state, the position is
saved after each printed batch and a new run continues after it. Ctrl-C stops it.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if maxRows < 0 {
				return errcode.New(errcode.InvalidArgument, "--max-rows must not be negative")
			}
			if _, err := s.jsonReport(cmd); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// An output that answers but does not exist is a typo, not an output still to come.
			if err := output.CheckOutputs(ctx, s.primary, s.secondary, s.name, true); err != nil {
				return err
			}
			o.Primary, o.Secondary, o.Output = s.primary, s.secondary, s.name
			stderr := cmd.ErrOrStderr()
			o.OnEvent = func(e output.Event) { fmt.Fprintln(stderr, followEventLine(e)) }
			f, err := output.Follow(ctx, o)
			if err != nil {
				return err
			}
			defer f.Close()
			return followRows(ctx, f, cmd.OutOrStdout(), maxRows)
		},
	}
	s.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.StateFile, "state", "", "file keeping the position of the rows printed, so that a new run continues after them")
	fl.DurationVar(&o.Staleness, "staleness", output.DefaultStaleness, "switch when the current output's newest row has not advanced for this long and the other has newer rows")
	fl.DurationVar(&o.ErrorGrace, "error-grace", output.DefaultErrorGrace, "switch when every call to the current output has failed for this long and the other answers")
	fl.DurationVar(&o.Poll, "poll", output.DefaultPoll, "how often to look for new rows")
	fl.BoolVar(&o.SwitchBack, "switch-back", false, "return to the primary once it has caught up with the secondary")
	fl.IntVar(&maxRows, "max-rows", 0, "stop after printing this many rows (0: never)")
	return cmd
}

// followRowLine is one row as follow prints it.
type followRowLine struct {
	Time   string          `json:"time"`
	Key    string          `json:"key"`
	Source string          `json:"source"`
	Data   json.RawMessage `json:"data"`
}

// followRows prints rows until ctx ends (a clean stop) or maxRows (0: no limit) are printed,
// committing the position after each batch.
func followRows(ctx context.Context, f *output.Follower, w io.Writer, maxRows int) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for printed := 0; maxRows == 0 || printed < maxRows; {
		limit := output.DefaultBatchSize
		if maxRows > 0 {
			limit = maxRows - printed
		}
		rows, err := f.NextUpTo(ctx, limit)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted: every printed batch is committed
			}
			return err
		}
		src := f.Source()
		for _, r := range rows {
			line := followRowLine{Time: sink.TicksTime(r.Time).Format(time.RFC3339Nano), Key: r.Key, Source: src, Data: r.Data}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := f.Commit(); err != nil {
			return err
		}
		printed += len(rows)
	}
	return nil
}

// followEventLine is an event as follow reports it on stderr.
func followEventLine(e output.Event) string {
	at := "the beginning"
	if e.Position != sink.Beginning {
		at = fmt.Sprintf("%s %q", sink.TicksTime(e.Position.Time).Format(time.RFC3339Nano), e.Position.Key)
	}
	switch e.Kind {
	case output.EventSwitched:
		return fmt.Sprintf("tandem output: switched to %s at %s: %s", e.To, at, e.Reason)
	case output.EventSwitchedBack:
		return fmt.Sprintf("tandem output: switched back to %s at %s: %s", e.To, at, e.Reason)
	case output.EventCaughtUp:
		return fmt.Sprintf("tandem output: the primary caught up at %s: %s", at, e.Reason)
	case output.EventSourceError:
		return fmt.Sprintf("tandem output: the %s fails at %s: %s", e.From, at, e.Reason)
	case output.EventSourceRecovered:
		return fmt.Sprintf("tandem output: the %s answers again: %s", e.From, e.Reason)
	}
	return fmt.Sprintf("tandem output: %s %s → %s at %s: %s", e.Kind, e.From, e.To, at, e.Reason)
}

func newOutputDiffCmd() *cobra.Command {
	var s outputSources
	var b outputBounds
	cmd := &cobra.Command{
		Use:   "diff --primary URL --secondary URL [--from TIME] [--to TIME]",
		Short: "Compare a job output's two regions row by row; exit code 1 when they differ",
		Long: `Compare the rows of the two outputs (within --from/--to) and list those that differ:
  -  missing on the primary (only the secondary has it)
  +  missing on the secondary (only the primary has it)
  ~  both have it with different data
Data is compared as JSON values. The exit code is 0 when the outputs are equal, 1 when not.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := s.jsonReport(cmd)
			if err != nil {
				return err
			}
			o, err := b.options()
			if err != nil {
				return err
			}
			p, sec, err := s.openReaders(cmd.Context())
			if err != nil {
				return err
			}
			defer p.Close()
			defer sec.Close()
			res, err := output.Diff(cmd.Context(), p, sec, o)
			if err != nil {
				return err
			}
			if asJSON {
				err = printJSON(cmd.OutOrStdout(), diffJSON(res))
			} else {
				err = printDiff(cmd.OutOrStdout(), res)
			}
			if err != nil {
				return err
			}
			if res.Compared == 0 {
				return output.ErrNothingCompared(o.From != 0 || o.To != 0)
			}
			if res.Equal() {
				return nil
			}
			return errcode.New(errcode.Mismatch,
				"the outputs differ: %d row(s) missing on the primary, %d missing on the secondary, %d with different data; "+
					"'tandem output repair' copies the rows missing on a SQL primary from the secondary",
				res.MissingOnPrimaryCount, res.MissingOnSecondaryCount, res.DifferCount)
		},
	}
	s.add(cmd)
	b.add(cmd)
	return cmd
}

// outputJSONRow is a row in JSON reports.
type outputJSONRow struct {
	Time string          `json:"time"`
	Key  string          `json:"key"`
	Data json.RawMessage `json:"data,omitempty"`
	// For rows that differ:
	Primary   json.RawMessage `json:"primary,omitempty"`
	Secondary json.RawMessage `json:"secondary,omitempty"`
}

func outputRowTime(ticks int64) string { return sink.TicksTime(ticks).Format(time.RFC3339Nano) }

func outputJSONRows(rows []sink.Row) []outputJSONRow {
	out := make([]outputJSONRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, outputJSONRow{Time: outputRowTime(r.Time), Key: r.Key, Data: r.Data})
	}
	return out
}

func outputJSONPairs(pairs []output.RowPair) []outputJSONRow {
	out := make([]outputJSONRow, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, outputJSONRow{Time: outputRowTime(p.Primary.Time), Key: p.Primary.Key, Primary: p.Primary.Data, Secondary: p.Secondary.Data})
	}
	return out
}

// diffReport is diff's -o json output.
type diffReport struct {
	Equal                   bool            `json:"equal"`
	Compared                int64           `json:"compared"`
	MissingOnPrimaryCount   int64           `json:"missing_on_primary_count"`
	MissingOnSecondaryCount int64           `json:"missing_on_secondary_count"`
	DifferCount             int64           `json:"differ_count"`
	MissingOnPrimary        []outputJSONRow `json:"missing_on_primary"`
	MissingOnSecondary      []outputJSONRow `json:"missing_on_secondary"`
	Differ                  []outputJSONRow `json:"differ"`
}

func diffJSON(r output.DiffResult) diffReport {
	return diffReport{
		Equal: r.Equal() && r.Compared > 0, Compared: r.Compared,
		MissingOnPrimaryCount: r.MissingOnPrimaryCount, MissingOnSecondaryCount: r.MissingOnSecondaryCount, DifferCount: r.DifferCount,
		MissingOnPrimary: outputJSONRows(r.MissingOnPrimary), MissingOnSecondary: outputJSONRows(r.MissingOnSecondary), Differ: outputJSONPairs(r.Differ),
	}
}

// printDiff writes the counts and then the listed rows, in total order, marked - + ~.
func printDiff(w io.Writer, r output.DiffResult) error {
	err := printTable(w, []string{"COMPARED", "MISSING ON PRIMARY (-)", "MISSING ON SECONDARY (+)", "DIFFER (~)"}, [][]string{{
		fmt.Sprint(r.Compared), fmt.Sprint(r.MissingOnPrimaryCount), fmt.Sprint(r.MissingOnSecondaryCount), fmt.Sprint(r.DifferCount)}})
	if err != nil || r.Equal() {
		return err
	}
	var rows [][]string
	mp, ms, d := r.MissingOnPrimary, r.MissingOnSecondary, r.Differ
	for len(mp)+len(ms)+len(d) > 0 {
		// The smallest position of the three lists' heads goes next.
		next, pos := -1, sink.Position{}
		for i, head := range []*sink.Row{firstRow(mp), firstRow(ms), firstRowPair(d)} {
			if head != nil && (next < 0 || head.Pos().Less(pos)) {
				next, pos = i, head.Pos()
			}
		}
		switch next {
		case 0:
			rows, mp = append(rows, []string{"-", outputRowTime(mp[0].Time), mp[0].Key, string(mp[0].Data)}), mp[1:]
		case 1:
			rows, ms = append(rows, []string{"+", outputRowTime(ms[0].Time), ms[0].Key, string(ms[0].Data)}), ms[1:]
		case 2:
			rows = append(rows, []string{"~", outputRowTime(d[0].Primary.Time), d[0].Primary.Key,
				"primary " + string(d[0].Primary.Data) + "  secondary " + string(d[0].Secondary.Data)})
			d = d[1:]
		}
	}
	fmt.Fprintln(w)
	if err := printTable(w, []string{"", "TIME", "KEY", "DATA"}, rows); err != nil {
		return err
	}
	if listed := int64(len(r.MissingOnPrimary) + len(r.MissingOnSecondary) + len(r.Differ)); listed < r.MissingOnPrimaryCount+r.MissingOnSecondaryCount+r.DifferCount {
		_, err = fmt.Fprintf(w, "(the first %d of each kind are listed; --max-listed shows more)\n", max(len(r.MissingOnPrimary), len(r.MissingOnSecondary), len(r.Differ)))
	}
	return err
}

func firstRow(rows []sink.Row) *sink.Row {
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

func firstRowPair(pairs []output.RowPair) *sink.Row {
	if len(pairs) == 0 {
		return nil
	}
	return &pairs[0].Primary
}

func newOutputRepairCmd() *cobra.Command {
	var s outputSources
	var b outputBounds
	cmd := &cobra.Command{
		Use:   "repair --primary URL --secondary URL [--from TIME] [--to TIME]",
		Short: "Copy into a SQL primary output the rows the secondary has and it lacks",
		Long: `Write into the primary's output (SQLite or PostgreSQL) every row, within --from/--to, that the
secondary's output holds and the primary's lacks. Writes are upserts of the same rows the
primary's job writes, so repairing while it runs is safe, and a second repair copies nothing.
Rows both hold with different data are listed and left as they are (exit code 1). A JSON-lines
primary is not repaired: its job appends it alone and catches up by itself.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := s.jsonReport(cmd)
			if err != nil {
				return err
			}
			o, err := b.options()
			if err != nil {
				return err
			}
			if err := output.CheckRepairable(s.primary); err != nil {
				return err
			}
			ctx := cmd.Context()
			// Never create a primary (a typo'd file or table) to copy rows into.
			if err := output.CheckOutputs(ctx, s.primary, s.secondary, s.name, false); err != nil {
				return err
			}
			sec, err := sink.OpenReader(ctx, s.secondary, s.name)
			if err != nil {
				return fmt.Errorf("--secondary: %w", err)
			}
			defer sec.Close()
			p, err := sink.Open(ctx, s.primary, s.name)
			if err != nil {
				return fmt.Errorf("--primary: %w", err)
			}
			defer p.Close()
			res, err := output.Repair(ctx, p, sec, o)
			if err != nil {
				return err
			}
			if err := printRepair(cmd, asJSON, res); err != nil {
				return err
			}
			if res.DifferCount > 0 {
				return errcode.New(errcode.Mismatch,
					"%d row(s) differ between the outputs and were left as they are; the same job in both regions writes the same rows, "+
						"so check that both regions run the same job version", res.DifferCount)
			}
			return nil
		},
	}
	s.add(cmd)
	b.add(cmd)
	return cmd
}

func printRepair(cmd *cobra.Command, asJSON bool, res output.RepairResult) error {
	w := cmd.OutOrStdout()
	if asJSON {
		return printJSON(w, struct {
			Compared                int64           `json:"compared"`
			Copied                  int64           `json:"copied"`
			MissingOnSecondaryCount int64           `json:"missing_on_secondary_count"`
			DifferCount             int64           `json:"differ_count"`
			Differ                  []outputJSONRow `json:"differ"`
		}{res.Compared, res.Copied, res.MissingOnSecondaryCount, res.DifferCount, outputJSONPairs(res.Differ)})
	}
	fmt.Fprintf(w, "compared %d rows, copied %d rows into the primary\n", res.Compared, res.Copied)
	if res.MissingOnSecondaryCount > 0 {
		fmt.Fprintf(w, "%d rows are only on the primary (the secondary is behind); nothing to do\n", res.MissingOnSecondaryCount)
	}
	if res.DifferCount == 0 {
		return nil
	}
	rows := make([][]string, 0, len(res.Differ))
	for _, d := range res.Differ {
		rows = append(rows, []string{"~", outputRowTime(d.Primary.Time), d.Primary.Key,
			"primary " + string(d.Primary.Data) + "  secondary " + string(d.Secondary.Data)})
	}
	fmt.Fprintf(w, "%d rows differ and were left as they are:\n", res.DifferCount)
	return printTable(w, []string{"", "TIME", "KEY", "DATA"}, rows)
}
