package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Geo-DR tests of alias traffic: clients that connect through the alias at either region,
// failover after kill -9 of the primary, break pairing, delete alias, and fail-forward.

// createOrders creates hub orders with 3 partitions on the pair's primary and waits until the
// secondary has it.
func (g *geoPair) createOrders(t *testing.T) {
	t.Helper()
	g.east.must(t, "PUT", "/namespaces/"+g.pns+"/eventhubs/orders", map[string]any{"properties": map[string]any{"partitionCount": 3}}, nil)
	g.east.must(t, "PUT", "/namespaces/"+g.pns+"/eventhubs/orders/consumergroups/readers", map[string]any{}, nil)
	g.waitConverged(t, 60*time.Second)
}

// position is where an acknowledged record was written.
type position struct {
	partition int32
	offset    int64
}

// byValue indexes events by body, failing the test when a body appears twice.
func byValue(t *testing.T, where string, evs []event) map[string]position {
	t.Helper()
	out := make(map[string]position, len(evs))
	for _, e := range evs {
		if prev, dup := out[e.text()]; dup {
			t.Errorf("%s: event %q appears twice, at %d/%d and %d/%d", where, e.text(), prev.partition, prev.offset, e.Partition, e.Offset)
		}
		out[e.text()] = position{e.Partition, e.Offset}
	}
	return out
}

// brokersOf asks broker b for the metadata of its connection and returns the advertised
// broker addresses.
func brokersOf(t *testing.T, ctx context.Context, b *kgo.Broker) []string {
	t.Helper()
	resp, err := b.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	var out []string
	for _, br := range resp.(*kmsg.MetadataResponse).Brokers {
		out = append(out, fmt.Sprintf("%s:%d", br.Host, br.Port))
	}
	return out
}

// topicIDOf asks broker b for topic's Kafka topic id.
func topicIDOf(t *testing.T, ctx context.Context, b *kgo.Broker, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := b.Request(ctx, req)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	mr := resp.(*kmsg.MetadataResponse)
	if len(mr.Topics) != 1 || mr.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata of %s: %+v", topic, mr.Topics)
	}
	return mr.Topics[0].TopicID
}

// TestGeoDRAliasTrafficAtSecondaryLandsOnPrimary bootstraps Kafka clients (franz-go and
// kcat) and HTTP senders through the alias at the secondary region only: the secondary
// answers with the primary's broker (or a redirect), and every event lands on the primary.
func TestGeoDRAliasTrafficAtSecondaryLandsOnPrimary(t *testing.T) {
	t.Parallel()
	g := newGeoPair(t, false)
	g.createOrders(t)
	cs := g.aliasConnString(t)
	ctx := ctxTimeout(t, 120*time.Second)

	cl := kafkaClient(t, cs, []string{g.west.KafkaAddr}, kgo.DefaultProduceTopic("orders"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(60*time.Second))
	if got := brokersOf(t, ctx, cl.SeedBrokers()[0]); strings.Join(got, ",") != g.east.KafkaAddr {
		t.Fatalf("the secondary's metadata for the alias names brokers %v, want the primary's %s", got, g.east.KafkaAddr)
	}
	// The hub is one topic to alias clients, whichever region answers: same topic id, or a
	// client that followed a failover takes it for a deleted and recreated topic.
	atPrimary := kafkaClient(t, cs, []string{g.east.KafkaAddr})
	if p, s := topicIDOf(t, ctx, atPrimary.SeedBrokers()[0], "orders"), topicIDOf(t, ctx, cl.SeedBrokers()[0], "orders"); p != s {
		t.Errorf("through the alias, hub orders has topic id %x at the primary and %x at the secondary; they must be equal", p, s)
	}
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "franz-%d", i)})
	}
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce through the alias at the secondary: %v", err)
	}

	// HTTP: the secondary redirects a request naming the alias to the primary, which takes it.
	path := "/namespaces/" + g.alias + "/eventhubs/orders/messages"
	token := sasToken(t, cs)
	status, data, loc, err := g.west.tryURL("POST", "http://"+g.west.HTTPAddr+path, map[string]any{"body": "http-1"}, token)
	if err != nil || status != http.StatusTemporaryRedirect {
		t.Fatalf("send through the alias at the secondary: %d %s %v, want 307", status, data, err)
	}
	if loc != "http://"+g.east.HTTPAddr+path {
		t.Fatalf("redirected to %q, want the primary's http://%s%s", loc, g.east.HTTPAddr, path)
	}
	if status, data, _, err := g.east.tryURL("POST", loc, map[string]any{"body": "http-1"}, token); err != nil || status != http.StatusCreated {
		t.Fatalf("send at the redirect: %d %s %v", status, data, err)
	}

	t.Run("kcat", func(t *testing.T) {
		kcat(t, "kcat-1\nkcat-2\nkcat-3\n", append(append([]string{"-b", g.west.KafkaAddr}, saslArgs(cs)...), "-t", "orders", "-P")...)
		waitFor(t, 10*time.Second, "kcat's events on the primary", func() (bool, string) {
			got := byValue(t, "primary", g.east.readPartitions(t, g.pns, "orders", 3))
			_, ok1 := got["kcat-1"]
			_, ok3 := got["kcat-3"]
			return ok1 && ok3, fmt.Sprintf("%d events", len(got))
		})
	})

	onPrimary := byValue(t, "primary", g.east.readPartitions(t, g.pns, "orders", 3))
	for _, r := range res {
		want := position{r.Record.Partition, r.Record.Offset}
		if got, ok := onPrimary[string(r.Record.Value)]; !ok || got != want {
			t.Errorf("record %s acknowledged at %v is at %v (present: %v) on the primary", r.Record.Value, want, got, ok)
		}
	}
	if _, ok := onPrimary["http-1"]; !ok {
		t.Errorf("the event sent over HTTP through the alias is not on the primary")
	}
	if evs := g.west.readPartitions(t, g.sns, "orders", 3); len(evs) != 0 {
		t.Errorf("the secondary holds %d events; alias traffic must land on the primary", len(evs))
	}
}

