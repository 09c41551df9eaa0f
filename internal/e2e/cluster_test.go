package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

// A region cluster of real `tandem serve` processes: node i listens on 127.0.0.i, every
// node on the same ports (Kafka, HTTP, raft), as machines of a region would.

// zoneRegion is a running cluster of nodes.
type zoneRegion struct {
	t     *testing.T
	nodes []*node // nodes[i] is member i+1 on 127.0.0.<i+1>
}

// sharedPort returns a port that is free on 127.0.0.1 to 127.0.0.n; it skips the test when
// 127.0.0.2 cannot be bound (a system without the whole 127/8 on loopback).
func sharedPort(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{ln}
		ok := true
		for i := 2; i <= n; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", i, port))
			if err != nil {
				if _, err2 := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i)); err2 != nil {
					t.Skipf("cannot bind 127.0.0.%d (%v): this test needs the loopback addresses 127.0.0.1 to 127.0.0.%d", i, err2, n)
				}
				ok = false
				break
			}
			lns = append(lns, l)
		}
		for _, l := range lns {
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("found no port free on every loopback address")
	return 0
}

// writeSecret writes a cluster secret file (mode 0600) and returns its path.
func writeSecret(t *testing.T, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster-secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clusterSpec is the --cluster list of an n-node region with raft on port.
func clusterSpec(n, port int) string {
	var items []string
	for i := 1; i <= n; i++ {
		items = append(items, fmt.Sprintf("%d=%c@127.0.0.%d:%d", i, 'a'+i-1, i, port))
	}
	return strings.Join(items, ",")
}

// startZoneRegion starts a 3-node region with --dev. secrets[i], if given, is member i+1's secret.
func startZoneRegion(t *testing.T, secrets ...string) *zoneRegion {
	t.Helper()
	return startZoneRegionWith(t, secrets, nil)
}

// startZoneRegionWith is startZoneRegion with tweak(i, spec) applied to member i's spec
// (i from 1) before it starts; raftPort is the members' raft port.
func startZoneRegionWith(t *testing.T, secrets []string, tweak func(i, raftPort int, spec *nodeproc.Spec)) *zoneRegion {
	t.Helper()
	// A port found free can be taken before the node binds it (an outgoing connection of a
	// test running in parallel): then the region starts again on other ports.
	for attempt := 1; ; attempt++ {
		r, err := tryZoneRegion(t, secrets, tweak)
		if err == nil {
			return r
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("starting the region again on other ports: %v", err)
	}
}

func tryZoneRegion(t *testing.T, secrets []string, tweak func(i, raftPort int, spec *nodeproc.Spec)) (*zoneRegion, error) {
	t.Helper()
	const n = 3
	kafkaPort, httpPort, raftPort := sharedPort(t, n), sharedPort(t, n), sharedPort(t, n)
	members := clusterSpec(n, raftPort)
	r := &zoneRegion{t: t}
	for i := 1; i <= n; i++ {
		secret := "region-east-cluster-secret"
		if len(secrets) >= i && secrets[i-1] != "" {
			secret = secrets[i-1]
		}
		host := fmt.Sprintf("127.0.0.%d", i)
		spec := nodeproc.Spec{
			DataDir: filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i)),
			Listen: nodeproc.Listen{Kafka: fmt.Sprintf("%s:%d", host, kafkaPort),
				HTTP: fmt.Sprintf("%s:%d", host, httpPort), AMQP: host + ":0"},
			Args: []string{"--region", "east", "--dev", "--node-id", fmt.Sprint(i), "--cluster", members,
				"--cluster-secret-file", writeSecret(t, secret), "--segment-bytes", "65536"},
		}
		if tweak != nil {
			tweak(i, raftPort, &spec)
		}
		spec.Name, spec.Exe = "tandem serve", tandemBin
		nd := &node{t: t, data: spec.DataDir, args: spec.Args, spec: spec}
		err := nd.tryStart()
		if nd.proc != nil {
			t.Cleanup(nd.stop)
		}
		if err != nil {
			nd.stop()
			for _, o := range r.nodes {
				o.stop()
			}
			return nil, err
		}
		r.nodes = append(r.nodes, nd)
	}
	return r, nil
}

