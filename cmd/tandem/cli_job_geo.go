package main

// tandem job deploy NAME --regions A,B and tandem job show NAME --regions A,B: the same job in
// several regions, each on its own input and output (geo-redundant jobs).

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/job"
)

func newJobDeployCmd() *cobra.Command {
	var f jobCreateFlags
	var from string
	var single bool
	cmd := &cobra.Command{
		Use:   "deploy NAME --regions A,B --input NAME=NS/HUB --output NAME=SINK_URL (--query-file FILE | --query SAQL)",
		Short: "Create and start the same job in several regions, each on its local input and output",
		Long: `Create and start one job definition in every --regions region (geo-redundant jobs). Each
region's job reads its own event hub NS/HUB (fed by 'tandem send --regions', the dual-write
producer) and writes its own output. An output URL may hold {region}, replaced by each region's
name, or be given per region as --output REGION:NAME=URL.

Event hub inputs are dual-write inputs (de-duplicated by event id, timed by the producer, idle
partitions advanced by the producer's heartbeats), which is what makes the regions' outputs
identical; --single-writer turns that off. The jobs start --from start (both regions read
their whole input) unless told otherwise. A region where the job already exists with the same
definition keeps it (and starts it if stopped); a different definition is an error.

  tandem job deploy counts --regions east,west --query-file q.saql --input in=jobs/readings \
      --output out=sqlite:///var/lib/tandem/{region}-counts.db`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			regions, err := regionsFromFlags(cmd)
			if err != nil {
				return err
			}
			outputs := f.outputs
			var infos []client.JobInfo
			for _, r := range regions {
				f.outputs = regionOutputs(outputs, r.Name)
				spec, err := f.spec(args[0])
				if err != nil {
					return err
				}
				if !single {
					for i := range spec.Inputs {
						if spec.Inputs[i].Reference == "" {
							spec.Inputs[i].DualWrite, spec.Inputs[i].DedupWindow = true, f.dedupWindow
						}
					}
				}
				info, err := deployJob(cmd.Context(), r, spec, from)
				if err != nil {
					return fmt.Errorf("region %s: %w", r.Name, err)
				}
				infos = append(infos, info)
			}
			return showRegionalJobs(cmd, regions, infos)
		},
	}
	addJobCreateFlags(cmd, &f)
	addRegionFlags(cmd, true)
	cmd.Flags().StringVar(&from, "from", "start", "where each region's job starts reading: start, now or time:RFC3339")
	cmd.Flags().BoolVar(&single, "single-writer", false, "inputs are not dual-write inputs (no event-id de-duplication, wall-clock idle partitions)")
	return cmd
}

// regionOutputs picks the --output values for region: REGION:NAME=URL ones of that region and
// NAME=URL ones, with {region} replaced.
func regionOutputs(outputs []string, region string) []string {
	var out []string
	for _, o := range outputs {
		name, _, _ := strings.Cut(o, "=")
		if r, n, ok := strings.Cut(name, ":"); ok {
			if r != region {
				continue
			}
			o = n + strings.TrimPrefix(o, name)
		}
		out = append(out, strings.ReplaceAll(o, "{region}", region))
	}
	return out
}

// deployJob creates (or finds, identical) and starts the job in one region.
func deployJob(ctx context.Context, r namedRegion, spec client.JobSpec, from string) (client.JobInfo, error) {
	info, err := r.c.GetJob(ctx, spec.Name)
	switch {
	case errcode.Is(err, errcode.NotFound):
		if info, err = r.c.CreateJob(ctx, spec); err != nil {
			return info, err
		}
	case err != nil:
		return info, err
	case !reflect.DeepEqual(info.Spec, spec.Redacted()): // the API shows passwords as ***
		return info, errcode.New(errcode.Conflict, "job %s exists in region %s with another definition; delete it there first (tandem --server %s job delete %s)",
			spec.Name, r.Name, r.Server, spec.Name)
	}
	if info.Status.State == job.Running || info.Status.State == job.Degraded || info.Status.State == job.Starting {
		return info, nil
	}
	start := from
	if info.Status.State == job.Stopped || info.Status.State == job.Failed {
		start = "last-stopped"
	}
	return r.c.StartJob(ctx, spec.Name, start)
}

// showRegionalJobs prints the regions' jobs side by side.
func showRegionalJobs(cmd *cobra.Command, regions []namedRegion, infos []client.JobInfo) error {
	if jsonOutput(cmd) {
		out := map[string]client.JobInfo{}
		for i, r := range regions {
			out[r.Name] = infos[i]
		}
		return printJSON(cmd.OutOrStdout(), out)
	}
	header := []string{"FIELD"}
	for _, r := range regions {
		header = append(header, strings.ToUpper(r.Name))
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	fields := []struct {
		name string
		get  func(client.JobInfo) string
	}{
		{"state", func(j client.JobInfo) string { return string(j.Status.State) }},
		{"error", func(j client.JobInfo) string { return orDash(j.Status.Error) }},
		{"watermark", func(j client.JobInfo) string { return watermarkText(j.Status) }},
		{"inputEvents", func(j client.JobInfo) string { return n(j.Status.InputEvents) }},
		{"duplicateInputEvents", func(j client.JobInfo) string { return n(j.Status.DuplicateEvents) }},
		{"backloggedInputEvents", func(j client.JobInfo) string { return n(j.Status.BackloggedEvents) }},
		{"outputRows", func(j client.JobInfo) string { return n(j.Status.OutputRows) }},
	}
	var rows [][]string
	for _, f := range fields {
		row := []string{f.name}
		for _, j := range infos {
			row = append(row, f.get(j))
		}
		rows = append(rows, row)
	}
	for _, ref := range infos {
		if len(ref.Spec.Outputs) == 0 {
			continue
		}
		for _, o := range ref.Spec.Outputs {
			row := []string{"highWater " + o.Name}
			for _, j := range infos {
				row = append(row, highWaterText(j.Status, o.Name))
			}
			rows = append(rows, row)
		}
		break
	}
	return printTable(cmd.OutOrStdout(), header, rows)
}

// showJobInRegions is job show NAME --regions A,B.
func showJobInRegions(cmd *cobra.Command, name string) error {
	regions, err := regionsFromFlags(cmd)
	if err != nil {
		return err
	}
	infos := make([]client.JobInfo, len(regions))
	for i, r := range regions {
		info, err := r.c.GetJob(cmd.Context(), name)
		if err != nil {
			info.Spec.Name = name
			info.Status.State = "Unreachable"
			if errcode.Is(err, errcode.NotFound) {
				info.Status.State = "NotFound"
			}
			info.Status.Error = err.Error()
		}
		infos[i] = info
	}
	return showRegionalJobs(cmd, regions, infos)
}
