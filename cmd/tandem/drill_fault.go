package main

// tandem drill --nodes 3 --fault node|zone: a Kafka producer through the alias keeps sending
// while one node (east's metadata leader) or one zone (zone a's node in both regions) is
// killed; no failover: the regions carry on. The killed nodes restart, the regions heal, and
// every acknowledged record is read back.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/drillkafka"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// The faults a drill rehearses.
const (
	faultRegion = "region"
	faultNode   = "node"
	faultZone   = "zone"
)

// faultReport is what a node or zone drill prints; Lost and Failed decide its exit status.
type faultReport struct {
	start time.Time
	Dir   string `json:"dir"`
	Fault string `json:"fault"`
	Nodes int    `json:"nodesPerRegion"`
	// Killed names every node killed with SIGKILL: "east-b (pid 123, metadata leader)".
	Killed []string `json:"killed"`
	drillkafka.Summary
	GapSeconds     float64            `json:"clientGapSeconds"`     // the longest pause between acknowledgements of one partition
	GapStart       float64            `json:"clientGapStartSecond"` // when it began, seconds since the start
	SlowestSeconds float64            `json:"slowestAckSeconds"`
	LeaderSeconds  map[string]float64 `json:"metadataLeaderSeconds"` // region → kill → a metadata leader among the others
	RejoinSeconds  map[string]float64 `json:"rejoinSeconds"`         // region → restart → healthy (tandem cluster status)
	Timeline       []string           `json:"timeline"`
}

func (r *faultReport) mark(format string, args ...any) {
	r.Timeline = append(r.Timeline, fmt.Sprintf("+%6.2fs ", time.Since(r.start).Seconds())+fmt.Sprintf(format, args...))
}

// runFaultDrill runs a node or zone drill and returns its report (nil when it could not start).
func runFaultDrill(ctx context.Context, cmd *cobra.Command, s drillSettings) (*faultReport, error) {
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
	rep := &faultReport{start: time.Now(), Dir: s.dir, Fault: s.fault, Nodes: s.nodes,
		LeaderSeconds: map[string]float64{}, RejoinSeconds: map[string]float64{}}
	progress := func(format string, args ...any) {
		fmt.Fprintf(cmd.ErrOrStderr(), "tandem drill: %s "+format+"\n", append([]any{time.Since(rep.start).Round(time.Millisecond)}, args...)...)
	}
	dev := newDrillDev(s, cmd)
	defer dev.stop()
	exe, err := os.Executable()
	if err != nil {
		return nil, errcode.New(errcode.Internal, "finding the tandem executable to run the regions: %w", err)
	}
	info, err := startDrillRegions(ctx, dev, exe, s.dir)
	if err != nil {
		return nil, err
	}
	cfg := drillkafka.Config{Brokers: strings.Split(info.bootstrap(), ","), ConnString: info.connString, Topic: devHub,
		Run: fmt.Sprintf("drill-%d", time.Now().UnixNano()), Rate: s.rate}
	f := &faultDrill{s: s, dev: dev, info: info, rep: rep, progress: progress}
	err = f.rehearse(ctx, cfg)
	return rep, err
}

type faultDrill struct {
	s        drillSettings
	dev      *devRun
	info     *devInfo
	rep      *faultReport
	progress func(format string, args ...any)
}

func (f *faultDrill) rehearse(ctx context.Context, cfg drillkafka.Config) error {
	p, err := drillkafka.Start(ctx, cfg)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			p.Stop(context.Background())
		}
	}()
	f.rep.mark("Kafka producer (acks=all, idempotent) sends %d records/s to %s through alias %s, bootstrapped at %d nodes",
		f.s.rate, devHub, devAlias, len(cfg.Brokers))
	f.progress("producing %d records/s through alias %s for %v", f.s.rate, devAlias, f.s.steady)
	if err := sleepCtx(ctx, f.s.steady); err != nil {
		return err
	}
	victims := f.victims()
	if err := f.kill(ctx, victims); err != nil {
		return err
	}
	if err := sleepCtx(ctx, f.s.outage); err != nil {
		return err
	}
	if err := f.restore(ctx, victims); err != nil {
		return err
	}
	if err := sleepCtx(ctx, time.Second); err != nil { // some load on the healed regions
		return err
	}
	flushCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stopped = true
	if err := p.Stop(flushCtx); err != nil {
		return err
	}
	f.rep.mark("producer stopped; reading %s back from every partition", devHub)
	f.progress("producer stopped after %d records; reading them back", p.Acks().Summary().Sent)
	readCtx, cancelRead := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelRead()
	read, err := drillkafka.ReadBack(readCtx, cfg, p.Acks())
	f.rep.Summary = p.Acks().Check(read)
	s := f.rep.Summary
	f.rep.GapSeconds, f.rep.SlowestSeconds = s.Gap.Seconds(), s.Slowest.Seconds()
	if !s.GapAt.IsZero() {
		f.rep.GapStart = s.GapAt.Sub(f.rep.start).Seconds()
	}
	return err
}

// victim is one node to kill and what it is.
type victim struct {
	side int // 0 east, 1 west
	node *devChild
	role string
}

// victims are the nodes the fault kills: east's metadata leader, or the node of zone a in
// each region.
func (f *faultDrill) victims() []victim {
	if f.s.fault == faultNode {
		return []victim{{0, f.info.sides[0].child, "metadata leader"}}
	}
	var out []victim
	for i := range f.info.sides {
		n := f.info.regionNodes(i)[0]
		role := "zone a"
		if n == f.info.sides[i].child {
			role += ", metadata leader"
		}
		out = append(out, victim{i, n, role})
	}
	return out
}

