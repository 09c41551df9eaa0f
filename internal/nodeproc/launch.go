package nodeproc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ClusterSpec is a Region to run as child processes and supervise node by node (the
// process-level tests of a cluster): its node specs come from Region.Prepare, with one change
// when Link is set: each node's --cluster list names, for every peer, the address Link gives
// for that directed link, so a test can put a fault-injecting proxy on each.
type ClusterSpec struct {
	Region Region
	// Link, when set, is the address node from dials to reach the raft listener of node to,
	// which is target. Nil: every node dials target itself.
	Link func(from, to uint64, target string) (string, error)
}

// Cluster is a running region cluster. Its methods may be called from any goroutine.
type Cluster struct {
	nodes []*ClusterNode // by id - 1
}

// ClusterNode is one node of a Cluster: its member entry and its current process.
type ClusterNode struct {
	ID       uint64
	Zone     string
	RaftAddr string // the node's own raft listener

	mu   sync.Mutex
	spec Spec     // the spec of the next start: after a run, with the ports of its ready line
	log  string   // the Region's log file name; run n logs to <log without .log>.run-<n>.log
	proc *Process // the latest run
	runs int
	last Ready // the ready line of the latest run that printed one
}

// StartCluster prepares the region (Region.Prepare), starts every node and waits until each
// has printed its ready line or ctx ends. On an error the nodes it started are killed. Each
// run of a node logs to Dir/node-<id>.run-<n>.log, so a restart keeps the log of the run
// before.
func StartCluster(ctx context.Context, spec ClusterSpec) (*Cluster, error) {
	specs, err := spec.Region.Prepare()
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	for i, s := range specs {
		id := uint64(i + 1)
		members, at := clusterArg(s.Args)
		if at < 0 {
			return nil, fmt.Errorf("cluster: node %d's spec has no --cluster flag", id)
		}
		raft, err := memberAddr(members, id)
		if err != nil {
			return nil, err
		}
		if spec.Link != nil {
			if members, err = linkMembers(members, id, spec.Link); err != nil {
				return nil, err
			}
			s.Args = slices.Clone(s.Args)
			s.Args[at] = members
		}
		c.nodes = append(c.nodes, &ClusterNode{ID: id, Zone: Zone(i + 1), RaftAddr: raft, spec: s, log: s.Log})
	}
	for _, n := range c.nodes {
		if err := n.start(); err != nil {
			c.kill()
			return nil, err
		}
	}
	for _, n := range c.nodes {
		if _, err := n.WaitReady(ctx); err != nil {
			c.kill()
			return nil, err
		}
	}
	return c, nil
}

// clusterArg is the value of --cluster in args and its index, or -1.
func clusterArg(args []string) (string, int) {
	for i, a := range args {
		if a == "--cluster" && i+1 < len(args) {
			return args[i+1], i + 1
		}
	}
	return "", -1
}

// memberItem splits a --cluster item ID=ZONE@HOST:PORT[/NAME] around its address.
func memberItem(item string) (id uint64, head, addr, tail string, err error) {
	at := strings.IndexByte(item, '@')
	eq := strings.IndexByte(item, '=')
	if at < 0 || eq < 0 || eq > at {
		return 0, "", "", "", fmt.Errorf("cluster: member %q is not ID=ZONE@HOST:PORT[/NAME]", item)
	}
	if id, err = strconv.ParseUint(item[:eq], 10, 64); err != nil {
		return 0, "", "", "", fmt.Errorf("cluster: member %q: %w", item, err)
	}
	head, addr = item[:at+1], item[at+1:]
	if slash := strings.IndexByte(addr, '/'); slash >= 0 {
		addr, tail = addr[:slash], addr[slash:]
	}
	return id, head, addr, tail, nil
}

// memberAddr is the raft address of member id in a --cluster list.
func memberAddr(members string, id uint64) (string, error) {
	for _, item := range strings.Split(members, ",") {
		mid, _, addr, _, err := memberItem(item)
		if err != nil {
			return "", err
		}
		if mid == id {
			return addr, nil
		}
	}
	return "", fmt.Errorf("cluster: member %d is not in %q", id, members)
}

// linkMembers is node from's --cluster list with every peer's address replaced by the one
// link gives for the directed link from → peer.
func linkMembers(members string, from uint64, link func(from, to uint64, target string) (string, error)) (string, error) {
	items := strings.Split(members, ",")
	for i, item := range items {
		id, head, addr, tail, err := memberItem(item)
		if err != nil {
			return "", err
		}
		if id == from {
			continue
		}
		via, err := link(from, id, addr)
		if err != nil {
			return "", fmt.Errorf("cluster: link %d→%d: %w", from, id, err)
		}
		items[i] = head + via + tail
	}
	return strings.Join(items, ","), nil
}

// Nodes are the cluster's nodes, by id.
func (c *Cluster) Nodes() []*ClusterNode { return slices.Clone(c.nodes) }

// Node is the node with the given id (1..Nodes); nil for another id.
func (c *Cluster) Node(id uint64) *ClusterNode {
	if id < 1 || id > uint64(len(c.nodes)) {
		return nil
	}
	return c.nodes[id-1]
}

// KafkaAddrs are the Kafka listeners of every node that has been ready, for clients' seeds.
func (c *Cluster) KafkaAddrs() []string {
	var out []string
	for _, n := range c.nodes {
		if r, ok := n.Ready(); ok {
			out = append(out, r.Kafka)
		}
	}
	return out
}

// Stop stops every node gracefully (SIGTERM, then SIGKILL when ctx ends), all at once, and
// returns once all are gone.
func (c *Cluster) Stop(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if p := n.Process(); p != nil {
			wg.Go(func() { p.Stop(ctx) })
		}
	}
	wg.Wait()
}

