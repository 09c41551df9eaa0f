package e2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/checker"
	"github.com/tandem-streaming/tandem/internal/faultproxy"
)

// The workload of the Jepsen-style tests: one hub, idempotent producers with acks=all, a plain
// consumer reading every partition, and a group consumer committing what it read.
const (
	jepsenTopic      = "jepsen"
	jepsenPartitions = 3
	jepsenGroup      = "jepsen-g"
	jepsenProducers  = 3
)

// TestJepsenSingleNode runs the workload against one real node while a nemesis kills it
// (kill -9 and restart), pauses it (SIGSTOP/SIGCONT) and cuts the clients' link to it
// (faultproxy), alone and combined; then it heals, reads every partition from start to end
// and checks the history with internal/checker: no acknowledged write lost or moved, one value
// per offset, no duplicates, no aborted reads, per-producer order, gap-free polls, committed
// offsets that never go back. It prints the client-observed unavailability per fault.
//
// TANDEM_JEPSEN_SOAK=<duration> runs a random schedule for that long instead (by hand, not in
// CI); TANDEM_JEPSEN_SEED sets its seed. A failing run's history is kept as JSON lines and its
// path printed.
func TestJepsenSingleNode(t *testing.T) {
	cfg := jepsenConfig{nodeArgs: []string{"--dev"}, acks: kgo.AllISRAcks(), idempotent: true,
		steps: func(kill, pause, cut fault) []nemesisStep {
			return []nemesisStep{
				{faults: []fault{kill}, hold: 500 * time.Millisecond},
				{faults: []fault{pause}, hold: 2 * time.Second},
				{faults: []fault{cut}, hold: 2 * time.Second},
				{faults: []fault{cut, kill}, hold: time.Second},
				{faults: []fault{pause, cut}, hold: 1500 * time.Millisecond},
			}
		}}
	if soak := os.Getenv("TANDEM_JEPSEN_SOAK"); soak != "" {
		d, err := time.ParseDuration(soak)
		if err != nil {
			t.Fatalf("TANDEM_JEPSEN_SOAK=%q: %v", soak, err)
		}
		seed := uint64(time.Now().UnixNano())
		if s := os.Getenv("TANDEM_JEPSEN_SEED"); s != "" {
			if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
				t.Fatalf("TANDEM_JEPSEN_SEED=%q: %v", s, err)
			}
		}
		t.Logf("soak for %v with seed %d (TANDEM_JEPSEN_SEED=%d replays the schedule)", d, seed, seed)
		cfg.budget = d + 5*time.Minute
		cfg.steps = func(kill, pause, cut fault) []nemesisStep {
			rng := rand.New(rand.NewPCG(seed, seed))
			return randomSteps(rng, []fault{kill, pause, cut}, int(d/(5*time.Second))+1, 200*time.Millisecond, 4*time.Second)
		}
	}
	report, ops := runJepsen(t, cfg)
	if !report.OK() || t.Failed() {
		t.Errorf("the checker found %d violations; the history is %s", len(report.Violations), keepHistory(t, ops))
	}
}

// TestJepsenCatchesLostWrites is the control of the test above: it shows the runner and the
// checker see a real loss. The node runs in the power-loss mode (TANDEM_TEST_LAZY_WRITES=1)
// with a one-hour group-commit interval and the producers use acks=1, which a single node
// answers before the fsync; so a kill -9 loses acknowledged records, and the checker must say
// so.
func TestJepsenCatchesLostWrites(t *testing.T) {
	t.Setenv("TANDEM_TEST_LAZY_WRITES", "1")
	report, _ := runJepsen(t, jepsenConfig{
		nodeArgs: []string{"--dev", "--fsync", "interval", "--fsync-interval", "1h"},
		acks:     kgo.LeaderAck(),
		steps: func(kill, _, _ fault) []nemesisStep {
			return []nemesisStep{{faults: []fault{kill}, hold: 200 * time.Millisecond}}
		}})
	lost := 0
	for _, v := range report.Violations {
		if v.Kind == checker.LostWrite {
			lost++
		}
	}
	if lost == 0 {
		t.Fatalf("acknowledged writes were dropped by a power loss, but the checker found no lost write:\n%s", report.Summary())
	}
	t.Logf("the checker found %d lost acknowledged writes, as it should", lost)
}

