package main

// tandem drill --nodes 3: the regions are 3-node clusters started as tandem dev --nodes 3
// starts them (nodeproc.Region, free ports); killing and restarting works on a set of nodes.

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// newDrillDev is the tandem dev run the drill drives: its regions on free ports in s.dir.
func newDrillDev(s drillSettings, cmd *cobra.Command) *devRun {
	ds := devSettings{dir: s.dir, timeout: 2 * devReadyTimeout, nodes: s.nodes}
	return &devRun{s: ds, stderr: cmd.ErrOrStderr()}
}

// startDrillRegions starts both regions' nodes (one each, or a cluster each) and sets them up
// as tandem dev does: namespaces, the alias, the sample hub.
func startDrillRegions(ctx context.Context, dev *devRun, exe, dir string) (*devInfo, error) {
	for i, r := range devRegions {
		specs := []nodeproc.Spec{devSpec(exe, r.name, dir, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", nil)}
		if dev.s.clustered() {
			var err error
			if specs, err = dev.regionSpecs(exe, i); err != nil {
				return nil, err
			}
		}
		for _, spec := range specs {
			c, err := startDevChild(r.name, spec, nil)
			if err != nil {
				return nil, err
			}
			dev.children = append(dev.children, c)
		}
	}
	return dev.setup(ctx)
}

func (d *drill) startRegions(ctx context.Context, exe string) error {
	info, err := startDrillRegions(ctx, d.dev, exe, d.s.dir)
	d.info = info
	return err
}

// killNodes kills every node in nodes with SIGKILL (waiting until each is gone) and
// describes them: "east-a (node 1, pid 123)".
func killNodes(ctx context.Context, nodes []*devChild) ([]string, error) {
	var out []string
	for _, c := range nodes {
		pid := c.proc.Pid()
		if err := c.proc.Kill(ctx); err != nil {
			return out, err
		}
		out = append(out, fmt.Sprintf("%s (pid %d)", strings.TrimPrefix(strings.TrimPrefix(c.spec.Name, "node "), "region "), pid))
	}
	return out, nil
}

// restartNodes starts the given (killed) nodes again on their data and ports, waits for
// their ready lines, and puts the new children in the dev run's and the setup's place.
func restartNodes(ctx context.Context, dev *devRun, info *devInfo, nodes []*devChild) ([]*devChild, error) {
	var out []*devChild
	for _, old := range nodes {
		c, err := old.restart()
		if err != nil {
			return out, err
		}
		out = append(out, c)
		replaceChild(dev.children, old, c)
		for i := range info.nodes {
			replaceChild(info.nodes[i], old, c)
			if info.sides[i].child == old {
				info.sides[i].child = c
			}
		}
	}
	for _, c := range out {
		if err := c.waitReady(ctx); err != nil {
			return out, err
		}
	}
	return out, nil
}

func replaceChild(list []*devChild, old, c *devChild) {
	for i := range list {
		if list[i] == old {
			list[i] = c
		}
	}
}

func pids(nodes []*devChild) string {
	var out []string
	for _, c := range nodes {
		out = append(out, fmt.Sprint(c.proc.Pid()))
	}
	return strings.Join(out, ", ")
}

// waitLeaders waits, in a cluster, until every partition of both regions has a leader (a hub
// just created elects one per partition), so that the load starts on a region that takes it.
func (d *drill) waitLeaders(ctx context.Context) error {
	if !d.dev.s.clustered() {
		return nil
	}
	for _, r := range d.regions {
		var last string
		err := waitUntil(ctx, "every partition of region "+r.Name+" to have a leader", func() bool {
			st, err := r.c.ClusterStatus(ctx)
			if err != nil {
				last = err.Error()
				return false
			}
			last = fmt.Sprintf("%d of %d partitions leaderless", st.Partitions.Leaderless, st.Partitions.Total)
			return st.Partitions.Total > 0 && st.Partitions.Leaderless == 0
		})
		if err != nil {
			return fmt.Errorf("%w (%s)", err, last)
		}
	}
	return nil
}
