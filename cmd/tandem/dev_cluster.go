package main

// tandem dev --nodes 3: each region is a 3-node cluster (zones a, b, c) on 127.0.0.1, started
// through nodeproc.Region with serve's cluster flags; the region's directory holds its nodes'
// data (node-1 …), their logs, the cluster secret and the admin key they share.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// devClusterNodes is the only cluster size tandem dev runs: one node per zone a, b, c.
const devClusterNodes = 3

// clustered reports whether each region runs as a cluster.
func (s devSettings) clustered() bool { return s.nodes > 1 }

// checkNodes checks --nodes and, with a cluster, that the port ranges of the nodes do not
// overlap.
func (s devSettings) checkNodes() error {
	switch s.nodes {
	case 0, 1:
		return nil
	case devClusterNodes:
	default:
		return errcode.New(errcode.InvalidArgument,
			"--nodes %d is not offered; use 1 (one node per region) or 3 (each region a 3-node cluster in zones a, b and c)", s.nodes)
	}
	last := 65535 - devPortShift - (devClusterNodes - 1)
	ports := []struct {
		flag string
		port int
	}{{"--kafka-port", s.kafkaPort}, {"--http-port", s.httpPort}, {"--raft-port", s.raftPort}, {"--amqp-port", s.amqpPort}}
	type span struct {
		flag, region string
		first        int
	}
	var spans []span
	for _, p := range ports {
		if p.port < 0 || p.port > last {
			return errcode.New(errcode.InvalidArgument,
				"%s %d is out of range with --nodes 3; use 1 to %d (the nodes listen on it to it + 2, west on those + %d), or 0 for free ports",
				p.flag, p.port, last, devPortShift)
		}
		for i, r := range devRegions {
			if p.port != 0 {
				spans = append(spans, span{p.flag, r.name, shifted(p.port, i)})
			}
		}
	}
	for i, a := range spans {
		for _, b := range spans[:i] {
			if abs(a.first-b.first) < devClusterNodes {
				return errcode.New(errcode.InvalidArgument,
					"with --nodes 3, %s's %s ports (%d-%d) and %s's %s ports (%d-%d) overlap; choose ports at least 3 apart, counting west's + %d",
					b.region, b.flag, b.first, b.first+devClusterNodes-1, a.region, a.flag, a.first, a.first+devClusterNodes-1, devPortShift)
			}
		}
	}
	return nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// regionDir is where region i's data is: its node's data directory on a single node, the
// directory of its nodes, secret and admin key in a cluster.
func (s devSettings) regionDir(i int) string { return filepath.Join(s.dir, devRegions[i].name) }

// regionSpecs are the specs of region i's nodes: one, or a cluster's. A directory written in
// the other mode is refused: a single node's data cannot become a cluster's here.
func (d *devRun) regionSpecs(exe string, i int) ([]nodeproc.Spec, error) {
	s, name, dir := d.s, devRegions[i].name, d.s.regionDir(i)
	if !s.clustered() {
		if exists(filepath.Join(dir, "node-1")) {
			return nil, errcode.New(errcode.Conflict,
				"%s holds the nodes of a 3-node region (an earlier tandem dev --nodes 3); run with --nodes 3, or give another --dir", dir)
		}
		return []nodeproc.Spec{devSpec(exe, name, s.dir, s.listenAddr(s.kafkaPort, i), s.listenAddr(s.httpPort, i),
			s.listenAddr(s.amqpPort, i), d.tls)}, nil
	}
	if exists(filepath.Join(dir, "meta")) {
		return nil, errcode.New(errcode.Conflict,
			"%s holds a single node's data (an earlier tandem dev without --nodes); run without --nodes, or give another --dir", dir)
	}
	r := nodeproc.Region{Name: name, Exe: exe, Dir: dir, Nodes: devClusterNodes,
		KafkaPort: shifted(s.kafkaPort, i), HTTPPort: shifted(s.httpPort, i), RaftPort: shifted(s.raftPort, i),
		AMQPPort: shifted(s.amqpPort, i),
		Args:     d.tls.serveArgs(), Listen: d.tls.listen}
	specs, err := r.Prepare()
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "%w", err)
	}
	return specs, nil
}

