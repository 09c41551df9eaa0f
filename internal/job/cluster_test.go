package job

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/faultproxy"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// jobNode is one node of an in-process 3-node region (127.0.0.1, .2, .3) with its job manager.
type jobNode struct {
	id int
	b  *broker.Broker
	m  *Manager
}

func startJobCluster(t *testing.T, ttl time.Duration) []*jobNode {
	t.Helper()
	port := freePort(t)
	spec := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", port, port, port)
	return startJobClusterSpecs(t, ttl, func(int) string { return spec })
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startJobClusterSpecs starts three nodes, node i+1 with the --cluster list specOf(i) (the
// addresses it dials for the others may be fault proxies).
func startJobClusterSpecs(t *testing.T, ttl time.Duration, specOf func(i int) string) []*jobNode {
	t.Helper()
	nodes := make([]*jobNode, 3)
	for i := range nodes {
		cfg, _, err := cluster.ParseConfig(uint64(i+1), "", specOf(i), []byte("0123456789abcdef-secret"))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cn, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir, Logger: quietLog(), TickInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: "test", Logger: quietLog(), Cluster: cn})
		if err != nil {
			cn.Close()
			t.Fatal(err)
		}
		m, err := NewManager(Options{Broker: b, DataDir: dir, LeaseTTL: ttl, Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &jobNode{id: i + 1, b: b, m: m}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.close()
		}
	})
	return nodes
}

// close stops the node as if it died: the broker (and its raft node) first, so nothing the
// job manager does afterwards reaches the region, then the manager.
func (n *jobNode) close() {
	if n.b == nil {
		return
	}
	n.b.Close()
	n.m.Close()
	n.b, n.m = nil, nil
}

