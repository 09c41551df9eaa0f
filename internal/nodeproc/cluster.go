package nodeproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// ClusterSpec describes a region run as a cluster of nodes, each a `tandem serve` child
// process with the cluster flags (--node-id, --zone, --cluster, --cluster-secret-file). Node i
// (1..Nodes) is in zone "z<i>" and listens on 127.0.0.<i>: raft on a port picked when the
// cluster starts, Kafka and the API on free ports; a restart keeps all three.
type ClusterSpec struct {
	// Region is serve's --region ("east" when empty).
	Region string
	// Exe is the tandem executable.
	Exe string
	// Nodes is how many nodes (1..250).
	Nodes int
	// Dir receives the nodes' data directories (node-<i>/data), their logs (node-<i>/run-<n>.log,
	// one per start) and the cluster secret file.
	Dir string
	// Args are serve flags every node gets (such as --dev); not the flags the cluster sets.
	Args []string
	// AdminKey, when set, is written to a file that every node gets as --admin-key-file.
	AdminKey string
	// Link, when set, is the address node from dials to reach the raft listener of node to,
	// which is target: a test puts a proxy there, one per directed link. Nil: target itself.
	Link func(from, to uint64, target string) (string, error)
}

// clusterFlags are the serve flags a ClusterSpec sets itself.
var clusterFlags = []string{"--region", "--node-id", "--zone", "--cluster", "--cluster-secret-file", "--admin-key-file"}

func (s ClusterSpec) check() error {
	if s.Nodes < 1 || s.Nodes > 250 {
		return fmt.Errorf("cluster: %d nodes; give 1 to 250", s.Nodes)
	}
	if s.Exe == "" || s.Dir == "" {
		return errors.New("cluster: the executable and the directory must be given")
	}
	for _, a := range s.Args {
		for _, f := range append(clusterFlags, ownFlags...) {
			if a == f || strings.HasPrefix(a, f+"=") {
				return fmt.Errorf("cluster: %s is in Args; the cluster sets it for each node", f)
			}
		}
	}
	return nil
}

// Cluster is a running cluster. Its methods may be called from any goroutine.
type Cluster struct {
	spec  ClusterSpec
	nodes []*ClusterNode // by id - 1
}

// ClusterNode is one node of a Cluster: its member entry and its current process.
type ClusterNode struct {
	ID       uint64
	Zone     string
	Host     string // 127.0.0.<id>
	RaftAddr string // the node's own raft listener
	dir      string

	mu   sync.Mutex
	spec Spec     // the spec of the next start: after a start, with the ports of its ready line
	proc *Process // the latest run
	runs int
	last Ready // the ready line of the latest run that printed one
}

// StartCluster starts every node and waits until each has printed its ready line (or ctx
// ends). On an error the nodes it started are killed.
func StartCluster(ctx context.Context, spec ClusterSpec) (*Cluster, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	if spec.Region == "" {
		spec.Region = "east"
	}
	c := &Cluster{spec: spec}
	common, err := c.writeFiles()
	if err != nil {
		return nil, err
	}
	for i := 1; i <= spec.Nodes; i++ {
		host := "127.0.0." + strconv.Itoa(i)
		port, err := freePort(host)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, &ClusterNode{ID: uint64(i), Zone: "z" + strconv.Itoa(i), Host: host,
			RaftAddr: net.JoinHostPort(host, strconv.Itoa(port)), dir: filepath.Join(spec.Dir, "node-"+strconv.Itoa(i))})
	}
	for _, n := range c.nodes {
		list, err := c.memberList(n.ID)
		if err != nil {
			return nil, err
		}
		args := append(append([]string{}, spec.Args...), common...)
		args = append(args, "--node-id", strconv.FormatUint(n.ID, 10), "--zone", n.Zone, "--cluster", list)
		n.spec = Spec{Name: fmt.Sprintf("node %d of region %s", n.ID, spec.Region), Exe: spec.Exe, Args: args,
			DataDir: filepath.Join(n.dir, "data"), Listen: Listen{Kafka: net.JoinHostPort(n.Host, "0"), HTTP: net.JoinHostPort(n.Host, "0")}}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
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

// writeFiles writes the secret (and admin key) files and returns the flags naming them.
func (c *Cluster) writeFiles() ([]string, error) {
	if err := os.MkdirAll(c.spec.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	secret := filepath.Join(c.spec.Dir, "cluster-secret")
	if err := os.WriteFile(secret, []byte("secret of the test cluster "+c.spec.Region+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("cluster: writing the secret file: %w", err)
	}
	flags := []string{"--region", c.spec.Region, "--cluster-secret-file", secret}
	if c.spec.AdminKey != "" {
		key := filepath.Join(c.spec.Dir, "admin-key")
		if err := os.WriteFile(key, []byte(c.spec.AdminKey+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("cluster: writing the admin key file: %w", err)
		}
		flags = append(flags, "--admin-key-file", key)
	}
	return flags, nil
}

// memberList is node from's --cluster: every member, with each peer at the address from
// dials for it.
func (c *Cluster) memberList(from uint64) (string, error) {
	items := make([]string, len(c.nodes))
	for i, m := range c.nodes {
		addr := m.RaftAddr
		if m.ID != from && c.spec.Link != nil {
			a, err := c.spec.Link(from, m.ID, m.RaftAddr)
			if err != nil {
				return "", fmt.Errorf("cluster: link %d→%d: %w", from, m.ID, err)
			}
			addr = a
		}
		items[i] = fmt.Sprintf("%d=%s@%s", m.ID, m.Zone, addr)
	}
	return strings.Join(items, ","), nil
}

// freePort is a TCP port free on host right now.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("cluster: no free port on %s (is 127.0.0.0/8 all loopback here?): %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Nodes are the cluster's nodes, by id.
func (c *Cluster) Nodes() []*ClusterNode { return append([]*ClusterNode(nil), c.nodes...) }

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

// Stop stops every node gracefully (SIGTERM, SIGKILL when ctx ends), all at once.
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

// start starts a run of the node.
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
	spec.Log = filepath.Join(n.dir, fmt.Sprintf("run-%d.log", n.runs))
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

// Spec is the spec of the node's next start.
func (n *ClusterNode) Spec() Spec {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.spec
}

// DataDir is the node's data directory.
func (n *ClusterNode) DataDir() string { return n.Spec().DataDir }

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
// has exited since: a node's addresses stay the same across restarts.
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