// seeds are the Kafka addresses of the running nodes.
func (r *zoneRegion) seeds() []string {
	var s []string
	for _, n := range r.nodes {
		if n.proc != nil && !n.proc.HasExited() {
			s = append(s, n.KafkaAddr)
		}
	}
	return s
}

// metadata asks the node at addr for the cluster's metadata (topics: nil means all).
func metadata(ctx context.Context, addr string, topics ...string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	for _, tp := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(tp)
		req.Topics = append(req.Topics, rt)
	}
	return req.RequestWith(ctx, cl)
}

// waitBrokers waits until every node's Metadata lists the 3 members with racks a, b, c.
func (r *zoneRegion) waitBrokers() {
	r.t.Helper()
	// Each node records its endpoints in the metadata: a follower's write reaches the metadata
	// leader once followers forward metadata writes.
	waitFor(r.t, 30*time.Second, "Metadata to list 3 brokers with racks a, b, c on every node (each member records its endpoints through the metadata leader)", func() (bool, string) {
		for _, n := range r.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := metadata(ctx, n.KafkaAddr)
			cancel()
			if err != nil {
				return false, err.Error()
			}
			var got []string
			for _, b := range resp.Brokers {
				rack := "<none>"
				if b.Rack != nil {
					rack = *b.Rack
				}
				got = append(got, fmt.Sprintf("%d@%s:%d/%s", b.NodeID, b.Host, b.Port, rack))
			}
			sort.Strings(got)
			want := []string{
				fmt.Sprintf("1@%s/a", r.nodes[0].KafkaAddr), fmt.Sprintf("2@%s/b", r.nodes[1].KafkaAddr),
				fmt.Sprintf("3@%s/c", r.nodes[2].KafkaAddr)}
			if !slices.Equal(got, want) {
				return false, fmt.Sprintf("node %s lists %v, want %v", n.KafkaAddr, got, want)
			}
		}
		return true, ""
	})
}

// createHub creates a hub through the Kafka CreateTopics of whichever node takes it (the
// metadata leader, until followers forward metadata writes).
func (r *zoneRegion) createHub(name string, partitions int32) {
	r.t.Helper()
	waitFor(r.t, 30*time.Second, "hub "+name+" to be created", func() (bool, string) {
		var last string
		for _, seed := range r.seeds() {
			cl, err := kgo.NewClient(kgo.SeedBrokers(seed))
			if err != nil {
				return false, err.Error()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 3
			req.Topics = append(req.Topics, rt)
			req.TimeoutMillis = 5000
			resp, err := req.RequestWith(ctx, cl) // to a broker of the seed's choice: retried over seeds
			cancel()
			cl.Close()
			if err != nil {
				last = err.Error()
				continue
			}
			err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
			if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
				return true, ""
			}
			last = fmt.Sprintf("%s: %v", seed, err)
			if m := resp.Topics[0].ErrorMessage; m != nil {
				last = fmt.Sprintf("%s: %v: %s", seed, err, *m)
			}
		}
		return false, last
	})
}

// leaderOf waits for partition p of hub to have a leader in Metadata and returns its member
// index (0-based).
func (r *zoneRegion) leaderOf(hub string, p int32) int {
	r.t.Helper()
	leader := -1
	waitFor(r.t, 30*time.Second, fmt.Sprintf("a leader of partition %d of %s", p, hub), func() (bool, string) {
		for _, seed := range r.seeds() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := metadata(ctx, seed, hub)
			cancel()
			if err != nil || len(resp.Topics) != 1 {
				continue
			}
			for _, part := range resp.Topics[0].Partitions {
				if part.Partition == p && part.ErrorCode == 0 && part.Leader >= 1 && int(part.Leader) <= len(r.nodes) {
					n := r.nodes[part.Leader-1]
					if n.proc != nil && !n.proc.HasExited() {
						leader = int(part.Leader) - 1
						return true, ""
					}
				}
			}
		}
		return false, "no node reports a live leader"
	})
	return leader
}