// shifted is region i's port: port + i*devPortShift (0 stays 0).
func shifted(port, i int) int {
	if port == 0 {
		return 0
	}
	return port + i*devPortShift
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// regionChildren are the children of region i, in node order.
func (d *devRun) regionChildren(i int) []*devChild {
	var out []*devChild
	for _, c := range d.children {
		if c.region == devRegions[i].name {
			out = append(out, c)
		}
	}
	return out
}

// regionKey reads region i's admin key: a single node's own, or the cluster's shared one.
func (d *devRun) regionKey(i int, c *devChild) (string, error) {
	if !d.s.clustered() {
		return c.adminKey()
	}
	path := filepath.Join(d.s.regionDir(i), "admin-key")
	key, err := os.ReadFile(path)
	if err != nil {
		return "", errcode.New(errcode.Internal, "reading the admin key of region %s: %w", c.region, err)
	}
	return strings.TrimSpace(string(key)), nil
}

// apiNode waits for region i's nodes and returns the one setting up talks to: the only node,
// or the cluster's metadata leader (metadata changes are made there), with a client of it.
func (d *devRun) apiNode(ctx context.Context, i int) (*devChild, string, *client.Client, error) {
	nodes := d.regionChildren(i)
	for _, c := range nodes {
		if err := c.waitReady(ctx); err != nil {
			return nil, "", nil, err
		}
	}
	key, err := d.regionKey(i, nodes[0])
	if err != nil {
		return nil, "", nil, err
	}
	if !d.s.clustered() {
		cl, err := d.tls.client(nodes[0].httpAddr, key)
		return nodes[0], key, cl, err
	}
	d.progress("waiting for region %s's nodes to elect a metadata leader", devRegions[i].name)
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		for _, c := range nodes {
			cl, err := d.tls.client(c.httpAddr, key)
			if err != nil {
				return nil, "", nil, err
			}
			st, err := cl.ClusterStatus(ctx)
			if err != nil || st.MetadataLeader == 0 {
				continue
			}
			for k, l := range nodes {
				if uint64(k+1) == st.MetadataLeader {
					lc, err := d.tls.client(l.httpAddr, key)
					return l, key, lc, err
				}
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", nil, errcode.New(errcode.Timeout,
				"region %s elected no metadata leader within --timeout %v (%v); see the logs in %s", devRegions[i].name,
				d.s.timeout, context.Cause(ctx), d.s.regionDir(i))
		case <-t.C:
		}
	}
}

// allNodes are the children of side's region (the one node on a single node).
func (info *devInfo) regionNodes(side int) []*devChild {
	if info.nodes[side] == nil {
		return []*devChild{info.sides[side].child}
	}
	return info.nodes[side]
}

// regionNodesFile lists a cluster region's nodes for the regions file; nil on a single node.
func (info *devInfo) regionNodesFile(side int) []regionNode {
	if info.nodes[side] == nil {
		return nil
	}
	var out []regionNode
	for k, c := range info.nodes[side] {
		dataDir, _ := filepath.Abs(c.spec.DataDir)
		out = append(out, regionNode{ID: k + 1, Name: strings.TrimPrefix(c.spec.Name, "node "), Zone: nodeproc.Zone(k + 1),
			Server: c.url(), Kafka: c.kafkaAddr, DataDir: dataDir})
	}
	return out
}

// regionNode is one node of a cluster region in the regions file.
type regionNode struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	Zone    string `json:"zone"`
	Server  string `json:"server"`
	Kafka   string `json:"kafka,omitempty"`
	DataDir string `json:"dataDir,omitempty"`
}

// printClusterNodes writes the summary's table of a clustered setup: one row per node.
func (info *devInfo) clusterRows() [][]string {
	var rows [][]string
	for i, s := range info.sides {
		for k, c := range info.regionNodes(i) {
			rows = append(rows, []string{c.region, s.namespace, fmt.Sprint(k + 1), nodeproc.Zone(k + 1), c.kafkaAddr, c.url(),
				orDash(c.amqpAddr), fmt.Sprint(c.pid()), c.spec.Log})
		}
	}
	return rows
}