func (c *Cluster) kill() {
	for _, n := range c.nodes {
		if p := n.Process(); p != nil {
			p.Kill(context.Background())
		}
	}
}

// start starts a run of the node: the first from its spec, later ones on the ports of the
// last ready line.
func (n *ClusterNode) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.HasExited() {
		return fmt.Errorf("starting %s: it is still running (pid %d); kill or stop it first", n.spec.Name, n.proc.Pid())
	}
	if n.proc != nil {
		n.spec = n.proc.RestartSpec()
	}
	n.runs++
	spec := n.spec
	spec.Log = strings.TrimSuffix(n.log, ".log") + ".run-" + strconv.Itoa(n.runs) + ".log"
	if err := os.MkdirAll(filepath.Dir(spec.Log), 0o700); err != nil {
		return fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	p, err := Start(spec)
	if err != nil {
		return err
	}
	n.proc = p
	return nil
}

// Process is the node's latest run.
func (n *ClusterNode) Process() *Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// DataDir is the node's data directory.
func (n *ClusterNode) DataDir() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.spec.DataDir
}

// WaitReady waits for the ready line of the node's latest run.
func (n *ClusterNode) WaitReady(ctx context.Context) (Ready, error) {
	p := n.Process()
	r, err := p.WaitReady(ctx)
	if err == nil {
		n.mu.Lock()
		if n.proc == p {
			n.last = r
		}
		n.mu.Unlock()
	}
	return r, err
}

// Ready is the ready line of the node's latest run that printed one, which may be a run that
// has exited since: a node keeps its addresses across restarts.
func (n *ClusterNode) Ready() (Ready, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil {
		if r, ok := n.proc.Ready(); ok {
			return r, true
		}
	}
	return n.last, n.last != (Ready{})
}

// Kill kills the node's process with SIGKILL (kill -9) and waits until it is gone.
func (n *ClusterNode) Kill(ctx context.Context) error { return n.Process().Kill(ctx) }

// Restart starts the node again, after Kill or an exit, on its data, flags and ports, and
// waits for its ready line.
func (n *ClusterNode) Restart(ctx context.Context) (Ready, error) {
	if err := n.start(); err != nil {
		return Ready{}, err
	}
	return n.WaitReady(ctx)
}

// Pause stops the node's process with SIGSTOP; Resume lets it run again.
func (n *ClusterNode) Pause() error { return n.Process().Pause() }

// Resume sends SIGCONT to the node's process.
func (n *ClusterNode) Resume() error { return n.Process().Resume() }

// Running reports whether the node's latest run has not exited.
func (n *ClusterNode) Running() bool { return !n.Process().HasExited() }