// liveProducer produces numbered records through the alias until stopped and remembers,
// for each acknowledged one, where it was written and when the acknowledgement came.
type liveProducer struct {
	mu     sync.Mutex
	acked  map[string]position
	ackAt  map[string]time.Time
	errs   []error // the first few failures
	failed int
	once   sync.Once
	stop   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc
}

// startLiveProducer starts producing with cl; the producer stops at halt or, at the latest,
// when the test ends (before cl closes).
func startLiveProducer(t *testing.T, cl *kgo.Client) *liveProducer {
	ctx, cancel := context.WithCancel(context.Background())
	lp := &liveProducer{acked: map[string]position{}, ackAt: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	t.Cleanup(func() { lp.halt() })
	go func() {
		defer close(lp.done)
		for i := 0; ; i++ {
			select {
			case <-lp.stop:
				return
			default:
			}
			r := &kgo.Record{Partition: int32(i % 3), Value: fmt.Appendf(nil, "live-%d", i)}
			err := cl.ProduceSync(ctx, r).FirstErr()
			lp.mu.Lock()
			if err == nil {
				lp.acked[string(r.Value)] = position{r.Partition, r.Offset}
				lp.ackAt[string(r.Value)] = time.Now()
			} else if ctx.Err() == nil {
				lp.failed++
				if len(lp.errs) < 5 {
					lp.errs = append(lp.errs, fmt.Errorf("%s: %w", r.Value, err))
				}
			}
			lp.mu.Unlock()
			if err != nil { // a record that fails at once: do not spin
				select {
				case <-lp.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}()
	return lp
}

// ackedSince counts the records acknowledged after t0.
func (lp *liveProducer) ackedSince(t0 time.Time) int {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	n := 0
	for _, at := range lp.ackAt {
		if at.After(t0) {
			n++
		}
	}
	return n
}

// halt stops the producer (abandoning a record in flight) and returns what it saw.
func (lp *liveProducer) halt() (map[string]position, map[string]time.Time, []error, int) {
	lp.once.Do(func() { close(lp.stop); lp.cancel() })
	<-lp.done
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.acked, lp.ackAt, lp.errs, lp.failed
}

// consumeAll reads topic orders with cl until want records arrived or ctx ends.
func consumeAll(t *testing.T, ctx context.Context, cl *kgo.Client, want int) map[string]position {
	t.Helper()
	got := map[string]position{}
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", len(got), want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if prev, dup := got[string(r.Value)]; dup {
				t.Errorf("record %s consumed twice (%v and %d/%d)", r.Value, prev, r.Partition, r.Offset)
			}
			got[string(r.Value)] = position{r.Partition, r.Offset}
		})
	}
	return got
}