// jepsenConfig is one Jepsen-style run: how the node runs, how producers acknowledge, and the
// nemesis schedule built over the node's faults.
type jepsenConfig struct {
	nodeArgs   []string
	acks       kgo.Acks
	idempotent bool
	steps      func(kill, pause, cut fault) []nemesisStep
	budget     time.Duration // for the nemesis schedule; 5 minutes when 0
	noGroup    bool          // run no group consumer
}

// runJepsen starts a node with the workload behind a proxy, runs the nemesis, heals, does the
// final read and checks the history. It fails the test when the run did too little to mean
// anything.
func runJepsen(t *testing.T, cfg jepsenConfig) (checker.Report, []checker.Op) {
	t.Helper()
	n := startNode(t, t.TempDir(), cfg.nodeArgs...)
	n.cli(t, "", "hub", "create", "default/"+jepsenTopic, "--partitions", strconv.Itoa(jepsenPartitions))
	proxy, err := faultproxy.New("127.0.0.1:0", n.KafkaAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()

	rec := &checker.Recorder{}
	w := startWorkload(t, rec, viaProxy(proxy.Addr()), cfg)
	defer w.stop()
	waitFor(t, 60*time.Second, "the first acknowledged sends", func() (bool, string) {
		n := ackedAfter(rec, time.Time{})
		return n >= 100, fmt.Sprintf("%d acknowledged", n)
	})

	nm := nemesis{rec: rec, quiet: 2 * time.Second,
		steps: cfg.steps(killRestart(n, "the node"), pauseNode(n, "the node"), cutLink(proxy, "clients-node"))}
	ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(cfg.budget, 5*time.Minute))
	defer cancel()
	nm.run(ctx, t)

	// Producers must be acknowledged again after the last heal before the workload stops.
	lastHeal := time.Now()
	waitFor(t, 60*time.Second, "a send acknowledged after the last heal", func() (bool, string) {
		n := ackedAfter(rec, lastHeal)
		return n >= 10, fmt.Sprintf("%d acknowledged since", n)
	})
	w.stop()
	finalRead(t, rec, kgo.SeedBrokers(n.KafkaAddr))

	ops := rec.Ops()
	report := checker.CheckWith(ops, checker.Options{AllowDuplicates: !cfg.idempotent})
	t.Logf("checker:\n%s", report.Summary())
	if report.Acked < 200 || report.Polls == 0 || report.Commits == 0 || len(report.Faults) != len(nm.steps) {
		t.Errorf("the run did not exercise the node enough: %d acknowledged sends, %d polls, %d commits, %d of %d faults",
			report.Acked, report.Polls, report.Commits, len(report.Faults), len(nm.steps))
	}
	return report, ops
}

// ackedAfter counts the sends acknowledged at or after since.
func ackedAfter(rec *checker.Recorder, since time.Time) int {
	n := 0
	for _, op := range rec.Ops() {
		if op.Kind == checker.KindSend && op.Outcome == checker.OK && !op.Time.Before(since) {
			n++
		}
	}
	return n
}

// keepHistory writes the history where a failed run leaves it (a directory that outlives the
// test) and returns the path.
func keepHistory(t *testing.T, ops []checker.Op) string {
	dir, err := os.MkdirTemp("", "tandem-jepsen-")
	if err != nil {
		return "lost: " + err.Error()
	}
	path := filepath.Join(dir, "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return "lost: " + err.Error()
	}
	defer f.Close()
	if err := checker.WriteJSONL(f, ops); err != nil {
		return "lost: " + err.Error()
	}
	return path
}

// workload is the clients of a Jepsen-style run. Each runs in its own goroutine, owned by the
// workload: stop ends them and waits for them.
type workload struct {
	t      *testing.T
	rec    *checker.Recorder
	opts   []kgo.Opt // seeds and dialer: every connection goes through the proxy
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// viaProxy are client options for a node behind proxyAddr: clients dial proxyAddr whatever
// broker address metadata gives them, so cutting the proxy cuts them.
func viaProxy(proxyAddr string) []kgo.Opt {
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, proxyAddr)
	}
	return []kgo.Opt{kgo.SeedBrokers(proxyAddr), kgo.Dialer(dial)}
}