// segmentDigests hashes the .log segment files of hub's partitions in a node's data directory,
// by partition/file.
func segmentDigests(t *testing.T, dataDir, hub string) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(dataDir, "hubs", "default", hub+".*", "*", "*.log"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		out[filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f)] = hex.EncodeToString(sum[:8])
	}
	return out
}

// acked is what the producer was told: record value by (partition, offset).
type acked struct {
	mu  sync.Mutex
	pos map[[2]int64]string
}

func (a *acked) produce(t *testing.T, cl *kgo.Client, hub string, from, n int) (failed int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := from; i < from+n; i++ {
		wg.Add(1)
		rec := &kgo.Record{Topic: hub, Partition: int32(i % 3), Value: fmt.Appendf(nil, "v%05d", i)}
		cl.Produce(context.Background(), rec, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				return
			}
			a.mu.Lock()
			a.pos[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value)
			a.mu.Unlock()
		})
	}
	wg.Wait()
	return failed
}

// TestClusterKill9LeaderKeepsAcknowledgedRecords runs a 3-node region of real processes: an
// idempotent franz-go producer (acks=all) keeps writing while the leader of partition 0 is
// killed with SIGKILL; after the node restarts, every acknowledged record is read back where
// it was acknowledged, once, and the three replicas' segment files are byte-identical.
func TestClusterKill9LeaderKeepsAcknowledgedRecords(t *testing.T) {
	r := startZoneRegion(t)
	r.waitBrokers()
	const hub = "orders"
	r.createHub(hub, 3)
	for p := int32(0); p < 3; p++ {
		r.leaderOf(hub, p)
	}

	prod, err := kgo.NewClient(kgo.SeedBrokers(r.nodes[0].KafkaAddr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(45*time.Second), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	a := &acked{pos: map[[2]int64]string{}}
	if failed := a.produce(t, prod, hub, 0, 1000); failed > 0 {
		t.Fatalf("%d of 1000 records failed with every node up", failed)
	}
	victim := r.leaderOf(hub, 0)
	t.Logf("killing node %d, the leader of partition 0", victim+1)
	r.nodes[victim].kill9()
	failed := a.produce(t, prod, hub, 1000, 1000)
	t.Logf("after the kill: %d of 1000 records failed (not acknowledged)", failed)
	if failed > 100 {
		t.Fatalf("%d of 1000 records failed with 2 of 3 nodes up", failed)
	}
	r.nodes[victim].restart()

	// Every acknowledged record is where it was acknowledged, and no value is there twice.
	cons, err := kgo.NewClient(kgo.SeedBrokers(r.seeds()...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		hub: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ends := map[int32]int64{}
	waitFor(t, 30*time.Second, "the end offsets", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lo, err := kadm.NewClient(cons).ListEndOffsets(ctx, hub)
		if err != nil || lo.Error() != nil {
			return false, fmt.Sprint(err, lo.Error())
		}
		lo.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
		return len(ends) == 3, fmt.Sprint(ends)
	})
	got := map[[2]int64]string{}
	seen := map[string][2]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	for done := false; !done; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records before the deadline; end offsets %v", len(got), ends)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			pos := [2]int64{int64(rec.Partition), rec.Offset}
			if prev, dup := seen[string(rec.Value)]; dup {
				t.Errorf("value %s at %v and again at %v", rec.Value, prev, pos)
			}
			seen[string(rec.Value)] = pos
			got[pos] = string(rec.Value)
		})
		done = true
		for p, end := range ends {
			if !hasAll(got, p, end) {
				done = false
			}
		}
	}
	for pos, v := range a.pos {
		if got[pos] != v {
			t.Errorf("acknowledged %s at partition %d offset %d; read %q", v, pos[0], pos[1], got[pos])
		}
	}
	t.Logf("%d records acknowledged, %d read back", len(a.pos), len(got))

	// The restarted node catches up: the segment files are the same bytes on every node.
	waitFor(t, 45*time.Second, "byte-identical segment files on the 3 nodes", func() (bool, string) {
		want := segmentDigests(t, r.nodes[0].data, hub)
		if len(want) < 3 {
			return false, fmt.Sprintf("node 1 holds %d segment files", len(want))
		}
		for i, n := range r.nodes[1:] {
			if d := segmentDigests(t, n.data, hub); !mapsEqual(d, want) {
				return false, fmt.Sprintf("node %d: %v, node 1: %v", i+2, d, want)
			}
		}
		return true, ""
	})
}