// TestGeoDRFailoverAfterKill9 kills the primary region with SIGKILL while a producer writes
// through the alias, fails over on the secondary, and checks that the same client, with the
// same alias connection string, carries on against the new primary; that consumers start
// over there; and that the restarted old primary knows it lost the alias, refuses alias
// traffic, and still serves its own events by its own name. Nothing acknowledged is lost:
// every acknowledged record is, at the offset it was acknowledged with, in the region that
// acknowledged it.
func TestGeoDRFailoverAfterKill9(t *testing.T) {
	t.Parallel()
	g := newGeoPair(t, false)
	g.createOrders(t)
	cs := g.aliasConnString(t)
	seeds := []string{g.east.KafkaAddr, g.west.KafkaAddr}
	ctx := ctxTimeout(t, 150*time.Second)
	fast := []kgo.Opt{kgo.MetadataMinAge(200 * time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond })}

	prod := kafkaClient(t, cs, seeds, append(fast, kgo.DefaultProduceTopic("orders"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(2*time.Minute))...)
	var pre []*kgo.Record
	for i := range 60 {
		pre = append(pre, &kgo.Record{Partition: int32(i % 3), Value: fmt.Appendf(nil, "pre-%d", i)})
	}
	if err := prod.ProduceSync(ctx, pre...).FirstErr(); err != nil {
		t.Fatalf("produce before the failover: %v", err)
	}
	// A consumer group reads them on the primary and commits (offsets stay in that region).
	group := kafkaClient(t, cs, seeds, kgo.ConsumerGroup("readers"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if got := consumeAll(t, ctx, group, len(pre)); len(got) != len(pre) {
		t.Fatalf("the group read %d records before the failover, want %d", len(got), len(pre))
	}
	if err := group.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit before the failover: %v", err)
	}
	group.Close()

	// kill -9 the primary while the producer runs, then fail over on the secondary.
	lp := startLiveProducer(t, prod)
	waitFor(t, 60*time.Second, "live records acknowledged by the primary", func() (bool, string) {
		n := lp.ackedSince(time.Time{})
		return n >= 20, fmt.Sprintf("%d acknowledged", n)
	})
	g.east.kill9()
	var fo aliasJSON
	g.west.must(t, "POST", aliasPath(g.sns, g.alias)+"/failover", nil, &fo)
	failedOver := time.Now()
	if a := fo.Properties; a.Role != "PrimaryNotReplicating" || a.Epoch != 2 || a.FormerPrimaryNotified == nil || *a.FormerPrimaryNotified {
		t.Fatalf("failover with the primary dead: %+v, want PrimaryNotReplicating at epoch 2, former primary not notified", a)
	}
	carriedOn, detail := poll(60*time.Second, func() (bool, string) {
		n := lp.ackedSince(failedOver)
		return n >= 30, fmt.Sprintf("%d acknowledged since the failover", n)
	})
	acked, ackAt, errs, failed := lp.halt()
	if failed > 0 {
		t.Logf("%d live records failed (not acknowledged, so nothing is lost); the first: %v", failed, errs)
	}
	if !carriedOn {
		// Go on with a new client so the rest of the failover is still checked.
		t.Errorf("the producer that was running through the alias did not carry on against the new primary within 60s (%s); "+
			"see TestGeoDRAliasTrafficAtSecondaryLandsOnPrimary for the topic id check", detail)
		fresh := kafkaClient(t, cs, seeds, append(fast, kgo.DefaultProduceTopic("orders"), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(time.Minute))...)
		for i := range 30 {
			r := &kgo.Record{Partition: int32(i % 3), Value: fmt.Appendf(nil, "fresh-%d", i)}
			if err := fresh.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("a new client cannot produce through the alias after the failover either: %v", err)
			}
			acked[string(r.Value)], ackAt[string(r.Value)] = position{r.Partition, r.Offset}, time.Now()
		}
	}
	var afterFailover []string
	for v, at := range ackAt {
		if at.After(failedOver) {
			afterFailover = append(afterFailover, v)
		}
	}

	// The new primary has exactly what it acknowledged; a consumer group of the same name
	// has no offsets there and starts from the start.
	onNew := byValue(t, "new primary", g.west.readPartitions(t, g.sns, "orders", 3))
	for _, v := range afterFailover {
		if got, ok := onNew[v]; !ok || got != acked[v] {
			t.Errorf("%s acknowledged after the failover at %v is at %v (present %v) on the new primary", v, acked[v], got, ok)
		}
	}
	group = kafkaClient(t, cs, seeds, append(fast, kgo.ConsumerGroup("readers"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	consumed := consumeAll(t, ctx, group, len(onNew))
	for v, pos := range consumed {
		if strings.HasPrefix(v, "pre-") || onNew[v] != pos {
			t.Errorf("the group read %s at %v after the failover; the new primary has it at %v", v, pos, onNew[v])
		}
	}

	g.east.restart()
	checkFormerPrimary(t, ctx, g, cs, pre, acked)
}

// checkFormerPrimary checks the restarted old primary: it knows it lost the alias at epoch
// 2, sends alias clients to the new primary, and keeps its own events readable by its name.
func checkFormerPrimary(t *testing.T, ctx context.Context, g *geoPair, cs string, pre []*kgo.Record, acked map[string]position) {
	t.Helper()
	old := g.east
	a := old.alias(t, g.pns, g.alias)
	if !a.Lost || a.Epoch != 2 || a.Role != "PrimaryNotReplicating" || a.ActiveRegion != "west" {
		t.Errorf("the restarted old primary shows %+v, want lost at epoch 2 with west active", a)
	}
	if v := old.metric(t, `tandem_geodr_alias_role{alias="geo-alias",namespace="ns-east",role="Lost"}`); v != 1 {
		t.Errorf("old primary's tandem_geodr_alias_role for Lost is %v", v)
	}
	if v := g.west.metric(t, `tandem_geodr_alias_epoch{alias="geo-alias",namespace="ns-west"}`); v != 2 {
		t.Errorf("new primary's tandem_geodr_alias_epoch is %v", v)
	}

	// Alias clients at the old region: refused with NOT_LEADER, sent to the new primary by
	// metadata, and redirected over HTTP.
	cl := kafkaClient(t, cs, []string{old.KafkaAddr}, kgo.DefaultProduceTopic("orders"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(60*time.Second))
	if pr := rawProduce(t, ctx, cl.SeedBrokers()[0], "orders", 0, "stale"); pr.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("alias produce at the old primary answered code %d %s, want NOT_LEADER_FOR_PARTITION", pr.ErrorCode, strp(pr.ErrorMessage))
	}
	if got := brokersOf(t, ctx, cl.SeedBrokers()[0]); strings.Join(got, ",") != g.west.KafkaAddr {
		t.Errorf("the old primary's metadata for the alias names %v, want the new primary %s", got, g.west.KafkaAddr)
	}
	r := &kgo.Record{Partition: 1, Value: []byte("via-old-region")}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Errorf("produce through the alias bootstrapped at the old primary: %v", err)
	} else if got := byValue(t, "new primary", g.west.readPartitions(t, g.sns, "orders", 3))["via-old-region"]; got != (position{1, r.Offset}) {
		t.Errorf("the record produced via the old region is at %v on the new primary, acknowledged at 1/%d", got, r.Offset)
	}
	path := "/namespaces/" + g.alias + "/eventhubs/orders"
	if status, _, loc, err := old.tryURL("GET", "http://"+old.HTTPAddr+path, nil, sasToken(t, cs)); err != nil ||
		status != http.StatusTemporaryRedirect || loc != "http://"+g.west.HTTPAddr+path {
		t.Errorf("GET through the alias at the old primary: %d to %q %v, want 307 to the new primary", status, loc, err)
	}

	// Its own events: all pre-failover records and every live record it acknowledged, at
	// their offsets, over HTTP and over Kafka with the namespace's own connection string.
	onOld := byValue(t, "old primary", old.readPartitions(t, g.pns, "orders", 3))
	for _, r := range pre {
		if got := onOld[string(r.Value)]; got != (position{r.Partition, r.Offset}) {
			t.Errorf("%s acknowledged at %d/%d is at %v on the old primary", r.Value, r.Partition, r.Offset, got)
		}
	}
	onNew := byValue(t, "new primary", g.west.readPartitions(t, g.sns, "orders", 3))
	for v, pos := range acked {
		if onOld[v] != pos && onNew[v] != pos {
			t.Errorf("acknowledged record %s (%v) is lost: old primary has %v, new primary %v", v, pos, onOld[v], onNew[v])
		}
	}
	// The group's offsets committed before the failover stayed in the old region.
	var cps struct {
		Value []struct {
			Partition int32 `json:"partitionId"`
			Offset    int64 `json:"offset"`
		} `json:"value"`
	}
	old.must(t, "GET", "/namespaces/"+g.pns+"/eventhubs/orders/consumergroups/readers/checkpoints", nil, &cps)
	if len(cps.Value) != 3 {
		t.Errorf("the old primary keeps checkpoints %+v of group readers, want one per partition", cps.Value)
	}
	for _, cp := range cps.Value {
		if cp.Offset != int64(len(pre)/3) {
			t.Errorf("group readers' checkpoint on partition %d of the old primary is %d, want %d", cp.Partition, cp.Offset, len(pre)/3)
		}
	}
	own := kafkaClient(t, old.namespaceConnString(t, g.pns), []string{old.KafkaAddr}, kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := consumeAll(t, ctx, own, len(onOld)); len(got) != len(onOld) {
		t.Errorf("Kafka with the old primary's own connection string read %d events, HTTP %d", len(got), len(onOld))
	}
	t.Logf("old primary keeps %d events, the new primary has %d; %d live records acknowledged in all", len(onOld), len(onNew), len(acked))
}

// TestGeoDRBreakPairingAndDeleteAlias checks the separate life-cycle operations: an alias
// cannot be deleted while paired, break pairing runs on the primary only and turns the
// secondary into an ordinary, writable namespace (told at once, or when the link heals), and
// the unpaired alias can then be deleted, freeing its name.
func TestGeoDRBreakPairingAndDeleteAlias(t *testing.T) {
	t.Parallel()
	for _, cut := range []bool{false, true} {
		t.Run(fmt.Sprintf("link_cut=%v", cut), func(t *testing.T) {
			t.Parallel()
			g := newGeoPair(t, cut)
			p, s := g.east, g.west
			g.createOrders(t)

			for _, side := range []struct {
				r  *region
				ns string
			}{{p, g.pns}, {s, g.sns}} {
				e := side.r.refused(t, http.StatusConflict, "DELETE", aliasPath(side.ns, g.alias), nil)
				if !strings.Contains(e.Error.Message, "paired and cannot be deleted") {
					t.Errorf("delete of the paired alias on %s: %q", side.r.name, e.Error.Message)
				}
			}
			e := s.refused(t, http.StatusConflict, "POST", aliasPath(g.sns, g.alias)+"/breakPairing", nil)
			if !strings.Contains(e.Error.Message, "break the pairing on the primary") {
				t.Errorf("break pairing on the secondary: %q", e.Error.Message)
			}

			if cut {
				p.proxy.Cut()
				s.proxy.Cut()
			}
			var a aliasJSON
			p.must(t, "POST", aliasPath(g.pns, g.alias)+"/breakPairing", nil, &a)
			if a.Properties.Role != "PrimaryNotReplicating" || a.Properties.PartnerNamespace != "" || a.Properties.Epoch != 1 {
				t.Errorf("alias after break pairing: %+v, want PrimaryNotReplicating without partner at epoch 1", a.Properties)
			}
			if cut {
				// Not told yet: still a read-only secondary until the link heals.
				if sa := s.alias(t, g.sns, g.alias); sa.Role != "Secondary" {
					t.Errorf("the cut-off secondary already shows %+v", sa)
				}
				s.refused(t, http.StatusForbidden, "PUT", "/namespaces/"+g.sns+"/eventhubs/local", hubBody(0))
				p.proxy.Heal()
				s.proxy.Heal()
			}
			waitFor(t, 60*time.Second, "the former secondary to drop the alias", func() (bool, string) {
				status, data := s.call(t, "GET", aliasPath(g.sns, g.alias), nil)
				return status == http.StatusNotFound, fmt.Sprintf("HTTP %d %s", status, data)
			})

			// The former secondary is an ordinary namespace: it keeps the replicated hub and
			// takes writes on every protocol.
			s.must(t, "PUT", "/namespaces/"+g.sns+"/eventhubs/local", hubBody(0), nil)
			s.must(t, "POST", "/namespaces/"+g.sns+"/eventhubs/orders/messages", map[string]any{"body": "mine-now"}, nil)
			ctx := ctxTimeout(t, 60*time.Second)
			own := kafkaClient(t, s.namespaceConnString(t, g.sns), []string{s.KafkaAddr}, kgo.DefaultProduceTopic("orders"))
			if err := own.ProduceSync(ctx, &kgo.Record{Value: []byte("kafka-mine")}).FirstErr(); err != nil {
				t.Errorf("produce to the former secondary: %v", err)
			}
			// The alias stays on the primary and still takes traffic there.
			viaAlias := kafkaClient(t, g.aliasConnString(t), []string{p.KafkaAddr}, kgo.DefaultProduceTopic("orders"))
			if err := viaAlias.ProduceSync(ctx, &kgo.Record{Value: []byte("alias-after-break")}).FirstErr(); err != nil {
				t.Errorf("produce through the alias after break pairing: %v", err)
			}

			p.must(t, "DELETE", aliasPath(g.pns, g.alias), nil, nil)
			p.refused(t, http.StatusNotFound, "GET", aliasPath(g.pns, g.alias), nil)
			var avail struct {
				Available bool `json:"nameAvailable"`
			}
			p.must(t, "POST", "/namespaces/"+g.pns+"/disasterRecoveryConfigs/checkNameAvailability", map[string]string{"name": g.alias}, &avail)
			if !avail.Available {
				t.Errorf("alias name %s is not available again after delete", g.alias)
			}
		})
	}
}

// TestGeoDRFailForward fails over with the old primary alive, then re-pairs the alias on the
// new primary with a fresh empty namespace (in a third region, or in the old primary's
// region once the stale alias left there is deleted): the seed's fail-forward flow, "set up
// another passive namespace and update the pairing". Alias clients keep their connection
// string throughout, and the alias's epoch never goes back.
func TestGeoDRFailForward(t *testing.T) {
	t.Parallel()
	for _, where := range []string{"third-region", "old-region"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			g := newGeoPair(t, false)
			g.createOrders(t)
			cs := g.aliasConnString(t)
			var fo aliasJSON
			g.west.must(t, "POST", aliasPath(g.sns, g.alias)+"/failover", nil, &fo)
			if a := fo.Properties; a.Epoch != 2 || a.FormerPrimaryNotified == nil || !*a.FormerPrimaryNotified {
				t.Fatalf("failover with the primary up: %+v, want epoch 2 and the former primary notified", a)
			}
			if a := g.east.alias(t, g.pns, g.alias); !a.Lost || a.Epoch != 2 {
				t.Fatalf("the notified former primary shows %+v", a)
			}
			// Failover is once only: a second one has no secondary to run on.
			g.west.refused(t, http.StatusConflict, "POST", aliasPath(g.sns, g.alias)+"/failover", nil)

			next, nextNS := startRegion(t, "north", false), "ns-north"
			if where == "old-region" {
				next, nextNS = g.east, "ns-east-next"
			}
			next.createNamespace(t, nextNS, nil)
			body := map[string]any{"properties": map[string]string{
				"partnerNamespace": nextNS, "partnerEndpoint": next.endpoint(), "partnerAdminKey": next.key}}
			if where == "old-region" {
				// The former primary's stale alias keeps the name taken in its region; the
				// refusal says where it is and how to free it.
				e := g.west.refused(t, http.StatusConflict, "PUT", aliasPath(g.sns, g.alias), body)
				if !strings.Contains(e.Error.Message, g.pns) || !strings.Contains(e.Error.Message, "delete") {
					t.Errorf("re-pairing into the old region while its stale alias exists: %q, want it to name %s and how to free it", e.Error.Message, g.pns)
				}
				g.east.must(t, "DELETE", aliasPath(g.pns, g.alias), nil, nil)
			}
			// "Set up another passive namespace and update the pairing": the alias stays, so
			// its clients keep their connection string.
			var re aliasJSON
			g.west.must(t, "PUT", aliasPath(g.sns, g.alias), body, &re)
			if re.Properties.Epoch < 2 || re.Properties.PartnerNamespace != nextNS {
				t.Errorf("the re-paired alias: %+v, want partner %s at epoch 2 or more (the epoch never goes back)", re.Properties, nextNS)
			}
			waitFor(t, 60*time.Second, "the new pairing to be provisioned with the hub replicated", func() (bool, string) {
				a, n := g.west.alias(t, g.sns, g.alias), next.alias(t, nextNS, g.alias)
				st, _ := next.call(t, "GET", "/namespaces/"+nextNS+"/eventhubs/orders", nil)
				return a.ProvisioningState == "Succeeded" && a.Role == "Primary" && n.Role == "Secondary" && st == http.StatusOK,
					fmt.Sprintf("primary %+v; new secondary %+v; hub HTTP %d", a, n, st)
			})
			if n := next.alias(t, nextNS, g.alias); n.Epoch != re.Properties.Epoch {
				t.Errorf("the new secondary is at epoch %d, its primary at %d", n.Epoch, re.Properties.Epoch)
			}

			// The unchanged alias connection string works from the new secondary's region too
			// and lands on the new primary.
			ctx := ctxTimeout(t, 60*time.Second)
			cl := kafkaClient(t, cs, []string{next.KafkaAddr}, kgo.DefaultProduceTopic("orders"),
				kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(30*time.Second))
			r := &kgo.Record{Partition: 2, Value: []byte("after-fail-forward")}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce through the alias after fail-forward: %v", err)
			}
			if got := byValue(t, "new primary", g.west.readPartitions(t, g.sns, "orders", 3))["after-fail-forward"]; got != (position{2, r.Offset}) {
				t.Errorf("the record is at %v on the new primary, acknowledged at 2/%d", got, r.Offset)
			}
		})
	}
}

