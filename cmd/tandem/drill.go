package main

// tandem drill: a rehearsal of a regional failure with geo-redundant jobs, on a local
// two-region setup it starts itself. Steady load through the dual-write producer into the
// same job in both regions, kill -9 of the primary region, failover of the namespace alias,
// the output reader switching to the secondary, restore, catch-up, and a report.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// drillSettings are the flags of tandem drill.
type drillSettings struct {
	dir       string
	keep      bool
	rate      int
	steady    time.Duration
	outage    time.Duration
	postgres  string
	staleness time.Duration
	timeout   time.Duration
	nodes     int    // per region: 1, or 3 (a cluster in zones a, b, c)
	fault     string // region, node or zone (drill_fault.go)
}

// What the drill creates in each region.
const (
	drillNamespace = "drill-jobs"
	drillHub       = "readings"
	drillParts     = 4
	drillJob       = "drill-counts"
	drillQuery     = `SELECT DeviceId, COUNT(*) AS Events, SUM(Seq) AS SeqSum, System.Timestamp() AS WindowEnd
INTO out
FROM readings TIMESTAMP BY EventTime
GROUP BY DeviceId, TumblingWindow(second, 1)`
)

func newDrillCmd() *cobra.Command {
	var s drillSettings
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Rehearse a regional failure: dual-written load, identical jobs, kill -9 of the primary, failover, catch-up, report",
		Long: `Run a disaster-recovery rehearsal on a local two-region setup (two 'tandem serve' processes,
east primary and west secondary, with a geo-DR alias, as tandem dev makes them):

  1. creates the event hub drill-jobs/readings in both regions and deploys the same job in both
     (a one-second tumbling count per device), east writing SQLite, west SQLite or --postgres;
  2. sends --rate events/s through the dual-write producer and follows the job's output with
     the output reader (primary east, secondary west) for --steady;
  3. kills the east region with SIGKILL, fails the alias over to west, and keeps the load and
     the reader going for --outage;
  4. starts east again: the producer replays east's spool, east's job resumes from its
     checkpoint and catches up, the reader switches back;
  5. stops the load, waits for the last windows, and reports: time to detect, time to fail
     over (RTO), events lost (RPO), rows read twice and rows missed by the reader, catch-up
     time and the diff of the two outputs.

It exits with status 1 (Mismatch) when a row was read twice or missed, an event was lost, or
the outputs differ.

With --nodes 3 each region is a 3-node cluster in zones a, b and c (as 'tandem dev --nodes 3'
runs them, on free ports), and --fault says what fails:

  region  (the default) every node of east is killed with SIGKILL: the steps above, the alias
          failing over to west's cluster and all three east nodes restarting;
  node    east's metadata leader is killed: no failover, the region carries on with two nodes;
  zone    zone a fails: its node is killed in both regions.

A node or zone drill sends --rate records/s with a Kafka producer (acks=all, idempotent)
through the alias connection string, bootstrapped at all six nodes, for --steady, kills, keeps
producing for --outage, restarts what it killed and waits until both regions are healthy
again, then reads everything back. It reports what was killed, how long the clients'
acknowledgements paused (the client-observed gap), the slowest acknowledgement, the time to
elect a new metadata leader and to rejoin, and the records lost (must be 0) or failed.

Examples:
  tandem drill
  tandem drill --nodes 3                 # a region of three nodes fails over
  tandem drill --nodes 3 --fault node    # one node dies, its region carries on
  tandem drill --nodes 3 --fault zone -o json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.check(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), s.timeout)
			defer cancel()
			var rep drillOutcome
			var err error
			if s.fault == faultRegion {
				var r *drillReport
				if r, err = runDrill(ctx, cmd, s); r != nil {
					rep = r
				}
			} else {
				var r *faultReport
				if r, err = runFaultDrill(ctx, cmd, s); r != nil {
					rep = r
				}
			}
			if rep != nil {
				if perr := rep.print(cmd); perr != nil && err == nil {
					err = perr
				}
				if err == nil {
					err = rep.verdict()
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.dir, "dir", "", "directory for the regions' data, spools, outputs and logs (default: a new temporary directory, removed afterwards unless --keep)")
	f.BoolVar(&s.keep, "keep", false, "keep the directory at the end")
	f.IntVar(&s.rate, "rate", 200, "events per second sent through the dual-write producer")
	f.DurationVar(&s.steady, "steady", 8*time.Second, "load before the primary region is killed")
	f.DurationVar(&s.outage, "outage", 8*time.Second, "how long the primary region stays down")
	f.StringVar(&s.postgres, "postgres", "", "PostgreSQL URL for the west region's output (default: SQLite in --dir)")
	f.DurationVar(&s.staleness, "staleness", 3*time.Second, "the reader switches when the primary makes no progress for this long")
	f.DurationVar(&s.timeout, "timeout", 5*time.Minute, "bound on the whole drill")
	f.IntVar(&s.nodes, "nodes", 1, "nodes per region: 1, or 3 to run each region as a 3-node cluster in zones a, b and c")
	f.StringVar(&s.fault, "fault", faultRegion, "what fails: region (every node of east, then failover), or with --nodes 3 node (east's metadata leader) or zone (zone a's node in both regions)")
	return cmd
}

func (s drillSettings) check() error {
	switch {
	case s.rate <= 0 || s.rate > 100_000:
		return errcode.New(errcode.InvalidArgument, "--rate %d is out of range; use 1 to 100000 events per second", s.rate)
	case s.steady <= 0 || s.outage <= 0 || s.staleness <= 0 || s.timeout <= 0:
		return errcode.New(errcode.InvalidArgument, "--steady, --outage, --staleness and --timeout must be positive durations")
	case s.nodes != 1 && s.nodes != devClusterNodes:
		return errcode.New(errcode.InvalidArgument, "--nodes %d is not offered; use 1 (one node per region) or 3 (each region a 3-node cluster in zones a, b and c)", s.nodes)
	case s.fault != faultRegion && s.fault != faultNode && s.fault != faultZone:
		return errcode.New(errcode.InvalidArgument, "--fault %q is not a fault the drill knows; use region, node or zone", s.fault)
	case s.fault != faultRegion && s.nodes != devClusterNodes:
		return errcode.New(errcode.InvalidArgument, "--fault %s needs --nodes 3: with one node per region, a node is the whole region (use --fault region)", s.fault)
	case s.fault == faultRegion && s.outage <= s.staleness:
		return errcode.New(errcode.InvalidArgument, "--outage %v must be longer than --staleness %v, or the reader never switches", s.outage, s.staleness)
	}
	return nil
}

// drillOutcome is a drill's report: printed, then its verdict decides the exit status.
type drillOutcome interface {
	print(cmd *cobra.Command) error
	verdict() error
}

// drill is one rehearsal in progress.
type drill struct {
	s       drillSettings
	cmd     *cobra.Command
	dev     *devRun
	info    *devInfo
	regions []namedRegion // east, west
	outputs [2]string     // sink URLs of east's and west's output
	rep     *drillReport
}

func (d *drill) progress(format string, args ...any) {
	fmt.Fprintf(d.cmd.ErrOrStderr(), "tandem drill: %s "+format+"\n", append([]any{time.Since(d.rep.start).Round(time.Millisecond)}, args...)...)
}

// runDrill runs the rehearsal and returns its report (nil when it could not start).
func runDrill(ctx context.Context, cmd *cobra.Command, s drillSettings) (*drillReport, error) {
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "tandem-drill-")
		if err != nil {
			return nil, errcode.New(errcode.Internal, "creating a directory for the drill: %w", err)
		}
		s.dir = dir
		if !s.keep {
			defer os.RemoveAll(dir)
		}
	}
	d := &drill{s: s, cmd: cmd, rep: &drillReport{start: time.Now(), Dir: s.dir, Nodes: s.nodes, Fault: faultRegion}}
	d.dev = newDrillDev(s, cmd)
	defer d.dev.stop()
	if err := d.setup(ctx); err != nil {
		return nil, err
	}
	err := d.rehearse(ctx)
	return d.rep, err
}

// setup starts both regions, the alias (as tandem dev) and the job in both regions.
func (d *drill) setup(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return errcode.New(errcode.Internal, "finding the tandem executable to run the regions: %w", err)
	}
	if err := d.startRegions(ctx, exe); err != nil {
		return err
	}
	for _, side := range d.info.sides {
		e := regionEntry{Name: side.child.region, Server: "http://" + side.child.httpAddr, Namespace: side.namespace}
		d.regions = append(d.regions, namedRegion{regionEntry: e, c: side.c})
		if _, err := side.c.CreateNamespace(ctx, drillNamespace, client.NamespaceOptions{}); err != nil && !errcode.Is(err, errcode.AlreadyExists) {
			return fmt.Errorf("region %s: creating namespace %s: %w", e.Name, drillNamespace, err)
		}
		if _, err := side.c.CreateHub(ctx, drillNamespace, drillHub, client.HubOptions{Partitions: drillParts}); err != nil && !errcode.Is(err, errcode.AlreadyExists) {
			return fmt.Errorf("region %s: creating event hub %s/%s: %w", e.Name, drillNamespace, drillHub, err)
		}
	}
	if err := d.waitLeaders(ctx); err != nil {
		return err
	}
	d.outputs[0] = "sqlite://" + filepath.Join(d.s.dir, "east-out.db") + "?table=out"
	d.outputs[1] = "sqlite://" + filepath.Join(d.s.dir, "west-out.db") + "?table=out"
	if d.s.postgres != "" {
		d.outputs[1] = d.s.postgres
	}
	d.rep.Outputs = map[string]string{"east": d.outputs[0], "west": redactURL(d.outputs[1])}
	for i, r := range d.regions {
		spec := client.JobSpec{Name: drillJob, Query: drillQuery,
			Inputs:  []client.JobInput{{Name: "readings", Namespace: drillNamespace, Hub: drillHub, DualWrite: true}},
			Outputs: []client.JobOutput{{Name: "out", URL: d.outputs[i]}}}
		if _, err := deployJob(ctx, r, spec, "start"); err != nil {
			return fmt.Errorf("region %s: deploying job %s: %w", r.Name, drillJob, err)
		}
	}
	d.progress("regions east (%s) and west (%s) up; job %s deployed in both; outputs %s and %s",
		d.regions[0].Server, d.regions[1].Server, drillJob, d.outputs[0], redactURL(d.outputs[1]))
	return nil
}

// healthy reports whether a region's HTTP API answers /healthz.
func healthy(ctx context.Context, server string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitUntil polls cond every 50 ms until it holds or ctx ends (then it says what it waited for).
func waitUntil(ctx context.Context, what string, cond func() bool) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		case <-tick.C:
		}
	}
	return nil
}
