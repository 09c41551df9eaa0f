package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// clusterGeoRegion is a region of three real `tandem serve` processes started as `tandem dev
// --nodes 3` starts them (nodeproc.Region: zones a, b, c, a shared secret and admin key).
type clusterGeoRegion struct {
	name  string
	nodes []*node
	key   string
}

func startClusterGeoRegion(t *testing.T, name string) *clusterGeoRegion {
	t.Helper()
	reg := nodeproc.Region{Name: name, Exe: tandemBin, Dir: filepath.Join(t.TempDir(), name), Nodes: 3, Args: []string{"--dev"}}
	specs, err := reg.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	r := &clusterGeoRegion{name: name}
	for _, spec := range specs {
		r.nodes = append(r.nodes, startSpec(t, spec))
	}
	key, err := os.ReadFile(reg.AdminKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	r.key = strings.TrimSpace(string(key))
	return r
}

// client is a management client of node i (0-based).
func (r *clusterGeoRegion) client(t *testing.T, i int) *client.Client {
	t.Helper()
	c, err := client.New(r.nodes[i].URL(), client.WithAdminKey(r.key))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leader waits for a metadata leader among the running nodes and returns a client of it.
func (r *clusterGeoRegion) leader(t *testing.T, ctx context.Context) (*client.Client, *node) {
	t.Helper()
	var lc *client.Client
	var ln *node
	waitFor(t, 60*time.Second, "region "+r.name+" to elect a metadata leader", func() (bool, string) {
		for i, n := range r.nodes {
			if n.proc.HasExited() {
				continue
			}
			st, err := r.client(t, i).ClusterStatus(ctx)
			if err != nil || st.MetadataLeader == 0 || int(st.MetadataLeader) > len(r.nodes) {
				continue
			}
			if l := r.nodes[st.MetadataLeader-1]; !l.proc.HasExited() {
				lc, ln = r.client(t, int(st.MetadataLeader-1)), l
				return true, ""
			}
		}
		return false, "no node names a live metadata leader"
	})
	return lc, ln
}

func (r *clusterGeoRegion) kafkaAddrs() []string {
	var out []string
	for _, n := range r.nodes {
		out = append(out, n.KafkaAddr)
	}
	return out
}

// TestGeoDRClusterRegionsFailover pairs two 3-node regions with a geo-DR alias, replicates
// the metadata (a namespace's hub reaches the secondary's cluster), and checks that a Kafka
// client with the alias connection string that bootstraps at the SECONDARY's nodes lands on
// the primary's partition leaders. Then it kills -9 every node of the primary region while a
// producer writes through the alias, fails the alias over on the secondary, and checks that the
// same client carries on against the secondary's cluster and that a consumer bootstrapped
// anywhere reads, through the alias, every record acknowledged after the failover.
func TestGeoDRClusterRegionsFailover(t *testing.T) {
	t.Parallel()
	east, west := startClusterGeoRegion(t, "east"), startClusterGeoRegion(t, "west")
	ctx := ctxTimeout(t, 240*time.Second)
	ec, _ := east.leader(t, ctx)
	wc, wl := west.leader(t, ctx)
	const alias, pns, sns, hub = "geo-cluster", "ns-east", "ns-west", "orders"
	if _, err := ec.CreateNamespace(ctx, pns, client.NamespaceOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := wc.CreateNamespace(ctx, sns, client.NamespaceOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := ec.CreateAlias(ctx, pns, alias, client.AliasOptions{PartnerNamespace: sns, PartnerEndpoint: wl.URL(), PartnerAdminKey: west.key})
	if err != nil {
		t.Fatalf("pairing the regions: %v", err)
	}
	if a, err = ec.WaitAlias(ctx, pns, alias, client.Provisioned); err != nil || a.ProvisioningState != client.ProvisioningSucceeded {
		t.Fatalf("alias %s: %+v, %v", alias, a, err)
	}
	if _, err := ec.CreateHub(ctx, pns, hub, client.HubOptions{Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "hub "+hub+" to reach every node of the secondary's cluster", func() (bool, string) {
		for i := range west.nodes {
			if _, err := west.client(t, i).GetHub(ctx, sns, hub); err != nil {
				return false, fmt.Sprintf("west node %d: %v", i+1, err)
			}
		}
		return true, ""
	})
	keys, err := ec.ListAliasKeys(ctx, pns, alias, "RootManageSharedAccessKey")
	if err != nil {
		t.Fatal(err)
	}
	cs := keys.AliasPrimaryConnectionString
	fast := []kgo.Opt{kgo.DefaultProduceTopic(hub), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(90 * time.Second),
		kgo.MetadataMinAge(200 * time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond })}

	// An alias client that knows only the secondary's nodes is sent to the primary's brokers.
	atSecondary := kafkaClient(t, cs, west.kafkaAddrs(), fast...)
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "pre-%d", i)})
	}
	if err := atSecondary.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce through the alias, bootstrapped at the secondary's nodes: %v", err)
	}
	// The pairing records every broker of the primary's cluster (as the members recorded their
	// endpoints: the partner's record follows within a peer check), and each secondary node
	// lists all of them to alias clients.
	want := east.kafkaAddrs()
	slices.Sort(want)
	waitFor(t, 60*time.Second, "every secondary node to name the primary's three brokers to alias clients", func() (bool, string) {
		for _, seed := range west.kafkaAddrs() {
			probe := kafkaClient(t, cs, []string{seed})
			got := brokersOf(t, ctx, probe.SeedBrokers()[0])
			probe.Close()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return false, fmt.Sprintf("%s names %v, want %v", seed, got, want)
			}
		}
		return true, ""
	})

	// A producer on all six nodes writes while the whole primary region dies.
	all := append(east.kafkaAddrs(), west.kafkaAddrs()...)
	cl := kafkaClient(t, cs, all, fast...)
	lp := startLiveProducer(t, cl)
	waitFor(t, 30*time.Second, "the live producer's first acknowledgements", func() (bool, string) {
		return lp.ackedSince(time.Time{}) >= 20, fmt.Sprintf("%d acknowledged", lp.ackedSince(time.Time{}))
	})
	for _, n := range east.nodes {
		n.kill9()
	}
	killed := time.Now()
	if a, err = wc.Failover(ctx, sns, alias); err != nil {
		t.Fatalf("failing over to the secondary's cluster: %v", err)
	}
	if a.Role != client.RolePrimary && a.Role != client.RolePrimaryNotReplicating {
		t.Fatalf("after failover west's side of the alias is %+v, want the primary", a)
	}
	failedOver := time.Now()
	waitFor(t, 90*time.Second, "the same client to carry on against the new primary's cluster", func() (bool, string) {
		n := lp.ackedSince(failedOver)
		return n >= 50, fmt.Sprintf("%d acknowledged since the failover", n)
	})
	acked, ackAt, errs, failed := lp.halt()
	t.Logf("kill -9 of the primary's 3 nodes → failover in %v; %d records acknowledged, %d failed (first: %v)",
		failedOver.Sub(killed).Round(time.Millisecond), len(acked), failed, errs)
	var after []string
	for v, at := range ackAt {
		if at.After(failedOver) {
			after = append(after, v)
		}
	}

	// Every record acknowledged after the failover is in the new primary's cluster, read
	// through the alias by a client that bootstraps at every node (the dead ones included).
	consumer := kafkaClient(t, cs, all, kgo.ConsumeTopics(hub), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(200*time.Millisecond))
	got := map[string]position{}
	waitFor(t, 60*time.Second, "every record acknowledged after the failover to be read back through the alias", func() (bool, string) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := consumer.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = position{r.Partition, r.Offset} })
		missing := 0
		for _, v := range after {
			if p, ok := got[v]; !ok || p != acked[v] {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d missing or elsewhere than acknowledged", missing, len(after))
	})
	for v := range got {
		if strings.HasPrefix(v, "pre-") {
			t.Errorf("record %s, written to the old primary, is in the new primary's hub: geo-DR replicates metadata, not events", v)
		}
	}
}
