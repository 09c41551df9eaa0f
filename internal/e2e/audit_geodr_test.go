package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAuditH6_TenantCannotHijackAlias replays the audit's H6 with real region processes. After
// a failover to west and the documented `alias delete` of the stale alias on the old primary
// in east, a tenant who owns only namespace attacker-e1 in east pairs it, with its own SAS,
// under the same alias name with epoch 1000000 and a made-up primary, then fails over. West
// must keep the alias at epoch 2 and the victim's alias clients must still produce at west.
// East lists 127.0.0.1 as a partner region (--peer-allow), so the tenant's pairing gets past
// the endpoint checks (M2) and the fencing itself is what is tested.
func TestAuditH6_TenantCannotHijackAlias(t *testing.T) {
	t.Parallel()
	g := &geoPair{east: startRegion(t, "east", false, "--peer-allow", "127.0.0.1"), west: startRegion(t, "west", false),
		pns: "geo-east1", sns: "geo-west1", alias: "geo-alias"}
	g.east.createNamespace(t, g.pns, nil)
	g.west.createNamespace(t, g.sns, nil)
	pairNamespaces(t, g.east, g.pns, g.west, g.sns, g.alias)
	g.createOrders(t)
	cs := g.aliasConnString(t)

	var fo aliasJSON
	g.west.must(t, "POST", aliasPath(g.sns, g.alias)+"/failover", nil, &fo)
	if a := fo.Properties; a.Epoch != 2 {
		t.Fatalf("failover: %+v, want epoch 2", a)
	}
	waitFor(t, 30*time.Second, "the old primary to be fenced", func() (bool, string) {
		a := g.east.alias(t, g.pns, g.alias)
		return a.Lost, fmt.Sprintf("%+v", a)
	})
	// The deleted alias's name stays reserved in east for its pairing (internal/geodr's
	// TestAuditH6_AliasNameReserved…); the operator releases it here, so the attack reaches
	// the fencing, which must hold anyway.
	g.east.must(t, "DELETE", aliasPath(g.pns, g.alias)+"?release=true", nil, nil)

	// The tenant, with its own namespace's credential only.
	g.east.createNamespace(t, "attacker-e1", nil)
	sas := sasToken(t, g.east.namespaceConnString(t, "attacker-e1"))
	pair := map[string]any{"alias": g.alias, "epoch": 1000000, "linkKey": "attacker-chosen-link-key-0123456789",
		"primary": map[string]any{"region": "mars", "namespace": "mars-ns", "endpoint": "http://127.0.0.1:31999"},
		"facts":   map[string]any{"Region": "mars", "Name": "mars-ns", "Tier": "standard"}}
	if status, data, err := g.east.try("POST", "/geodr/v1/namespaces/attacker-e1/pair", pair, sas); err != nil || status != http.StatusOK {
		t.Fatalf("the tenant's pair request for its own namespace: %d %s %v", status, data, err)
	}
	status, data, err := g.east.try("POST", aliasPath("attacker-e1", g.alias)+"/failover", nil, sas)
	if err != nil || status != http.StatusOK {
		t.Fatalf("the tenant's failover of its own alias: %d %s %v", status, data, err)
	}
	if a := g.east.alias(t, "attacker-e1", g.alias); a.Epoch != 2 {
		t.Errorf("the tenant's alias is at epoch %d after its failover; the pair request's epoch must not be taken (want 2)", a.Epoch)
	}

	// West checks east every 300 ms with the pairing's link key; east's holder of the name has
	// another key, so west learns nothing from it.
	waitFor(t, 30*time.Second, "west to check east after the tenant's failover", func() (bool, string) {
		a := g.west.alias(t, g.sns, g.alias)
		return strings.Contains(a.LastError, "link key does not match"), fmt.Sprintf("%+v", a)
	})
	a := g.west.alias(t, g.sns, g.alias)
	if a.Lost || a.Epoch != 2 || a.Role != "PrimaryNotReplicating" || a.ActiveRegion != "west" {
		t.Fatalf("the victim's primary after the tenant's failover: %+v; want it active in west at epoch 2", a)
	}
	ctx := ctxTimeout(t, 60*time.Second)
	cl := kafkaClient(t, cs, []string{g.west.KafkaAddr}, kgo.DefaultProduceTopic("orders"), kgo.RecordDeliveryTimeout(30*time.Second))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("still-mine")}).FirstErr(); err != nil {
		t.Fatalf("the victim's alias client at west: %v", err)
	}
}