// kill kills the victims and measures, per region, the time until a surviving node names a
// metadata leader among the survivors.
func (f *faultDrill) kill(ctx context.Context, victims []victim) error {
	killed := time.Now()
	for _, v := range victims {
		names, err := killNodes(ctx, []*devChild{v.node})
		if err != nil {
			return err
		}
		name := names[0][:len(names[0])-1] + ", " + v.role + ")"
		f.rep.Killed = append(f.rep.Killed, name)
		f.rep.mark("kill -9 of %s", name)
		f.progress("killed %s with SIGKILL", name)
	}
	for _, v := range victims {
		region := devRegions[v.side].name
		var survivor *devChild
		for _, n := range f.info.regionNodes(v.side) {
			if !n.proc.HasExited() {
				survivor = n
			}
		}
		c, err := f.dev.tls.client(survivor.httpAddr, f.info.sides[v.side].key)
		if err != nil {
			return err
		}
		var leader uint64
		err = waitUntil(ctx, "region "+region+" to elect a metadata leader among its other nodes", func() bool {
			st, err := c.ClusterStatus(ctx)
			if err != nil || st.MetadataLeader == 0 {
				return false
			}
			leader = st.MetadataLeader
			return !f.info.regionNodes(v.side)[leader-1].proc.HasExited()
		})
		if err != nil {
			return err
		}
		f.rep.LeaderSeconds[region] = time.Since(killed).Seconds()
		f.rep.mark("region %s: node %d leads the metadata", region, leader)
	}
	f.progress("the regions carry on without the killed nodes for %v", f.s.outage)
	return nil
}

// restore restarts the victims and waits until each region reports itself healthy: every node
// reachable, no partition under-replicated or leaderless.
func (f *faultDrill) restore(ctx context.Context, victims []victim) error {
	var nodes []*devChild
	for _, v := range victims {
		nodes = append(nodes, v.node)
	}
	started, err := restartNodes(ctx, f.dev, f.info, nodes)
	if err != nil {
		return err
	}
	restarted := time.Now()
	f.rep.mark("restarted the killed nodes (pid %s)", pids(started))
	f.progress("restarted the killed nodes (pid %s); waiting for the regions to heal", pids(started))
	for _, v := range victims {
		region := devRegions[v.side].name
		c, err := f.dev.tls.client(f.info.regionNodes(v.side)[0].httpAddr, f.info.sides[v.side].key)
		if err != nil {
			return err
		}
		var last []string
		err = waitUntil(ctx, "region "+region+" to heal", func() bool {
			st, err := c.ClusterStatus(ctx)
			if err != nil {
				last = []string{err.Error()}
				return false
			}
			last = st.Problems()
			return len(last) == 0
		})
		if err != nil {
			return fmt.Errorf("%w (still wrong: %s)", err, strings.Join(last, "; "))
		}
		f.rep.RejoinSeconds[region] = time.Since(restarted).Seconds()
		f.rep.mark("region %s healthy again: every node reachable, every partition replicated", region)
	}
	return nil
}

// verdict is nil when no acknowledged record was lost, no record failed, and records were
// acknowledged at all.
func (r *faultReport) verdict() error {
	var bad []string
	if r.Lost != 0 {
		bad = append(bad, fmt.Sprintf("%d acknowledged records lost", r.Lost))
	}
	if r.Failed != 0 {
		bad = append(bad, fmt.Sprintf("%d records failed (first: %s)", r.Failed, r.FirstError))
	}
	if r.Acked == 0 {
		bad = append(bad, "no record was acknowledged")
	}
	if len(bad) > 0 {
		return errcode.New(errcode.Mismatch, "drill failed: %s; the regions' logs are in %s (run with --keep to keep them)", strings.Join(bad, "; "), r.Dir)
	}
	return nil
}

func (r *faultReport) print(cmd *cobra.Command) error {
	if jsonOutput(cmd) {
		return printJSON(cmd.OutOrStdout(), r)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Tandem drill report (%s)\n\nFault: %s, %d nodes per region; killed with SIGKILL: %s\n\nTimeline:\n",
		r.Dir, r.Fault, r.Nodes, strings.Join(r.Killed, ", "))
	for _, t := range r.Timeline {
		fmt.Fprintf(w, "  %s\n", t)
	}
	rows := [][]string{
		{"client gap", fmt.Sprintf("%.2fs", r.GapSeconds), fmt.Sprintf("the longest pause between acknowledgements of one partition (%d, from +%.2fs)", r.GapPart, r.GapStart)},
		{"slowest ack", fmt.Sprintf("%.2fs", r.SlowestSeconds), "the longest a record waited for its acknowledgement"},
	}
	for _, region := range []string{"east", "west"} {
		if s, ok := r.LeaderSeconds[region]; ok {
			rows = append(rows, []string{"metadata leader " + region, fmt.Sprintf("%.2fs", s), "kill → a surviving node leads the metadata"})
		}
	}
	for _, region := range []string{"east", "west"} {
		if s, ok := r.RejoinSeconds[region]; ok {
			rows = append(rows, []string{"rejoin " + region, fmt.Sprintf("%.2fs", s), "restart → every node reachable, no partition under-replicated"})
		}
	}
	rows = append(rows,
		[]string{"records", fmt.Sprint(r.Acked), fmt.Sprintf("acknowledged of %d sent", r.Sent)},
		[]string{"records failed", fmt.Sprint(r.Failed), "the client gave up on them (must be 0)"},
		[]string{"records lost", fmt.Sprint(r.Lost), fmt.Sprintf("acknowledged, not read back (must be 0); %d read back", r.Read)},
		[]string{"records read twice", fmt.Sprint(r.Duplicates), "the idempotent producer's retries stored twice"})
	fmt.Fprintln(w)
	return printTable(w, []string{"MEASURE", "VALUE", "WHAT"}, rows)
}
