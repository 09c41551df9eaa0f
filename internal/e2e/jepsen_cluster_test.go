package e2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/checker"
)

// leaderBound is how long after the last heal every partition must have a leader that serves.
const leaderBound = 30 * time.Second

// TestJepsenCluster runs the Jepsen workload (idempotent producers with acks=all, a plain
// consumer and a group consumer, all bootstrapped with every node) against a region of three
// real `tandem serve` nodes whose raft links each go through a faultproxy, while a nemesis
// kills the leader of a partition, kills a random node, pauses a node, isolates a leader from
// its followers, cuts one direction of one link, alone and combined. After the last heal it
// asserts: every partition has a leader that serves within leaderBound; the checker finds no
// lost acknowledged event (each at its acknowledged partition and offset), no duplicate, no
// reordering per producer, no gap, no committed group offset going back; and every
// partition's segment files are byte-identical on the three nodes once the replicas catch up.
// It prints the client-observed unavailability per fault.
//
// TANDEM_SOAK=<duration> runs a random schedule of the same faults for that long instead (by
// hand, not in CI); TANDEM_JEPSEN_SEED sets the seed of the nemesis's choices (printed either
// way). A failing run's history is kept as JSON lines and its path printed, and the nodes'
// logs are printed.
func TestJepsenCluster(t *testing.T) {
	seed, soak := jepsenEnv(t)
	r := startClusterRig(t, 3, seed, "--dev")
	createClusterHub(t, r)
	groups := os.Getenv("TANDEM_JEPSEN_NO_GROUP") == ""

	rec := &checker.Recorder{}
	cfg := jepsenConfig{acks: kgo.AllISRAcks(), idempotent: true, noGroup: !groups}
	// franz-go refreshes metadata at most every 5 s by default, which would dominate the
	// unavailability measured after a leader moves; Kafka's Java client retries after 100 ms.
	resets := &resetLog{}
	w := startWorkload(t, rec, []kgo.Opt{r.seeds(), kgo.MetadataMinAge(250 * time.Millisecond), kgo.WithLogger(resets)}, cfg)
	defer w.stop()
	waitFor(t, 60*time.Second, "the first acknowledged sends", func() (bool, string) {
		n := ackedAfter(rec, time.Time{})
		return n >= 100, fmt.Sprintf("%d acknowledged", n)
	})

	steps, budget := r.schedule(t, seed, soak)
	nm := nemesis{rec: rec, quiet: 2 * time.Second, steps: steps}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	nm.run(ctx, t)
	r.healAll(t)
	r.waitRecovered(t, rec, time.Now())
	w.stop()
	finalRead(t, rec, r.seeds())

	ops := rec.Ops()
	report := checker.Check(ops)
	t.Logf("checker:\n%s", report.Summary())
	t.Logf("send errors: %s", sendErrors(ops))
	for _, l := range resets.lines() {
		t.Logf("client: %s", l)
	}
	if report.Acked < 300 || report.Polls == 0 || (groups && report.Commits == 0) || (soak == 0 && len(report.Faults) != len(nm.steps)) {
		t.Errorf("the run did not exercise the cluster enough: %d acknowledged sends, %d polls, %d commits, %d of %d faults",
			report.Acked, report.Polls, report.Commits, len(report.Faults), len(nm.steps))
	}
	if !report.OK() || t.Failed() {
		t.Errorf("the checker found %d violations (seed %d: TANDEM_JEPSEN_SEED=%d replays the nemesis's choices); the history is %s",
			len(report.Violations), seed, seed, keepHistory(t, ops))
	}
	r.waitIdenticalReplicas(t)
}