// startWorkload starts the producers and consumers; base says how every client reaches the
// region (seeds, dialer).
func startWorkload(t *testing.T, rec *checker.Recorder, base []kgo.Opt, cfg jepsenConfig) *workload {
	ctx, cancel := context.WithCancel(context.Background())
	w := &workload{t: t, rec: rec, cancel: cancel, opts: base}
	for i := 1; i <= jepsenProducers; i++ {
		opts := []kgo.Opt{kgo.DefaultProduceTopic(jepsenTopic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(cfg.acks), kgo.RecordDeliveryTimeout(20 * time.Second),
			kgo.ProducerLinger(2 * time.Millisecond), kgo.MaxBufferedRecords(200)}
		if !cfg.idempotent {
			opts = append(opts, kgo.DisableIdempotentWrite())
		}
		cl := w.client(opts...)
		w.wg.Go(func() { w.produce(ctx, cl, fmt.Sprintf("p%d", i)) })
	}
	plain := w.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{jepsenTopic: allPartitions(kgo.NewOffset().AtStart())}),
		kgo.FetchMaxWait(250*time.Millisecond))
	w.wg.Go(func() { w.consumePlain(ctx, plain) })
	if cfg.noGroup {
		return w
	}
	var assignment atomic.Int64
	group := w.client(kgo.ConsumerGroup(jepsenGroup), kgo.ConsumeTopics(jepsenTopic), kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(250*time.Millisecond),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { assignment.Add(1) }))
	w.wg.Go(func() { w.consumeGroup(ctx, group, &assignment) })
	return w
}

func allPartitions(o kgo.Offset) map[int32]kgo.Offset {
	m := map[int32]kgo.Offset{}
	for p := range int32(jepsenPartitions) {
		m[p] = o
	}
	return m
}

func (w *workload) client(opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, w.opts...), opts...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	return cl
}

// stop ends the clients: producers stop sending and wait up to 30 s for what they sent to be
// answered; consumers stop polling.
func (w *workload) stop() {
	w.once.Do(func() {
		w.cancel()
		w.wg.Wait()
	})
}

// produce sends a value every 5 ms, to the partitions in turn, until ctx ends, recording every
// send's outcome.
func (w *workload) produce(ctx context.Context, cl *kgo.Client, id string) {
	defer cl.Close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for seq := int64(1); ; seq++ {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cl.Flush(fctx)
			cancel()
			return
		case <-tick.C:
		}
		v := fmt.Sprintf("%s-%d", id, seq)
		r := &kgo.Record{Value: []byte(v), Partition: int32(seq % jepsenPartitions)}
		invoke := time.Now()
		cl.TryProduce(context.Background(), r, func(r *kgo.Record, err error) {
			w.rec.Add(sendOp(id, seq, v, r, invoke, err))
		})
	}
}

// sendOp is the history's record of one send.
func sendOp(id string, seq int64, v string, r *kgo.Record, invoke time.Time, err error) checker.Op {
	op := checker.Op{Kind: checker.KindSend, Process: id, Seq: seq, Value: v, Partition: r.Partition, Invoke: invoke, Time: time.Now()}
	switch {
	case err == nil:
		op.Outcome, op.Offset = checker.OK, r.Offset
	case definiteFailure(err):
		op.Outcome, op.Err = checker.Fail, err.Error()
	default:
		op.Outcome, op.Err = checker.Info, err.Error()
	}
	return op
}