// TestGeoDRFailoverDuringPartitionFencesOldPrimary fails over while the link between the
// regions is cut and the old primary still runs: the old primary cannot be told, keeps the
// alias until the link heals, then learns of the failover by itself and stops taking alias
// traffic.
func TestGeoDRFailoverDuringPartitionFencesOldPrimary(t *testing.T) {
	t.Parallel()
	g := newGeoPair(t, true)
	g.createOrders(t)
	cs := g.aliasConnString(t)
	g.east.proxy.Cut()
	g.west.proxy.Cut()
	var fo aliasJSON
	g.west.must(t, "POST", aliasPath(g.sns, g.alias)+"/failover", nil, &fo)
	if a := fo.Properties; a.Epoch != 2 || a.FormerPrimaryNotified == nil || *a.FormerPrimaryNotified {
		t.Fatalf("failover across a cut link: %+v, want epoch 2 and the former primary not notified", a)
	}
	if a := g.east.alias(t, g.pns, g.alias); a.Lost || a.Epoch != 1 || a.Role != "Primary" {
		t.Fatalf("the cut-off old primary already shows %+v", a)
	}
	g.east.proxy.Heal()
	g.west.proxy.Heal()
	waitFor(t, 30*time.Second, "the old primary to learn it lost the alias", func() (bool, string) {
		a := g.east.alias(t, g.pns, g.alias)
		return a.Lost && a.Epoch == 2 && a.ActiveRegion == "west", fmt.Sprintf("%+v", a)
	})
	ctx := ctxTimeout(t, 60*time.Second)
	cl := kafkaClient(t, cs, []string{g.east.KafkaAddr})
	if pr := rawProduce(t, ctx, cl.SeedBrokers()[0], "orders", 0, "stale"); pr.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("alias produce at the fenced old primary: code %d %s, want NOT_LEADER_FOR_PARTITION", pr.ErrorCode, strp(pr.ErrorMessage))
	}
}

