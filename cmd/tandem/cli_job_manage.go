package main

// tandem job create|start|stop|show|list|delete: jobs inside `tandem serve`, through the HTTP
// API with the node admin key.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/job"
)

func jobManageCmds() []*cobra.Command {
	return []*cobra.Command{newJobCreateCmd(), newJobDeployCmd(), newJobStartCmd(), newJobStopCmd(), newJobShowCmd(), newJobListCmd(), newJobDeleteCmd()}
}

type jobCreateFlags struct {
	queryFile, query string
	inputs, refs     []string
	outputs          []string
	serializations   []string
	outOfOrder, late string
	policy           string
	dualWrite        []string
	dedupWindow      string
}

func newJobCreateCmd() *cobra.Command {
	var f jobCreateFlags
	cmd := &cobra.Command{
		Use:   "create NAME --input NAME=NS/HUB[/GROUP] --output NAME=SINK_URL (--query-file FILE | --query SAQL)",
		Short: "Create a job (stopped): its query, event hub inputs, reference data and output sinks",
		Long: `Create a job in the region --server names. It starts with 'tandem job start'.

Inputs are event hubs of this region (NAME=NAMESPACE/HUB[/CONSUMERGROUP]) or reference data
(--ref NAME=FILE: JSON array, JSON lines or CSV; or a table: sqlite:///db?table=T,
postgres://…?table=T), read when the job starts. Outputs are sink URLs:
  sqlite:///abs/path/out.db[?table=T]      the embedded default
  postgres://user:pass@host:5432/db[?table=T&sslmode=disable]
  file:///abs/dir/out.jsonl                JSON lines with atomic rotation
Every row is written once, even across crashes: sinks upsert on (timestamp, row key).

  tandem job create alerts --query-file q.saql --input readings=prod-ns/readings \
      --output alerts=sqlite:///var/lib/tandem/alerts.db`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := f.spec(args[0])
			if err != nil {
				return err
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			info, err := c.CreateJob(cmd.Context(), spec)
			if err != nil {
				return err
			}
			return showJob(cmd, info)
		},
	}
	addJobCreateFlags(cmd, &f)
	return cmd
}

// addJobCreateFlags adds the flags that define a job (job create, job deploy).
func addJobCreateFlags(cmd *cobra.Command, f *jobCreateFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.queryFile, "query-file", "", "file holding the query")
	fl.StringVar(&f.query, "query", "", "the query text (instead of --query-file)")
	fl.StringArrayVar(&f.inputs, "input", nil, "an event hub input NAME=NAMESPACE/HUB[/CONSUMERGROUP] (repeatable)")
	fl.StringArrayVar(&f.refs, "ref", nil, "a reference data input NAME=FILE on the server's disk (JSON, JSON lines, CSV) or NAME=sqlite:///db?table=T / postgres://…?table=T (repeatable; read when the job starts)")
	fl.StringArrayVar(&f.outputs, "output", nil, "an output NAME=SINK_URL (repeatable)")
	fl.StringArrayVar(&f.serializations, "input-serialization", nil, "event format of an input NAME=json|csv (default json; csv: a header line and rows per event)")
	fl.StringVar(&f.outOfOrder, "out-of-order", "", "out-of-order tolerance (default 0s)")
	fl.StringVar(&f.late, "late-arrival", "", "late-arrival tolerance (default 5s)")
	fl.StringVar(&f.policy, "policy", "", "what happens to late and out-of-order events: adjust (default) or drop")
	fl.StringArrayVar(&f.dualWrite, "dual-write", nil, "an --input NAME fed by a dual-write producer (tandem send --regions): de-duplicated by event id, timed by the producer (repeatable)")
	fl.StringVar(&f.dedupWindow, "dedup-window", "", "how long dual-write inputs remember event ids (default 2m)")
}

// markDualWrite sets DualWrite (and the de-duplication window) on the named inputs.
func (f *jobCreateFlags) markDualWrite(spec *client.JobSpec, names []string) error {
	for _, n := range names {
		i := slices.IndexFunc(spec.Inputs, func(in client.JobInput) bool { return strings.EqualFold(in.Name, n) && in.Reference == "" })
		if i < 0 {
			return fmt.Errorf("--dual-write %q: name an event hub --input", n)
		}
		spec.Inputs[i].DualWrite, spec.Inputs[i].DedupWindow = true, f.dedupWindow
	}
	return nil
}