// anyNode runs f on each live node in turn until it succeeds or fails with something other
// than Unavailable (a follower refusing a metadata write, an election) or NotLeader.
func anyNode(t *testing.T, nodes []*jobNode, what string, f func(n *jobNode) error) {
	t.Helper()
	var last error
	eventually(t, what, func() bool {
		for _, n := range nodes {
			if n.b == nil {
				continue
			}
			if last = f(n); last == nil || !(errcode.Is(last, errcode.Unavailable) || errcode.Is(last, errcode.NotLeader)) {
				return true
			}
		}
		return false
	})
	if last != nil {
		t.Fatalf("%s: %v", what, last)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendCluster is send (job_test.go) through whichever node leads each partition. Only the
// nodes given are tried.
func sendCluster(t *testing.T, nodes []*jobNode, from, n int) {
	t.Helper()
	for k := range int32(3) {
		var evs []broker.Event
		for i := from; i < from+n; i++ {
			body := fmt.Sprintf(`{"key":"k%d","v":%d,"t":"%s"}`, k, i, base.Add(time.Duration(i+1)*time.Second).Format(time.RFC3339))
			evs = append(evs, broker.Event{Body: []byte(body)})
		}
		anyNode(t, nodes, fmt.Sprintf("sending to partition %d", k), func(nd *jobNode) error {
			_, err := nd.b.Send(context.Background(), "jobs-ns", "readings", evs, broker.SendOptions{PartitionID: &k})
			return err
		})
	}
}

// runners lists the nodes where the job has a live runner.
func runners(nodes []*jobNode, job string) []int {
	var ids []int
	for _, n := range nodes {
		if n.m == nil {
			continue
		}
		n.m.mu.Lock()
		if e, ok := n.m.mu.jobs[job]; ok && e.run != nil {
			select {
			case <-e.run.done:
			default:
				ids = append(ids, n.id)
			}
		}
		n.m.mu.Unlock()
	}
	return ids
}

// TestClusterJobMovesWhenItsNodeDies runs a job on a 3-node region: it runs on one node only;
// that node dies; another node takes the lease once it expires and resumes from the
// replicated checkpoint, and the output holds every window exactly once with its full count.
func TestClusterJobMovesWhenItsNodeDies(t *testing.T) {
	nodes := startJobCluster(t, 2*time.Second)
	ctx := context.Background()
	anyNode(t, nodes, "creating the namespace", func(n *jobNode) error {
		_, err := n.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "jobs-ns"})
		return err
	})
	anyNode(t, nodes, "creating the hub", func(n *jobNode) error {
		return n.b.CreateHub(ctx, "jobs-ns", broker.HubSpec{Name: "readings", Partitions: 3})
	})
	eventually(t, "every node to hold a replica of every partition", func() bool {
		for _, n := range nodes {
			for p := range int32(3) {
				if _, err := n.b.LocalPartition("jobs-ns", "readings", p); err != nil {
					return false
				}
			}
		}
		return true
	})
	out := filepath.Join(t.TempDir(), "out.db") // shared by the nodes, as a database server would be
	anyNode(t, nodes, "creating the job", func(n *jobNode) error {
		_, err := n.m.Create(ctx, jobSpec(out), Creator{})
		return err
	})
	seenEverywhere(t, nodes, "counter")
	sendCluster(t, nodes, 0, 30)
	anyNode(t, nodes, "starting the job", func(n *jobNode) error {
		_, err := n.m.StartJob(ctx, "counter", "start", Admin)
		return err
	})
	sendCluster(t, nodes, 30, 1)
	waitRows(t, "sqlite://"+out, 9)

	var holder int
	eventually(t, "the job to run on exactly one node", func() bool {
		ids := runners(nodes, "counter")
		if len(ids) != 1 {
			return false
		}
		holder = ids[0]
		for _, n := range nodes {
			if info, err := n.m.Get("counter", Admin); err != nil || info.Node != uint64(holder) {
				return false
			}
		}
		return true
	})
	var ckLease uint64
	eventually(t, "a replicated checkpoint past event 30 of every partition", func() bool {
		var j meta.Job
		nodes[holder-1].b.ViewJobs(func(s *meta.State) { j, _ = s.Job("counter") })
		ck, err := decodeCheckpoint(j.Checkpoint)
		if err != nil {
			return false
		}
		for p := range int32(3) {
			if ck.Offsets["readings"][p] < 31 {
				return false
			}
		}
		ckLease = j.CheckpointLease
		return true
	})
	t.Logf("the job runs on node %d (checkpoints under lease %d); closing that node", holder, ckLease)
	nodes[holder-1].close()
	closed := time.Now()
	eventually(t, "another node to run the job", func() bool {
		ids := runners(nodes, "counter")
		return len(ids) == 1 && ids[0] != holder
	})
	t.Logf("another node runs the job %v after the holder died (lease TTL 2s)", time.Since(closed).Round(time.Millisecond))

	sendCluster(t, nodes, 31, 30) // windows ending base+40, +50, +60; event 60 closes the last
	rows := waitRows(t, "sqlite://"+out, 18)
	for _, r := range rows {
		var v struct {
			Key string `json:"key"`
			N   int    `json:"n"`
		}
		if err := json.Unmarshal(r.Data, &v); err != nil || v.N != 10 {
			t.Fatalf("row %s: a window counted %d events, want 10 (%v)", r.Data, v.N, err)
		}
	}
	ids := runners(nodes, "counter")
	if len(ids) != 1 || ids[0] == holder {
		t.Fatalf("after node %d died the job runs on nodes %v; want one other node", holder, ids)
	}
	next := nodes[ids[0]-1].m
	info, err := next.Get("counter", Admin)
	if err != nil {
		t.Fatal(err)
	}
	// Resumed from the checkpoint: it read the events after it (31 to 60, and at most the
	// last round of the old node again), not the 61 per partition a fresh start reads.
	if info.Status.InputEvents > 93 || info.Node != uint64(ids[0]) {
		t.Fatalf("the new holder read %d events (node %d); a resumed run reads at most 93", info.Status.InputEvents, info.Node)
	}
	t.Logf("the job moved to node %d and read %d events there", ids[0], info.Status.InputEvents)

	// The former holder's late checkpoint (as if it had only paused) is refused at apply.
	var late error
	eventually(t, "the former holder's late checkpoint to be answered", func() bool {
		for _, n := range nodes {
			if n.b == nil {
				continue
			}
			old := metaStore{b: n.b, node: uint64(holder)}
			_, late = old.saveCheckpoint(ctx, "counter", ckLease, 0, &checkpoint{Offsets: map[string]map[int32]int64{}})
			if !errcode.Is(late, errcode.Unavailable) {
				return true
			}
		}
		return false
	})
	if !errcode.Is(late, errcode.Conflict) {
		t.Fatalf("the former holder's late checkpoint: %v; want it refused as no longer current", late)
	}
	eventually(t, "checkpoints under the new holder's lease", func() bool {
		var j meta.Job
		next.b.ViewJobs(func(s *meta.State) { j, _ = s.Job("counter") })
		return j.CheckpointLease != ckLease && j.Lease != nil && j.Lease.Node == uint64(ids[0]) && j.CheckpointLease == j.Lease.Seq
	})
}

// setupClusterHub creates the test namespace and hub through the metadata leader and waits
// for every node to hold a replica of each partition.
func setupClusterHub(t *testing.T, nodes []*jobNode) {
	t.Helper()
	ctx := context.Background()
	anyNode(t, nodes, "creating the namespace", func(n *jobNode) error {
		_, err := n.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "jobs-ns"})
		return err
	})
	anyNode(t, nodes, "creating the hub", func(n *jobNode) error {
		return n.b.CreateHub(ctx, "jobs-ns", broker.HubSpec{Name: "readings", Partitions: 3})
	})
	eventually(t, "every node to hold a replica of every partition", func() bool {
		for _, n := range nodes {
			for p := range int32(3) {
				if _, err := n.b.LocalPartition("jobs-ns", "readings", p); err != nil {
					return false
				}
			}
		}
		return true
	})
}