// hasAll reports whether got holds every offset of partition p below end.
func hasAll(got map[[2]int64]string, p int32, end int64) bool {
	for o := range end {
		if _, ok := got[[2]int64{int64(p), o}]; !ok {
			return false
		}
	}
	return true
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestClusterKcatThroughLeaderKill produces and consumes with kcat (librdkafka) while the
// leader of the hub's only partition is killed.
func TestClusterKcatThroughLeaderKill(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		kcat(t, "") // skips (or fails in CI) with the install hint
	}
	r := startZoneRegion(t)
	r.waitBrokers()
	const hub = "clicks"
	r.createHub(hub, 1)
	victim := r.leaderOf(hub, 0)
	producer := []string{"-X", "enable.idempotence=true", "-X", "acks=all", "-X", "message.timeout.ms=45000"}
	lines := func(from, n int) string {
		var b strings.Builder
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, "e%04d\n", i)
		}
		return b.String()
	}
	kcat(t, lines(0, 200), append([]string{"-b", strings.Join(r.seeds(), ","), "-P", "-t", hub, "-p", "0"}, producer...)...)
	r.nodes[victim].kill9()
	kcat(t, lines(200, 200), append([]string{"-b", strings.Join(r.seeds(), ","), "-P", "-t", hub, "-p", "0"}, producer...)...)
	out := kcat(t, "", "-b", strings.Join(r.seeds(), ","), "-C", "-t", hub, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o=%s\n")
	got := strings.Fields(out)
	if len(got) != 400 {
		t.Fatalf("kcat read %d events, want 400:\n%s", len(got), out)
	}
	for i, l := range got {
		if want := fmt.Sprintf("%d=e%04d", i, i); l != want {
			t.Fatalf("event %d is %q, want %q", i, l, want)
		}
	}
}

// TestClusterWrongSecretNeverJoins starts member 3 with another cluster secret: the others
// refuse its connections, and its log says the secrets differ.
func TestClusterWrongSecretNeverJoins(t *testing.T) {
	r := startZoneRegion(t, "", "", "not-the-region-secret-at-all")
	bad := r.nodes[2]
	waitFor(t, 30*time.Second, "node 3 to log that the cluster secrets differ", func() (bool, string) {
		return strings.Contains(bad.logs(), "cluster secret"), "node 3's log does not mention the cluster secret yet"
	})
	waitFor(t, 30*time.Second, "nodes 1 and 2 to log refusing node 3", func() (bool, string) {
		for _, n := range r.nodes[:2] {
			if !strings.Contains(n.logs(), "raft connection refused") {
				return false, "no refusal logged on " + n.KafkaAddr
			}
		}
		return true, ""
	})
	if strings.Contains(bad.logs(), "connected to raft peer") {
		t.Fatalf("node 3 connected to a peer with the wrong secret:\n%s", bad.logs())
	}
	// Nodes 1 and 2 form the region without it.
	r.createHub("still-works", 1)
}