// jepsenEnv reads the seed of the nemesis's choices (TANDEM_JEPSEN_SEED, else the clock) and
// the soak duration (TANDEM_SOAK, 0 for the CI schedule).
func jepsenEnv(t *testing.T) (seed uint64, soak time.Duration) {
	seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("TANDEM_JEPSEN_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("TANDEM_JEPSEN_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (TANDEM_JEPSEN_SEED=%d replays the nemesis's choices)", seed, seed)
	if s := os.Getenv("TANDEM_SOAK"); s != "" {
		var err error
		if soak, err = time.ParseDuration(s); err != nil {
			t.Fatalf("TANDEM_SOAK=%q: %v", s, err)
		}
	}
	return seed, soak
}

// schedule is the nemesis's steps and how long it may run: the CI schedule, or for a soak
// random steps of one or two faults for the soak's duration.
func (r *clusterRig) schedule(t *testing.T, seed uint64, soak time.Duration) ([]nemesisStep, time.Duration) {
	leaderOf := func(p int32) func(t *testing.T) uint64 {
		return func(t *testing.T) uint64 { return r.leaderOf(t, jepsenTopic, p) }
	}
	random := func(*testing.T) uint64 { return r.randomNode().ID }
	metaLeader := func(t *testing.T) uint64 {
		if id, ok := r.metadataLeader(context.Background()); ok {
			return id
		}
		return r.randomNode().ID
	}
	var (
		killLeader   = r.killNodeFault("the leader of partition 0", leaderOf(0))
		killRandom   = r.killNodeFault("a random node", random)
		pauseRandom  = r.pauseNodeFault("a random node", random)
		isolateP1    = r.isolateFault("the leader of partition 1", leaderOf(1))
		oneWayP2     = r.oneWayFault("the leader of partition 2", leaderOf(2))
		oneWayMeta   = r.oneWayFault("the metadata leader", metaLeader)
		isolateMeta  = r.isolateFault("the metadata leader", metaLeader)
		pauseLeader2 = r.pauseNodeFault("the leader of partition 2", leaderOf(2))
	)
	if soak > 0 {
		// More steps than the soak can run: the nemesis stops at the budget.
		rng := rand.New(rand.NewPCG(seed, seed))
		all := []fault{killLeader, killRandom, pauseRandom, isolateP1, oneWayP2, oneWayMeta, isolateMeta, pauseLeader2}
		t.Logf("soak for %v: random steps of one or two faults held 0.5-5 s", soak)
		return randomSteps(rng, all, int(soak/time.Second)+1, 500*time.Millisecond, 5*time.Second), soak
	}
	return []nemesisStep{
		{faults: []fault{killLeader}, hold: time.Second},
		{faults: []fault{killRandom}, hold: time.Second},
		{faults: []fault{pauseRandom}, hold: 3 * time.Second},
		{faults: []fault{isolateP1}, hold: 4 * time.Second},
		{faults: []fault{oneWayP2}, hold: 3 * time.Second},
		{faults: []fault{pauseLeader2, oneWayMeta}, hold: 3 * time.Second},
		{faults: []fault{isolateMeta, killLeader}, hold: 2 * time.Second},
	}, 3 * time.Minute
}

// waitRecovered waits until every partition has a leader that serves (within leaderBound of
// the last heal) and producers have been acknowledged on every partition since.
func (r *clusterRig) waitRecovered(t *testing.T, rec *checker.Recorder, lastHeal time.Time) {
	t.Helper()
	waitFor(t, leaderBound, "every partition served by a leader after the last heal", r.everyPartitionServed)
	t.Logf("every partition had a leader that serves %v after the last heal", time.Since(lastHeal).Round(time.Millisecond))
	waitFor(t, 60*time.Second, "sends acknowledged on every partition after the last heal", func() (bool, string) {
		per := map[int32]int{}
		for _, op := range rec.Ops() {
			if op.Kind == checker.KindSend && op.Outcome == checker.OK && !op.Time.Before(lastHeal) {
				per[op.Partition]++
			}
		}
		return len(per) == jepsenPartitions && minCount(per) >= 10, fmt.Sprintf("acknowledged per partition %v", per)
	})
}

// waitIdenticalReplicas waits until every node holds byte-identical data for every partition,
// and logs partitions whose segment files split the same bytes at other offsets.
func (r *clusterRig) waitIdenticalReplicas(t *testing.T) {
	t.Helper()
	var dataDirs []string
	for _, n := range r.c.Nodes() {
		dataDirs = append(dataDirs, n.DataDir())
	}
	start := time.Now()
	var layout string
	waitFor(t, 120*time.Second, "byte-identical partition data on every node", func() (bool, string) {
		var content string
		content, layout = replicasDiffer(dataDirs)
		return content == "", content
	})
	t.Logf("the replicas' partition data was byte-identical %v after the final read", time.Since(start).Round(time.Millisecond))
	if layout != "" {
		// A replica that caught up from a peer's segment files (a raft snapshot) installs them
		// as a new segment at its end, so its files split at other offsets than its peers'.
		t.Logf("the same bytes are split into segment files at different offsets: %s", layout)
	}
}

// resetLog is a franz-go logger that keeps what the clients say about offsets they were told
// are out of range, or data they think lost: a consumer that resets its position is how a
// node serving from a stale or lagging log shows up on the client side.
type resetLog struct {
	mu sync.Mutex
	l  []string
}

func (r *resetLog) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (r *resetLog) Log(level kgo.LogLevel, msg string, kv ...any) {
	if !strings.Contains(msg, "OFFSET_OUT_OF_RANGE") && !strings.Contains(strings.ToLower(msg), "data loss") {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.l = append(r.l, fmt.Sprintf("%s %s %s %v", time.Now().UTC().Format("15:04:05.000"), level, msg, kv))
}

func (r *resetLog) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.l)
}

// sendErrors tallies the errors of the sends that were not acknowledged, by outcome and text.
func sendErrors(ops []checker.Op) string {
	n := map[string]int{}
	for _, op := range ops {
		if op.Kind == checker.KindSend && op.Outcome != checker.OK {
			n[string(op.Outcome)+": "+op.Err]++
		}
	}
	keys := slices.SortedFunc(maps.Keys(n), func(a, b string) int { return cmp.Compare(n[b], n[a]) })
	var parts []string
	for _, k := range keys[:min(len(keys), 8)] {
		parts = append(parts, fmt.Sprintf("%d × %s", n[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func minCount(m map[int32]int) int {
	n := -1
	for _, v := range m {
		if n < 0 || v < n {
			n = v
		}
	}
	return n
}

// createClusterHub creates the workload's hub with Kafka CreateTopics, asking each node in
// turn until one accepts (a node that is not the metadata leader may refuse) and waits until
// every partition has a leader.
func createClusterHub(t *testing.T, r *clusterRig) {
	t.Helper()
	waitFor(t, 60*time.Second, "hub "+jepsenTopic+" created", func() (bool, string) {
		var errs []error
		for _, addr := range r.c.KafkaAddrs() {
			err := createTopicAt(addr)
			if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
				return true, ""
			}
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		}
		return false, errors.Join(errs...).Error()
	})
	waitFor(t, 60*time.Second, "every partition of "+jepsenTopic+" served by a leader", r.everyPartitionServed)
}

func createTopicAt(addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, jepsenPartitions, -1, nil, jepsenTopic)
	if err != nil {
		return err
	}
	return resp.Err
}

// everyPartitionServed reports whether the metadata names a leader for every partition and
// every one answers ListOffsets from a fresh client bootstrapped with every node.
func (r *clusterRig) everyPartitionServed() (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	leaders := r.partitionLeaders(ctx, jepsenTopic)
	if len(leaders) != jepsenPartitions {
		return false, fmt.Sprintf("leaders %v", leaders)
	}
	cl, err := kgo.NewClient(r.seeds())
	if err != nil {
		return false, err.Error()
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, jepsenTopic)
	if err != nil {
		return false, fmt.Sprintf("leaders %v; end offsets: %v", leaders, err)
	}
	var bad []string
	for p := range int32(jepsenPartitions) {
		if o, ok := ends.Lookup(jepsenTopic, p); !ok || o.Err != nil {
			bad = append(bad, fmt.Sprintf("partition %d: %v", p, o.Err))
		}
	}
	if len(bad) > 0 {
		return false, fmt.Sprintf("leaders %v; end offsets: %v", leaders, bad)
	}
	return true, fmt.Sprintf("leaders %v", leaders)
}

// TestClusterRig checks the test's own machinery against three real nodes: every node is
// listed with its zone, the per-link proxies carry the raft traffic (cutting a node's links
// costs its partitions their leadership), a node killed with kill -9 comes back on its ports,
// and the byte-identity check sees a segment file changed on one node.
func TestClusterRig(t *testing.T) {
	r := startClusterRig(t, 3, 1, "--dev")
	ctx := context.Background()
	resp, err := r.metadataOf(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	racks := map[int32]string{}
	for _, b := range resp.Brokers {
		racks[b.NodeID] = fmt.Sprint(deref(b.Rack))
	}
	if len(racks) != 3 || racks[1] != "a" || racks[2] != "b" || racks[3] != "c" {
		t.Errorf("Metadata brokers and racks = %v; want nodes 1-3 in zones a-c", racks)
	}
	for l, p := range r.links {
		if st := p.Stats(); st.BytesUp == 0 {
			waitFor(t, 30*time.Second, fmt.Sprintf("raft traffic through link %v", l), func() (bool, string) {
				st := p.Stats()
				return st.BytesUp > 0, fmt.Sprintf("%+v", st)
			})
		}
	}
	createClusterHub(t, r)

	// A killed node comes back on the ports it had, and its partitions get leaders again.
	n := r.c.Node(2)
	before, _ := n.Ready()
	r.killNodeFault("node 2", func(*testing.T) uint64 { return 2 }).start(t)
	r.restart(t, 2)
	if after, _ := n.Ready(); after.Kafka != before.Kafka || after.HTTP != before.HTTP {
		t.Errorf("node 2 came back at %+v, it was at %+v", after, before)
	}
	waitFor(t, leaderBound, "every partition served after a restart", r.everyPartitionServed)

	// Isolating the leader of partition 0 moves its leadership to another node.
	leader := r.leaderOf(t, jepsenTopic, 0)
	iso := r.isolateFault("the leader of partition 0", func(*testing.T) uint64 { return leader })
	iso.start(t)
	waitFor(t, leaderBound, "a new leader of partition 0 while its leader is isolated", func() (bool, string) {
		ls := r.partitionLeaders(ctx, jepsenTopic)
		l, ok := ls[0]
		return ok && l != leader, fmt.Sprintf("leaders %v (isolated %d)", ls, leader)
	})
	iso.heal(t)
	waitFor(t, leaderBound, "every partition served after the heal", r.everyPartitionServed)

	// The byte-identity check.
	var dirs []string
	for _, n := range r.c.Nodes() {
		dirs = append(dirs, n.DataDir())
	}
	waitFor(t, 60*time.Second, "byte-identical replicas", func() (bool, string) {
		content, layout := replicasDiffer(dirs)
		return content == "" && layout == "", content + layout
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