func (f *jobCreateFlags) spec(name string) (client.JobSpec, error) {
	spec := client.JobSpec{Name: name, OutOfOrderTolerance: f.outOfOrder, LateArrivalTolerance: f.late, Policy: f.policy}
	switch {
	case (f.query == "") == (f.queryFile == ""):
		return spec, fmt.Errorf("give the query with exactly one of --query-file and --query")
	case f.queryFile != "":
		b, err := os.ReadFile(f.queryFile)
		if err != nil {
			return spec, fmt.Errorf("--query-file: %w", err)
		}
		spec.Query = string(b)
	default:
		spec.Query = f.query
	}
	for _, s := range f.inputs {
		in, err := job.ParseInput(s)
		if err != nil {
			return spec, err
		}
		spec.Inputs = append(spec.Inputs, in)
	}
	for _, s := range f.serializations {
		n, ser, ok := strings.Cut(s, "=")
		i := slices.IndexFunc(spec.Inputs, func(in client.JobInput) bool { return strings.EqualFold(in.Name, n) })
		if !ok || i < 0 {
			return spec, fmt.Errorf("--input-serialization %q: write NAME=json or NAME=csv for an --input NAME", s)
		}
		spec.Inputs[i].Serialization = ser
	}
	for _, s := range f.refs {
		n, path, ok := strings.Cut(s, "=")
		if !ok || n == "" || path == "" {
			return spec, fmt.Errorf("--ref %q: write NAME=FILE", s)
		}
		spec.Inputs = append(spec.Inputs, client.JobInput{Name: n, Reference: path})
	}
	for _, s := range f.outputs {
		o, err := job.ParseOutput(s)
		if err != nil {
			return spec, err
		}
		spec.Outputs = append(spec.Outputs, o)
	}
	return spec, f.markDualWrite(&spec, f.dualWrite)
}

func newJobStartCmd() *cobra.Command {
	var from string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "start NAME [--from now|start|last-stopped|time:RFC3339] [--wait[=30s]]",
		Short: "Start a job: from now (default), the start of its inputs, where it last stopped, or a time",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			info, err := c.StartJob(cmd.Context(), args[0], from)
			if err != nil {
				return err
			}
			if wait <= 0 {
				return showJob(cmd, info)
			}
			info, werr := waitJobRunning(cmd.Context(), c.GetJob, info, wait, jobWaitPoll)
			if err := showJob(cmd, info); err != nil {
				return err
			}
			return werr
		},
	}
	cmd.Flags().StringVar(&from, "from", "now", "where to start reading: now, start, last-stopped or time:2026-01-02T15:04:05Z")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long (--wait alone: 30s) for the job to run, and fail with its error when it fails, is degraded or does not run by then")
	cmd.Flags().Lookup("wait").NoOptDefVal = "30s"
	return cmd
}

// jobWaitPoll is how often job start --wait looks at the job.
const jobWaitPoll = 100 * time.Millisecond

// waitJobRunning polls a started job until it is Running (nil) or Failed, Degraded, Stopped,
// or still not running after wait (an error saying so, with the job's error). It returns the
// job as last seen.
func waitJobRunning(ctx context.Context, get func(context.Context, string) (client.JobInfo, error), info client.JobInfo, wait, poll time.Duration) (client.JobInfo, error) {
	name := info.Spec.Name
	deadline := time.Now().Add(wait)
	for {
		st := info.Status
		switch st.State {
		case job.Running:
			return info, nil
		case job.Failed:
			return info, errcode.New(errcode.Unavailable, "job %s failed: %s; fix it, then 'tandem job start %s' again", name, st.Error, name)
		case job.Degraded:
			return info, errcode.New(errcode.Unavailable,
				"job %s started but is degraded: %s; it keeps retrying ('tandem job show %s' follows it, 'tandem job stop %s' stops it)", name, st.Error, name, name)
		case job.Stopped:
			return info, errcode.New(errcode.Conflict, "job %s stopped before it ran; 'tandem job show %s' says why", name, name)
		}
		if !time.Now().Before(deadline) {
			why := ""
			if st.Error != "" {
				why = " (" + st.Error + ")"
			}
			return info, errcode.New(errcode.Timeout, "job %s is still %s after --wait %s%s; 'tandem job show %s' follows it", name, st.State, wait, why, name)
		}
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-time.After(poll):
		}
		next, err := get(ctx, name)
		if err != nil {
			return info, err
		}
		info = next
	}
}

func newJobStopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a job after it writes its rows and a checkpoint (start it again with --from last-stopped)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			info, err := c.StopJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return showJob(cmd, info)
		},
	}
}

func newJobShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME [--regions A,B]",
		Short: "Show a job: state, inputs, outputs, watermark and its counters (side by side in several --regions)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("regions") {
				return showJobInRegions(cmd, args[0])
			}
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			info, err := c.GetJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return showJob(cmd, info)
		},
	}
	addRegionFlags(cmd, false)
	return cmd
}

func newJobListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the region's jobs",
		Args:  exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			jobs, err := c.ListJobs(cmd.Context())
			if err != nil {
				return err
			}
			if jobs == nil {
				jobs = []client.JobInfo{}
			}
			rows := make([][]string, len(jobs))
			for i, j := range jobs {
				rows[i] = []string{j.Spec.Name, string(j.Status.State), strconv.FormatInt(j.Status.InputEvents, 10),
					strconv.FormatInt(j.Status.OutputRows, 10), watermarkText(j.Status)}
			}
			return show(cmd, jobs, []string{"NAME", "STATE", "INPUT EVENTS", "OUTPUT ROWS", "WATERMARK"}, rows)
		},
	}
}

func newJobDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Stop and delete a job (its outputs are kept)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteJob(cmd.Context(), args[0]); err != nil {
				return err
			}
			return done(cmd, "deleted job "+args[0])
		},
	}
}

func watermarkText(s client.JobStatus) string {
	if s.Watermark.IsZero() {
		return "-"
	}
	return s.Watermark.Format(time.RFC3339Nano) + fmt.Sprintf(" (%.1fs behind)", s.WatermarkDelay)
}

// highWaterText is an output's high-water mark (the last row written) as time/key.
func highWaterText(s client.JobStatus, output string) string {
	m, ok := s.Outputs[strings.ToLower(output)]
	if !ok {
		return "-"
	}
	return m.Time.Format(time.RFC3339Nano) + " " + m.Key
}

func showJob(cmd *cobra.Command, j client.JobInfo) error {
	st := j.Status
	rows := [][]string{{"name", j.Spec.Name}, {"state", string(st.State)}}
	if st.Error != "" {
		rows = append(rows, []string{"error", st.Error})
	}
	for _, in := range j.Spec.Inputs {
		rows = append(rows, []string{"input", in.String()})
	}
	for _, o := range j.Spec.Outputs {
		rows = append(rows, []string{"output", o.Name + "=" + o.URL})
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	rows = append(rows,
		[]string{"watermark", watermarkText(st)},
		[]string{"inputEvents", n(st.InputEvents)}, []string{"inputBytes", n(st.InputBytes)},
		[]string{"outputRows", n(st.OutputRows)}, []string{"backloggedInputEvents", n(st.BackloggedEvents)},
		[]string{"late/outOfOrder/early/dropped", fmt.Sprintf("%d/%d/%d/%d", st.LateEvents, st.OutOfOrderEvents, st.EarlyEvents, st.DroppedEvents)},
		[]string{"conversionErrors", n(st.ConversionErrors)}, []string{"runtimeErrors", n(st.RuntimeErrors)},
		[]string{"duplicateInputEvents", n(st.DuplicateEvents)}, []string{"stateBytes", stateText(st)})
	for _, o := range j.Spec.Outputs {
		rows = append(rows, []string{"highWater " + o.Name, highWaterText(st, o.Name)})
	}
	if !st.LastCheckpoint.IsZero() {
		rows = append(rows, []string{"lastCheckpoint", st.LastCheckpoint.Format(time.RFC3339Nano)})
	}
	if st.LastError != "" {
		rows = append(rows, []string{"lastError", st.LastError})
	}
	return show(cmd, j, []string{"FIELD", "VALUE"}, rows)
}

// stateText is the job's state size and, while it runs, its budget.
func stateText(st job.Status) string {
	if st.StateBudget == 0 {
		return strconv.FormatInt(st.StateBytes, 10)
	}
	return fmt.Sprintf("%d (budget %d, --job-state-budget)", st.StateBytes, st.StateBudget)
}