// TestClusterUpgradesASingleNode: a single node's data directory, started as a one-node
// cluster, keeps every event at its offset and appends after them; started as a member of a
// 3-node cluster first, it is refused with what to do.
func TestClusterUpgradesASingleNode(t *testing.T) {
	n := startNode(t, filepath.Join(t.TempDir(), "data"), "--dev", "--region", "east")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	a := &acked{pos: map[[2]int64]string{}}
	if failed := a.produce(t, cl, "orders", 0, 300); failed > 0 {
		t.Fatalf("%d records failed on a single node", failed)
	}
	cl.Close()
	n.stop()

	// A member of a 3-node cluster: refused, saying what to do.
	raft := sharedPort(t, 1)
	spec := n.proc.RestartSpec()
	spec.Args = append(append([]string(nil), n.args...), "--node-id", "1",
		"--cluster", fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", raft, raft, raft),
		"--cluster-secret-file", writeSecret(t, "region-east-cluster-secret"))
	spec.Log = filepath.Join(t.TempDir(), "refused.log")
	p, err := nodeproc.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitReady(ctx); err == nil {
		p.Stop(ctx)
		t.Fatal("a single node's data directory started as a member of a 3-node cluster")
	}
	if !strings.Contains(p.Logs(), "start it as a one-node cluster") {
		t.Fatalf("the refusal does not say what to do:\n%s", p.Logs())
	}

	// A one-node cluster: upgraded in place.
	n.args = append(n.args, "--node-id", "1", "--cluster", fmt.Sprintf("1=a@127.0.0.1:%d", raft))
	n.restart()
	if r, _ := n.proc.Ready(); r.Node != "1" {
		t.Fatalf("the ready line of the one-node cluster does not say node=1: %s", r)
	}
	cl, err = kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"orders": {
			0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if failed := a.produce(t, cl, "orders", 300, 30); failed > 0 {
		t.Fatalf("%d records failed on the upgraded node", failed)
	}
	// 100 records per partition before; the 10 each after go to offsets 100 to 109.
	if len(a.pos) != 330 {
		t.Fatalf("records after the upgrade were acknowledged at offsets already taken: %d positions for 330 records", len(a.pos))
	}
	got := map[[2]int64]string{}
	for len(got) < len(a.pos) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value) })
	}
	for pos, v := range a.pos {
		if got[pos] != v {
			t.Errorf("partition %d offset %d: acknowledged %s, read %q", pos[0], pos[1], v, got[pos])
		}
	}
	if len(got) != 330 {
		t.Fatalf("read %d records, want 330", len(got))
	}
}

// TestClusterRaftInsideTLS: nodes with certificates from one CA, named by --tls-ca, run raft
// inside TLS: each raft listener presents its node certificate, and the region works.
func TestClusterRaftInsideTLS(t *testing.T) {
	root := t.TempDir()
	first, err := tlsconf.EnsureDev(filepath.Join(root, "node1", "tls"), tlsconf.DevHosts("127.0.0.1"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := sharedPort(t, 3)
	r := startZoneRegionWith(t, nil, func(i, _ int, spec *nodeproc.Spec) {
		spec.DataDir = filepath.Join(root, fmt.Sprintf("node%d", i))
		if i > 1 { // the same CA: each node issues its own certificate from it
			dir := filepath.Join(spec.DataDir, "tls")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{first.CAFile, first.CAKeyFile} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		spec.Listen.KafkaTLS = fmt.Sprintf("127.0.0.%d:%d", i, tlsPort)
		spec.Listen.AMQPS = fmt.Sprintf("127.0.0.%d:0", i)
		spec.Args = append(spec.Args, "--tls-dev", "--tls-ca", first.CAFile)
	})
	pool, err := tlsconf.CAPool(first.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	raftAddr := func(i int) string {
		_, addr, _ := strings.Cut(strings.Split(clusterSpecOf(r.nodes[i-1]), ",")[i-1], "@")
		return addr
	}
	for i := 1; i <= 3; i++ {
		conn, err := tls.Dial("tcp", raftAddr(i), &tls.Config{RootCAs: pool, ServerName: fmt.Sprintf("127.0.0.%d", i)})
		if err != nil {
			t.Fatalf("node %d's raft listener does not speak TLS with a certificate from the CA: %v\n%s", i, err, r.nodes[i-1].logs())
		}
		conn.Close()
		if strings.Contains(r.nodes[i-1].logs(), "not encrypted") {
			t.Errorf("node %d says raft is not encrypted", i)
		}
	}
	r.createHub("over-tls", 1)
	r.leaderOf("over-tls", 0)
}

// clusterSpecOf is the --cluster list a node was started with.
func clusterSpecOf(n *node) string {
	for i, a := range n.args {
		if a == "--cluster" && i+1 < len(n.args) {
			return n.args[i+1]
		}
	}
	return ""
}