// definiteFailure reports whether err says the record was certainly not appended: it was never
// buffered (the client's buffer was full), or the broker refused it before appending. A
// timeout or a lost connection leaves the outcome unknown, even when an error code of refusal
// was the last one seen, since an earlier attempt may have been appended.
func definiteFailure(err error) bool {
	if errors.Is(err, kgo.ErrMaxBuffered) {
		return true
	}
	if errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, kgo.ErrRecordRetries) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, e := range []error{kerr.NotEnoughReplicas, kerr.MessageTooLarge, kerr.TopicAuthorizationFailed,
		kerr.ClusterAuthorizationFailed, kerr.SaslAuthenticationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// records are the records of a poll, in the order the client returned them.
func records(fs kgo.Fetches) []checker.Record {
	var out []checker.Record
	fs.EachRecord(func(r *kgo.Record) {
		out = append(out, checker.Record{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
	})
	return out
}

// consumePlain reads every partition from the start, in one assignment, until ctx ends.
func (w *workload) consumePlain(ctx context.Context, cl *kgo.Client) {
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if rs := records(fs); len(rs) > 0 {
			w.rec.Add(checker.Op{Kind: checker.KindPoll, Process: "plain", Assignment: 1, Records: rs, Time: time.Now()})
		}
	}
}

// consumeGroup reads as a member of the group, commits what it read after every poll, and
// every second reads the group's committed offsets back.
func (w *workload) consumeGroup(ctx context.Context, cl *kgo.Client, assignment *atomic.Int64) {
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var lastRead time.Time
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if rs := records(fs); len(rs) > 0 {
			w.rec.Add(checker.Op{Kind: checker.KindPoll, Process: "group", Assignment: assignment.Load(), Records: rs, Time: time.Now()})
		}
		w.commit(ctx, cl, adm)
		if time.Since(lastRead) > time.Second {
			w.readCommitted(ctx, adm)
			lastRead = time.Now()
		}
		cl.AllowRebalance()
	}
}

// commit commits the group member's consumed offsets and records each one the node
// acknowledged, with the log end read just after.
func (w *workload) commit(ctx context.Context, cl *kgo.Client, adm *kadm.Client) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var acked []checker.Op
	cl.CommitOffsetsSync(ctx, cl.UncommittedOffsets(), func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			return
		}
		now := time.Now()
		for i, rt := range resp.Topics {
			for j, rp := range rt.Partitions {
				if rp.ErrorCode != 0 || i >= len(req.Topics) || j >= len(req.Topics[i].Partitions) {
					continue
				}
				acked = append(acked, checker.Op{Kind: checker.KindCommit, Process: "group", Group: jepsenGroup,
					Partition: rp.Partition, Offset: req.Topics[i].Partitions[j].Offset, Time: now})
			}
		}
	})
	if len(acked) == 0 {
		return
	}
	if ends, err := adm.ListEndOffsets(ctx, jepsenTopic); err == nil {
		for i := range acked {
			if o, ok := ends.Lookup(jepsenTopic, acked[i].Partition); ok && o.Err == nil {
				end := o.Offset
				acked[i].End = &end
			}
		}
	}
	for _, op := range acked {
		w.rec.Add(op)
	}
}

// readCommitted records the group's committed offsets as the node reports them (OffsetFetch):
// they must never be below an offset it acknowledged committing.
func (w *workload) readCommitted(ctx context.Context, adm *kadm.Client) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, jepsenGroup)
	if err != nil {
		return
	}
	now := time.Now()
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.Topic == jepsenTopic && o.At >= 0 {
			w.rec.Add(checker.Op{Kind: checker.KindCommit, Process: "offset-fetch", Group: jepsenGroup, Partition: o.Partition, Offset: o.At, Time: now})
		}
	})
}

// finalRead reads every partition from its start to its end with a fresh client, straight
// from the region (seeds), and records one final operation per partition.
func finalRead(t *testing.T, rec *checker.Recorder, seeds kgo.Opt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(seeds, kgo.FetchMaxWait(250*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{jepsenTopic: allPartitions(kgo.NewOffset().AtStart())}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, jepsenTopic)
	if err != nil {
		t.Fatalf("final read: start offsets: %v", err)
	}
	ends, err := adm.ListEndOffsets(ctx, jepsenTopic)
	if err != nil {
		t.Fatalf("final read: end offsets: %v", err)
	}
	got := map[int32][]checker.Record{}
	next := map[int32]int64{}
	for p := range int32(jepsenPartitions) {
		s, ok1 := starts.Lookup(jepsenTopic, p)
		e, ok2 := ends.Lookup(jepsenTopic, p)
		if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
			t.Fatalf("final read: no offsets for partition %d: %v %v", p, s.Err, e.Err)
		}
		next[p] = s.Offset
	}
	done := func() bool {
		for p := range int32(jepsenPartitions) {
			e, _ := ends.Lookup(jepsenTopic, p)
			if next[p] < e.Offset {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("final read: stopped at %v of ends %v: %v", next, ends, ctx.Err())
		}
		for _, r := range records(fs) {
			if e, _ := ends.Lookup(jepsenTopic, r.Partition); r.Offset < e.Offset {
				got[r.Partition] = append(got[r.Partition], r)
				next[r.Partition] = r.Offset + 1
			}
		}
	}
	for p := range int32(jepsenPartitions) {
		s, _ := starts.Lookup(jepsenTopic, p)
		e, _ := ends.Lookup(jepsenTopic, p)
		end := e.Offset
		rec.Add(checker.Op{Kind: checker.KindFinal, Process: "final", Partition: p, Start: s.Offset, End: &end, Records: got[p], Time: time.Now()})
	}
}
