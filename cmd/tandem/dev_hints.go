package main

// What tandem dev --nodes 3 says when a node of a running setup dies: whether its region
// carries on (a quorum of 2 of 3 nodes), has stopped taking writes, or is down, and, for a
// region that is down, how to fail the alias over to the other one and bring the region back.

import (
	"fmt"
	"io"
	"strings"
)

// printHint writes a hint's lines, "tandem dev: " before each but the indented commands.
func printHint(w io.Writer, hint string) {
	if hint == "" {
		return
	}
	for _, l := range strings.Split(hint, "\n") {
		if !strings.HasPrefix(l, "  ") {
			l = "tandem dev: " + l
		}
		fmt.Fprintln(w, l)
	}
}

// regionHint describes region i's state after one of its nodes died; "" on single nodes (the
// restart command says it all) or before the setup is done.
func (d *devRun) regionHint(dead *devChild) string {
	info := d.info.Load()
	if !d.s.clustered() || info == nil {
		return ""
	}
	i := 0
	if dead.region != devRegions[0].name {
		i = 1
	}
	nodes := d.regionChildren(i)
	var alive, down []*devChild
	for _, c := range nodes {
		if c.proc.HasExited() {
			down = append(down, c)
		} else {
			alive = append(alive, c)
		}
	}
	other := info.sides[1-i]
	otherDir := other.child.spec.DataDir
	if info.nodes[1-i] != nil {
		otherDir = d.s.regionDir(1 - i)
	}
	failover := fmt.Sprintf("tandem --server %s --data %s%s alias fail-over %s/%s",
		other.child.url(), shellQuote(otherDir), info.tls.cliCAArgs(), other.namespace, devAlias)
	var restarts []string
	for _, c := range down {
		if c != dead {
			restarts = append(restarts, c.restartCommand())
		}
	}
	return hintText(devRegions[i].name, other.child.region, len(alive), len(nodes), failover, restarts)
}

// hintText is the hint for region with alive of total nodes running: failover is the command
// that fails the alias over to the other region, restarts the commands that start the other
// stopped nodes.
func hintText(region, other string, alive, total int, failover string, restarts []string) string {
	var b strings.Builder
	switch {
	case 2*alive > total:
		fmt.Fprintf(&b, "region %s carries on with %d of %d nodes (a majority): clients bootstrapped at several nodes move to the others; 'tandem cluster status' shows the node unreachable",
			region, alive, total)
	case alive > 0:
		fmt.Fprintf(&b, "region %s has %d of %d nodes: no majority, so it takes no writes until another node is back", region, alive, total)
	default:
		fmt.Fprintf(&b, "region %s is down (all %d nodes)", region, total)
	}
	if 2*alive <= total {
		fmt.Fprintf(&b, "; if the alias %s is active there, fail it over to %s with:\n  %s", devAlias, other, failover)
		fmt.Fprintf(&b, "\nand when %s's nodes are back, see the alias from there with 'tandem alias show'", region)
	}
	if len(restarts) > 0 {
		fmt.Fprintf(&b, "\nthe other stopped nodes of %s start again with:", region)
		for _, c := range restarts {
			fmt.Fprintf(&b, "\n  %s", c)
		}
	}
	return b.String()
}