// seenEverywhere waits until every live node has applied the creation of job (a follower's
// metadata may lag the leader's).
func seenEverywhere(t *testing.T, nodes []*jobNode, job string) {
	t.Helper()
	eventually(t, job+" on every node", func() bool {
		for _, n := range nodes {
			if n.m != nil {
				if _, err := n.m.Get(job, Admin); err != nil {
					return false
				}
			}
		}
		return true
	})
}

// runningOn waits until the job runs on exactly one node and returns that node.
func runningOn(t *testing.T, nodes []*jobNode, job string) *jobNode {
	t.Helper()
	var at []int
	eventually(t, job+" to run on exactly one node", func() bool {
		at = runners(nodes, job)
		return len(at) == 1
	})
	return nodes[at[0]-1]
}

// TestClusterJobStopAndCheckpointLimit: StopJob returns once the holder has stopped and given
// the lease up; a job whose checkpoint outgrows what the metadata keeps fails with an error
// naming the limit.
func TestClusterJobStopAndCheckpointLimit(t *testing.T) {
	nodes := startJobCluster(t, 2*time.Second)
	setupClusterHub(t, nodes)
	ctx := context.Background()
	dir := t.TempDir()
	anyNode(t, nodes, "creating the job", func(n *jobNode) error {
		_, err := n.m.Create(ctx, jobSpec(filepath.Join(dir, "out.db")), Creator{})
		return err
	})
	seenEverywhere(t, nodes, "counter")
	anyNode(t, nodes, "starting the job", func(n *jobNode) error {
		_, err := n.m.StartJob(ctx, "counter", "start", Admin)
		return err
	})
	runningOn(t, nodes, "counter")
	var info Info
	var stopper *jobNode
	anyNode(t, nodes, "stopping the job", func(n *jobNode) error {
		var err error
		info, err = n.m.StopJob(ctx, "counter", Admin)
		stopper = n
		return err
	})
	var lease *meta.JobLease // as the node that answered StopJob has it (a follower may lag)
	stopper.b.ViewJobs(func(s *meta.State) { j, _ := s.Job("counter"); lease = j.Lease })
	if ids := runners(nodes, "counter"); len(ids) != 0 || lease != nil || info.Status.State != Stopped {
		t.Fatalf("after StopJob: runners on %v, lease %+v, state %s", ids, lease, info.Status.State)
	}

	big := jobSpec(filepath.Join(dir, "big.db"))
	big.Name = "big"
	big.Query = `SELECT key, COUNT(DISTINCT v) AS n INTO counts FROM readings TIMESTAMP BY t GROUP BY key, TumblingWindow(day, 1)`
	anyNode(t, nodes, "creating the big job", func(n *jobNode) error {
		_, err := n.m.Create(ctx, big, Creator{})
		return err
	})
	seenEverywhere(t, nodes, "big")
	anyNode(t, nodes, "starting the big job", func(n *jobNode) error {
		_, err := n.m.StartJob(ctx, "big", "start", Admin)
		return err
	})
	runningOn(t, nodes, "big")
	start := base.Add(-time.Minute)
	for p := range int32(3) {
		var evs []broker.Event
		for i := int(p); i < 30_000; i += 3 {
			evs = append(evs, broker.Event{Body: fmt.Appendf(nil, `{"key":"key-%06d","v":"value-%06d-%s","t":"%s"}`,
				i, i, strings.Repeat("x", 200), start.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano))})
		}
		for len(evs) > 0 {
			chunk := evs[:min(len(evs), 2000)]
			evs = evs[len(chunk):]
			anyNode(t, nodes, fmt.Sprintf("sending to partition %d", p), func(n *jobNode) error {
				_, err := n.b.Send(ctx, "jobs-ns", "readings", chunk, broker.SendOptions{PartitionID: &p})
				return err
			})
		}
	}
	const limit = "over the 4194304 bytes (4 MiB) a job's checkpoint may have in a cluster"
	var failed string
	eventually(t, "the big job to fail on the node that runs it", func() bool {
		for _, n := range nodes { // the node that runs it reports it
			if info, err := n.m.Get("big", Admin); err == nil && info.Status.State == Failed && strings.Contains(info.Status.Error, limit) {
				failed = info.Status.Error
				return true
			}
		}
		return false
	})
	t.Logf("the job failed: %s", failed)
}