// TestGeoDRRegionRestarts kills each region with SIGKILL in turn while paired and changes the
// primary while the secondary is down: the pairing survives both restarts and the secondary
// catches up.
func TestGeoDRRegionRestarts(t *testing.T) {
	t.Parallel()
	g := newGeoPair(t, false)
	hub := func(name string) string { return "/namespaces/" + g.pns + "/eventhubs/" + name }
	g.createOrders(t)

	g.west.kill9()
	for i := range 5 {
		g.east.must(t, "PUT", hub(fmt.Sprintf("while-down-%d", i)), hubBody(i), nil)
	}
	g.east.must(t, "DELETE", hub("orders")+"/consumergroups/readers", nil, nil)
	g.west.restart()
	g.waitConverged(t, 60*time.Second)

	g.east.kill9()
	g.east.restart()
	g.east.must(t, "PUT", hub("after-primary-restart"), hubBody(9), nil)
	g.waitConverged(t, 60*time.Second)
	for _, side := range []struct {
		r        *region
		ns, role string
	}{{g.east, g.pns, "Primary"}, {g.west, g.sns, "Secondary"}} {
		a := side.r.alias(t, side.ns, g.alias)
		if a.Role != side.role || a.Epoch != 1 || a.ProvisioningState != "Succeeded" || a.Lost {
			t.Errorf("%s after the restarts: %+v", side.r.name, a)
		}
	}
}
