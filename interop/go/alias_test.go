package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/tandem-streaming/tandem/client"
)

// A geo-DR alias over AMQP with the real Go SDK. Two `tandem serve` processes, regions east
// and west, pair namespaces geo-east (primary) and geo-west under alias geoalias. The SDK
// uses the alias's connection string (Endpoint=sb://geoalias/, plain AMQP with
// UseDevelopmentEmulator=true) and CustomEndpoint to pick the listener, as a client whose DNS
// sends the alias name to one region: open.hostname is the alias, and the region that does not
// hold it forwards the connection (the engine's front door). After a failover the same
// ProducerClient keeps sending: its connection to the old primary is closed with
// amqp:connection:forced, it reconnects, and the events land in west. No acknowledged event
// is lost.
func TestAliasFailoverGoSDK(t *testing.T) {
	east, west := startRegion(t, "east"), startRegion(t, "west")
	ctx := within(t, 5*time.Minute)
	for _, r := range []struct {
		n  *node
		ns string
	}{{east, "geo-east"}, {west, "geo-west"}} {
		if _, err := r.n.api.CreateNamespace(ctx, r.ns, client.NamespaceOptions{}); err != nil {
			t.Fatalf("creating namespace %s: %v", r.ns, err)
		}
	}
	if _, err := east.api.CreateAlias(ctx, "geo-east", "geoalias", client.AliasOptions{PartnerNamespace: "geo-west",
		PartnerEndpoint: "http://" + west.addrs().http, PartnerAdminKey: west.adminKey}); err != nil {
		t.Fatalf("creating the alias: %v", err)
	}
	if _, err := west.api.WaitAlias(ctx, "geo-west", "geoalias", func(a client.Alias) bool {
		return a.ProvisioningState == client.ProvisioningSucceeded && a.Role == client.RoleSecondary
	}); err != nil {
		t.Fatalf("waiting for the pairing: %v", err)
	}
	if _, err := east.api.CreateHub(ctx, "geo-east", "orders", client.HubOptions{Partitions: 1}); err != nil {
		t.Fatalf("creating hub orders: %v", err)
	}
	waitUntil(t, time.Minute, "hub orders replicated to west", func() error {
		_, err := west.api.GetHub(ctx, "geo-west", "orders")
		return err
	})
	keys, err := east.api.ListAliasKeys(ctx, "geo-east", "geoalias", rootRule)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(keys.AliasPrimaryConnectionString, "Endpoint=sb://geoalias/;") {
		t.Fatalf("alias connection string %q does not name the alias", keys.AliasPrimaryConnectionString)
	}
	cs := keys.AliasPrimaryConnectionString + ";UseDevelopmentEmulator=true"

	// Send through east (the primary, served there); receive through west (forwarded to east).
	p, err := azeventhubs.NewProducerClientFromConnectionString(cs, "orders",
		&azeventhubs.ProducerClientOptions{CustomEndpoint: east.addrs().amqp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	mustSend(t, p, bodies("pre", 10), nil)
	got := receive(t, aliasConsumer(t, cs, west), "0", azeventhubs.StartPosition{Earliest: ptr(true)}, 10, 2*time.Minute)
	if b := string(got[9].Body); b != "pre-9" {
		t.Fatalf("the 10th event received through west is %q, want pre-9", b)
	}

	fo, err := west.api.Failover(ctx, "geo-west", "geoalias")
	if err != nil || !fo.FormerPrimaryNotified {
		t.Fatalf("failover: %+v, %v; want the former primary notified", fo, err)
	}
	// The same producer keeps sending; an event is acknowledged when its send returned nil.
	var acked []string
	for i := range 10 {
		ev := fmt.Sprintf("post-%d", i)
		var err error
		for range 5 {
			if err = send(within(t, 2*time.Minute), p, []*azeventhubs.EventData{{Body: []byte(ev)}}, nil); err == nil {
				acked = append(acked, ev)
				break
			}
			t.Logf("send %s after the failover: %v (sending again)", ev, err)
		}
		if err != nil {
			t.Fatalf("send %s after the failover failed 5 times: %v", ev, err)
		}
	}
	onEast, onWest := bodiesIn(t, east, "geo-east"), bodiesIn(t, west, "geo-west")
	for i := range 10 {
		if ev := fmt.Sprintf("pre-%d", i); !onEast[ev] {
			t.Errorf("%s, acknowledged by east before the failover, is not in east", ev)
		}
	}
	for _, ev := range acked {
		if !onWest[ev] {
			t.Errorf("%s, acknowledged after the failover, is not in west (east has it: %v)", ev, onEast[ev])
		}
	}
	// A consumer through east now reads west's events (forwarded the other way).
	got = receive(t, aliasConsumer(t, cs, east), "0", azeventhubs.StartPosition{Earliest: ptr(true)}, len(acked), 2*time.Minute)
	if b := string(got[0].Body); !strings.HasPrefix(b, "post-") {
		t.Fatalf("the first event read through east after the failover is %q, want west's post-*", b)
	}
}

// startRegion starts a node of region name for the test.
func startRegion(t *testing.T, name string) *node {
	t.Helper()
	dir, err := os.MkdirTemp(tmpRoot, "alias-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNode(filepath.Join(dir, "data"), readyLine{}, "--region", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	n.logOnFailure(t)
	return n
}

// aliasConsumer is a ConsumerClient with the alias connection string, dialling r's listener.
func aliasConsumer(t *testing.T, cs string, r *node) *azeventhubs.ConsumerClient {
	t.Helper()
	c, err := azeventhubs.NewConsumerClientFromConnectionString(cs, "orders", azeventhubs.DefaultConsumerGroup,
		&azeventhubs.ConsumerClientOptions{CustomEndpoint: r.addrs().amqp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// bodiesIn reads partition 0 of ns/orders on n over HTTP (by the namespace's own name).
func bodiesIn(t *testing.T, n *node, ns string) map[string]bool {
	t.Helper()
	res, err := n.api.Receive(within(t, time.Minute), ns, "orders", 0, client.ReceiveOptions{Max: 1000})
	if err != nil {
		t.Fatalf("reading %s/orders: %v", ns, err)
	}
	out := map[string]bool{}
	for _, e := range res.Events {
		out[string(e.Body)] = true
	}
	return out
}

// waitUntil polls f every 100 ms until it returns nil, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still waiting for %s: %v", d, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