// TestClusterJobPartitionedHolder cuts the node running a job off the other two (through
// fault proxies on every raft link): it cannot renew the lease, so it stops the job by itself
// before the lease expires; another node takes the lease and resumes from the checkpoint; at no
// moment do two nodes run the job; after the links heal the former holder stays stopped and
// the output holds every window exactly once.
func TestClusterJobPartitionedHolder(t *testing.T) {
	port := freePort(t)
	real := func(j int) string { return fmt.Sprintf("127.0.0.%d:%d", j+1, port) }
	var links [3][3]*faultproxy.Proxy // links[i][j]: node i+1 dials node j+1 through it
	for i := range 3 {
		for j := range 3 {
			if i == j {
				continue
			}
			p, err := faultproxy.New("127.0.0.1:0", real(j))
			if err != nil {
				t.Fatal(err)
			}
			links[i][j] = p
			t.Cleanup(func() { p.Close() })
		}
	}
	nodes := startJobClusterSpecs(t, 2*time.Second, func(i int) string {
		var items []string
		for j, zone := range []string{"a", "b", "c"} {
			addr := real(j)
			if j != i {
				addr = links[i][j].Addr()
			}
			items = append(items, fmt.Sprintf("%d=%s@%s", j+1, zone, addr))
		}
		return strings.Join(items, ",")
	})
	setupClusterHub(t, nodes)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "out.db")
	anyNode(t, nodes, "creating the job", func(n *jobNode) error {
		_, err := n.m.Create(ctx, jobSpec(out), Creator{})
		return err
	})
	seenEverywhere(t, nodes, "counter")
	sendCluster(t, nodes, 0, 30)
	anyNode(t, nodes, "starting the job", func(n *jobNode) error {
		_, err := n.m.StartJob(ctx, "counter", "start", Admin)
		return err
	})
	sendCluster(t, nodes, 30, 1)
	waitRows(t, "sqlite://"+out, 9)

	// Watch, until the end of the test, that no two nodes run the job at once.
	watch, stopWatch := context.WithCancel(ctx)
	var most atomic.Int64
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for watch.Err() == nil {
			if n := int64(len(runners(nodes, "counter"))); n > most.Load() {
				most.Store(n) // only this goroutine writes
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	h := runningOn(t, nodes, "counter")
	var ckLease uint64
	eventually(t, "a replicated checkpoint past event 30 of every partition", func() bool {
		var j meta.Job
		h.b.ViewJobs(func(s *meta.State) { j, _ = s.Job("counter") })
		ck, err := decodeCheckpoint(j.Checkpoint)
		if err != nil {
			return false
		}
		for p := range int32(3) {
			if ck.Offsets["readings"][p] < 31 {
				return false
			}
		}
		ckLease = j.CheckpointLease
		return true
	})
	t.Logf("the job runs on node %d; cutting it off", h.id)
	for j := range 3 {
		if j != h.id-1 {
			links[h.id-1][j].Cut()
			links[j][h.id-1].Cut()
		}
	}
	var others []*jobNode
	for _, n := range nodes {
		if n != h {
			others = append(others, n)
		}
	}
	cut := time.Now()
	eventually(t, "another node to run the job", func() bool {
		ids := runners(nodes, "counter")
		return len(ids) == 1 && ids[0] != h.id
	})
	t.Logf("another node runs the job %v after the cut (lease TTL 2s)", time.Since(cut).Round(time.Millisecond))
	sendCluster(t, others, 31, 30)
	rows := waitRows(t, "sqlite://"+out, 18)
	for _, r := range rows {
		var v struct{ N int }
		if err := json.Unmarshal(r.Data, &v); err != nil || v.N != 10 {
			t.Fatalf("row %s: a window counted %d events, want 10 (%v)", r.Data, v.N, err)
		}
	}
	next := runningOn(t, nodes, "counter")
	if info, _ := next.m.Get("counter", Admin); info.Status.InputEvents > 93 {
		t.Fatalf("the new holder read %d events; resumed from the checkpoint of lease %d it reads at most 93", info.Status.InputEvents, ckLease)
	}
	t.Logf("node %d took the job over (at most %d runners at once so far); healing the links", next.id, most.Load())
	for j := range 3 {
		if j != h.id-1 {
			links[h.id-1][j].Heal()
			links[j][h.id-1].Heal()
		}
	}
	eventually(t, "the former holder to learn the new lease", func() bool {
		var l *meta.JobLease
		h.b.ViewJobs(func(s *meta.State) { j, _ := s.Job("counter"); l = j.Lease })
		return l != nil && l.Node == uint64(next.id)
	})
	time.Sleep(2 * time.Second) // a lease period: the former holder must not start again
	stopWatch()
	<-watched
	if ids := runners(nodes, "counter"); len(ids) != 1 || ids[0] != next.id || most.Load() > 1 {
		t.Fatalf("runners %v after the heal (at most %d at once during the test); want node %d only", ids, most.Load(), next.id)
	}
}
