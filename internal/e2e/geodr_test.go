package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Geo-DR tests with real region processes. Each test starts its own regions (see
// regions_test.go); the ones that cut the link between regions put a faultproxy in front of
// each region's HTTP API and advertise the proxy to the other region. Failover, alias
// traffic and fail-forward are in geodr_failover_test.go.

// hubBody is the PUT body of hub number i: varied partition counts, each of the three ways to
// give a retention time, and some retention byte and event size limits.
func hubBody(i int) map[string]any {
	p := map[string]any{"partitionCount": 1 + i%6}
	switch i % 3 {
	case 0:
		p["messageRetentionInDays"] = 1 + i%7
	case 1:
		p["retentionTimeInHours"] = 1 + i%100
	case 2:
		p["retentionDescription"] = map[string]any{"retentionTimeInHours": 24 * (1 + i%5)}
	}
	if i%4 == 0 {
		p["retentionBytes"] = (i + 1) << 20
	}
	if i%5 == 0 {
		p["maxEventBytes"] = 1024 * (1 + i)
	}
	return map[string]any{"properties": p}
}

// TestGeoDRReplicatesEntities creates 500 entities concurrently on the primary (100 event hubs
// with varied settings and 400 consumer groups), plus namespace and hub authorization rules
// and network rules, and checks that the secondary shows each of them with identical
// properties; then deletes and updates some and checks the secondary follows.
func TestGeoDRReplicatesEntities(t *testing.T) {
	t.Parallel()
	g := newGeoPair(t, false)
	const hubs, groupsPerHub, workers = 100, 4, 4
	p := g.east
	hubPath := func(i int) string { return fmt.Sprintf("/namespaces/%s/eventhubs/hub-%03d", g.pns, i) }

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < hubs; i += workers {
				if status, data, err := p.try("PUT", hubPath(i), hubBody(i)); err != nil || status != http.StatusCreated {
					t.Errorf("create hub %d: %d %s %v", i, status, data, err)
					return
				}
				for j := range groupsPerHub {
					body := map[string]any{}
					if j%2 == 0 {
						body["properties"] = map[string]string{"userMetadata": fmt.Sprintf("owner=team-%d-%d", i, j)}
					}
					if status, data, err := p.try("PUT", fmt.Sprintf("%s/consumergroups/group-%d", hubPath(i), j), body); err != nil || status != http.StatusCreated {
						t.Errorf("create group %d of hub %d: %d %s %v", j, i, status, data, err)
						return
					}
				}
				if i%10 == 0 {
					rule := map[string]any{"properties": map[string]any{"rights": []string{"Send"}}}
					if status, data, err := p.try("PUT", hubPath(i)+"/authorizationRules/sender", rule); err != nil || status/100 != 2 {
						t.Errorf("create rule of hub %d: %d %s %v", i, status, data, err)
					}
				}
			}
		})
	}
	p.must(t, "PUT", "/namespaces/"+g.pns+"/authorizationRules/ops", map[string]any{"properties": map[string]any{"rights": []string{"Listen", "Send"}}}, nil)
	p.must(t, "PUT", "/namespaces/"+g.pns, map[string]any{"properties": map[string]any{
		"networkRuleSet": map[string]any{"defaultAction": "Allow", "ipRules": []map[string]string{{"ipMask": "10.1.0.0/16"}}}}}, nil)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	want := g.waitConverged(t, 90*time.Second)
	count := func(prefix string) int {
		n := 0
		for k := range want {
			if strings.HasPrefix(k, prefix) {
				n++
			}
		}
		return n
	}
	if h, gr := count("hub/"), count("group/"); h != hubs || gr != hubs*(groupsPerHub+1) {
		t.Fatalf("primary shows %d hubs and %d groups, want %d and %d ($Default included)", h, gr, hubs, hubs*(groupsPerHub+1))
	}
	if !strings.Contains(want["network"], "10.1.0.0/16") || !strings.Contains(want["rule//ops"], "Listen") ||
		!strings.Contains(want["rule/hub-010/sender"], "Send") {
		t.Fatalf("the namespace's network rule or the authorization rules are missing: %q %q %q",
			want["network"], want["rule//ops"], want["rule/hub-010/sender"])
	}
	if a := g.west.alias(t, g.sns, g.alias); a.Pending != 0 || a.Role != "Secondary" {
		t.Errorf("converged secondary shows %d pending operations, role %s", a.Pending, a.Role)
	}

	// Deletes and updates follow: 10 hubs (with their groups) and 10 groups go, 10 hubs change
	// their settings, one hub rule goes and the namespace rule changes its rights.
	for i := 3; i < hubs; i += 10 {
		p.must(t, "DELETE", hubPath(i), nil, nil)
		p.must(t, "DELETE", hubPath(i+2)+"/consumergroups/group-1", nil, nil)
		p.must(t, "PUT", hubPath(i+4), map[string]any{"properties": map[string]any{
			"partitionCount": 7, "retentionTimeInHours": 5, "maxEventBytes": 4096}}, nil)
	}
	p.must(t, "DELETE", hubPath(20)+"/authorizationRules/sender", nil, nil)
	p.must(t, "PUT", "/namespaces/"+g.pns+"/authorizationRules/ops", map[string]any{"properties": map[string]any{"rights": []string{"Listen"}}}, nil)
	want = g.waitConverged(t, 60*time.Second)
	if h := count("hub/"); h != hubs-10 {
		t.Fatalf("primary shows %d hubs after deleting 10, want %d", h, hubs-10)
	}
	for _, path := range []string{"/eventhubs/hub-013", "/eventhubs/hub-015/consumergroups/group-1", "/eventhubs/hub-020/authorizationRules/sender"} {
		if status, data := g.west.call(t, "GET", "/namespaces/"+g.sns+path, nil); status != http.StatusNotFound {
			t.Errorf("GET %s on the secondary after its delete: HTTP %d %s", path, status, data)
		}
	}
	if !strings.Contains(want["hub/hub-017"], `"partitionCount":7`) {
		t.Errorf("updated hub-017 on the primary: %s", want["hub/hub-017"])
	}
}

// TestGeoDRLinkCutConverges cuts the link between the regions, changes the primary while it
// is cut, and checks that the pending changes are visible, that nothing reaches the secondary
// and nothing is lost or applied twice once the link heals.
func TestGeoDRLinkCutConverges(t *testing.T) {
	t.Parallel()
	g := newGeoPair(t, true)
	p := g.east
	if s := g.west.alias(t, g.sns, g.alias); s.PartnerEndpoint != g.east.endpoint() {
		t.Fatalf("the secondary reaches its primary at %s, not through the proxy %s", s.PartnerEndpoint, g.east.endpoint())
	}
	hubPath := func(name string) string { return "/namespaces/" + g.pns + "/eventhubs/" + name }
	for i := range 10 {
		p.must(t, "PUT", hubPath(fmt.Sprintf("old-%d", i)), hubBody(i), nil)
		p.must(t, "PUT", hubPath(fmt.Sprintf("old-%d", i))+"/consumergroups/readers", map[string]any{}, nil)
	}
	g.waitConverged(t, 60*time.Second)
	applied := fmt.Sprintf(`tandem_geodr_replicated_changes_total{namespace="%s"}`, g.sns)
	before := g.west.metric(t, applied)

	g.east.proxy.Cut()
	g.west.proxy.Cut()
	waitFor(t, 30*time.Second, "the secondary to see its primary unreachable", func() (bool, string) {
		a := g.west.alias(t, g.sns, g.alias)
		return !a.PartnerReachable, fmt.Sprintf("%+v", a)
	})

	// Changes while cut, each one replicable command: 15 hub creates, 15 group creates,
	// 3 hub deletes, 2 hub updates, 2 group deletes, a hub rule and a namespace rule.
	changes := 0
	do := func(method, path string, body any) {
		t.Helper()
		p.must(t, method, path, body, nil)
		changes++
	}
	for i := range 15 {
		do("PUT", hubPath(fmt.Sprintf("new-%d", i)), hubBody(i+50))
		do("PUT", hubPath(fmt.Sprintf("new-%d", i))+"/consumergroups/late", map[string]any{"properties": map[string]string{"userMetadata": "cut"}})
	}
	for i := range 3 {
		do("DELETE", hubPath(fmt.Sprintf("old-%d", i)), nil)
	}
	do("PUT", hubPath("old-5"), map[string]any{"properties": map[string]any{"partitionCount": 6, "retentionTimeInHours": 3}})
	do("PUT", hubPath("old-6"), map[string]any{"properties": map[string]any{"maxEventBytes": 2048}})
	do("DELETE", hubPath("old-7")+"/consumergroups/readers", nil)
	do("DELETE", hubPath("old-8")+"/consumergroups/readers", nil)
	do("PUT", hubPath("old-9")+"/authorizationRules/cut-rule", map[string]any{"properties": map[string]any{"rights": []string{"Listen"}}})
	do("PUT", "/namespaces/"+g.pns+"/authorizationRules/cut-ns-rule", map[string]any{"properties": map[string]any{"rights": []string{"Send"}}})

	// The primary counts what its secondary misses and sees it unreachable; the secondary, cut
	// off, still refuses writes and has none of the changes.
	waitFor(t, 30*time.Second, "the primary to show the pending changes", func() (bool, string) {
		a := p.alias(t, g.pns, g.alias)
		return a.Pending == changes && !a.PartnerReachable && a.LagSeconds > 0, fmt.Sprintf("want %d pending: %+v", changes, a)
	})
	t.Logf("while cut, the primary shows %+v", p.alias(t, g.pns, g.alias))
	pendingMetric := fmt.Sprintf(`tandem_geodr_pending_replication_operations{alias="%s",namespace="%s",role="Primary"}`, g.alias, g.pns)
	lagMetric := fmt.Sprintf(`tandem_geodr_replication_lag_seconds{alias="%s",namespace="%s",role="Primary"}`, g.alias, g.pns)
	if v, lag := p.metric(t, pendingMetric), p.metric(t, lagMetric); v != float64(changes) || lag <= 0 {
		t.Errorf("while cut, the primary's metrics show %v pending and %vs lag, want %d pending and some lag", v, lag, changes)
	}
	if s := g.west.alias(t, g.sns, g.alias); s.PartnerReachable || s.Role != "Secondary" {
		t.Errorf("cut-off secondary: %+v", s)
	}
	g.west.refused(t, http.StatusForbidden, "PUT", "/namespaces/"+g.sns+"/eventhubs/sneaky", hubBody(1))
	if status, _ := g.west.call(t, "GET", "/namespaces/"+g.sns+"/eventhubs/new-0", nil); status != http.StatusNotFound {
		t.Errorf("new-0 reached the secondary through a cut link: HTTP %d", status)
	}

	g.east.proxy.Heal()
	g.west.proxy.Heal()
	g.waitConverged(t, 60*time.Second)
	waitFor(t, 30*time.Second, "both sides to see each other again with nothing pending", func() (bool, string) {
		a, s := p.alias(t, g.pns, g.alias), g.west.alias(t, g.sns, g.alias)
		return a.PartnerReachable && s.PartnerReachable && a.Pending == 0 && s.Pending == 0, fmt.Sprintf("primary %+v; secondary %+v", a, s)
	})
	// Exactly once: the secondary applied each change made during the cut once, through the
	// log (no snapshot resync, no change refused as already applied).
	if got := g.west.metric(t, applied) - before; got != float64(changes) {
		t.Errorf("the secondary applied %v changes after the cut, want exactly %d", got, changes)
	}
	t.Logf("the secondary applied %d changes made during the cut, once each", changes)
	logs := g.west.logs()
	if n := strings.Count(logs, "secondary synchronized from a snapshot"); n != 1 {
		t.Errorf("the secondary synchronized from a snapshot %d times, want once (at pairing):\n%s", n, logs)
	}
	if strings.Contains(logs, "did not apply") {
		t.Errorf("a replicated change did not apply on the secondary:\n%s", logs)
	}

	// More changes after the heal still arrive, once each.
	before = g.west.metric(t, applied)
	p.must(t, "PUT", hubPath("after-heal"), hubBody(7), nil)
	p.must(t, "DELETE", hubPath("new-3"), nil, nil)
	g.waitConverged(t, 60*time.Second)
	waitFor(t, 10*time.Second, "the applied-changes counter", func() (bool, string) {
		got := g.west.metric(t, applied) - before
		return got == 2, fmt.Sprintf("applied %v changes after the heal, want 2", got)
	})
}

// TestGeoDRPairingRules tries a pairing that breaks each rule and checks it is refused at once
// with the rule named; then the pairings the rules allow succeed.
func TestGeoDRPairingRules(t *testing.T) {
	t.Parallel()
	// West lists the local regions as partners, so a pairing made with a connection string (a
	// namespace credential, not the admin key) may name east's endpoint there.
	east, west := startRegion(t, "east", false), startRegion(t, "west", false, "--peer-allow", "127.0.0.1")
	ded := func(cluster string) map[string]any {
		return map[string]any{"sku": map[string]string{"name": "Dedicated"}, "properties": map[string]any{"clusterArmId": cluster}}
	}
	sku := func(tier string) map[string]any { return map[string]any{"sku": map[string]string{"name": tier}} }
	pe := func(tier string) map[string]any {
		return map[string]any{"sku": map[string]string{"name": tier}, "properties": map[string]any{"privateEndpoints": []string{"127.0.0.1:7001"}}}
	}
	for ns, body := range map[string]map[string]any{"east-std": nil, "east-std2": nil, "east-std3": nil, "east-prem": sku("Premium"),
		"east-basic": sku("Basic"), "east-ded": ded("cluster-a"), "east-pe": pe("Standard"), "east-paired": nil, "east-free": nil} {
		east.createNamespace(t, ns, body)
	}
	for ns, body := range map[string]map[string]any{"west-std": nil, "west-std2": nil, "west-nonempty": nil, "west-prem": sku("Premium"),
		"west-basic": sku("Basic"), "west-ded-a": ded("cluster-a"), "west-ded-b": ded("cluster-b"), "west-ded-b2": ded("cluster-b"), "west-pe": pe("Standard"),
		"west-paired": nil, "taken-name": nil} {
		west.createNamespace(t, ns, body)
	}
	west.must(t, "PUT", "/namespaces/west-nonempty/eventhubs/orders", hubBody(0), nil)
	pairNamespaces(t, east, "east-paired", west, "west-paired", "paired-alias")

	cases := []struct {
		name, primary, alias, secondary string
		partner                         *region // the secondary's region (west when nil)
		key                             string  // partner admin key (the partner's when empty)
		status                          int
		want                            string
	}{
		{"secondary not empty", "east-std", "alias-nonempty", "west-nonempty", nil, "", 409, "needs a new, empty secondary"},
		{"standard with premium", "east-std", "alias-tier1", "west-prem", nil, "", 400, "a standard primary pairs with standard or dedicated"},
		{"premium with standard", "east-prem", "alias-tier2", "west-std", nil, "", 400, "a premium primary pairs with premium"},
		{"dedicated with standard", "east-ded", "alias-tier3", "west-std", nil, "", 400, "a dedicated primary pairs with dedicated"},
		{"standard with basic", "east-std", "alias-tier4", "west-basic", nil, "", 400, "cannot pair with a basic secondary"},
		{"basic primary", "east-basic", "alias-tier5", "west-std", nil, "", 400, "basic tier; geo-disaster recovery needs standard, premium or dedicated"},
		{"same dedicated cluster", "east-ded", "alias-cluster", "west-ded-a", nil, "", 400, "same dedicated cluster"},
		{"private endpoints", "east-pe", "alias-pe", "west-std", nil, "", 400, "give the secondary a private endpoint"},
		{"alias named like a partner-region namespace", "east-std", "taken-name", "west-std", nil, "", 409, "already in use"},
		{"alias named like a primary-region namespace", "east-std", "east-free", "west-std", nil, "", 409, "already in use"},
		{"alias name already an alias", "east-free", "paired-alias", "west-std", nil, "", 409, "already in use"},
		{"primary already paired", "east-paired", "alias-again1", "west-std", nil, "", 409, "namespace east-paired is already in alias \"paired-alias\"; a namespace can be in only one pairing"},
		{"secondary already paired", "east-free", "alias-again2", "west-paired", nil, "", 409, "namespace west-paired is already in alias \"paired-alias\"; a namespace can be in only one pairing"},
		{"both in one region", "east-std", "alias-region", "east-free", east, "", 400, "a pairing spans two regions"},
		{"partner namespace missing", "east-std", "alias-missing", "west-nowhere", nil, "", 404, "west-nowhere"},
		{"wrong partner credential", "east-std", "alias-cred", "west-std", nil, "not-the-key", 401, "admin key"},
		{"invalid alias name", "east-std", "ab", "west-std", nil, "", 400, "6 to 50"},
	}
	for _, c := range cases {
		partner := west
		if c.partner != nil {
			partner = c.partner
		}
		key := partner.key
		if c.key != "" {
			key = c.key
		}
		e := east.refused(t, c.status, "PUT", aliasPath(c.primary, c.alias), map[string]any{"properties": map[string]string{
			"partnerNamespace": c.secondary, "partnerEndpoint": partner.endpoint(), "partnerAdminKey": key}})
		if !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%s: refused with %s %q, want the message to say %q", c.name, e.Error.Code, e.Error.Message, c.want)
		}
		// A refused pairing leaves nothing behind on either side.
		east.refused(t, http.StatusNotFound, "GET", aliasPath(c.primary, c.alias), nil)
	}
	for _, ns := range []string{"west-std", "west-prem", "west-ded-a", "west-ded-b", "west-pe", "west-basic"} {
		var list struct {
			Value []aliasJSON `json:"value"`
		}
		west.must(t, "GET", "/namespaces/"+ns+"/disasterRecoveryConfigs", nil, &list)
		if len(list.Value) != 0 {
			t.Errorf("refused pairings left aliases on %s: %+v", ns, list.Value)
		}
	}

	// What the rules allow: standard with standard (with the namespaces the refusals above
	// named, so they left nothing that blocks), standard with dedicated, premium with premium,
	// dedicated on different clusters, and private endpoints on both sides. The partner
	// connection string (a Manage rule of the partner namespace) works as credential too.
	pairNamespaces(t, east, "east-std", west, "west-std", "alias-std")
	pairNamespaces(t, east, "east-std2", west, "west-ded-b", "alias-std-ded")
	pairNamespaces(t, east, "east-prem", west, "west-prem", "alias-prem")
	pairNamespaces(t, east, "east-ded", west, "west-ded-b2", "alias-ded")
	pairNamespaces(t, east, "east-pe", west, "west-pe", "alias-pe")
	east.must(t, "PUT", aliasPath("east-std3", "alias-by-cs"), map[string]any{"properties": map[string]string{
		"partnerNamespace": "west-std2", "partnerEndpoint": west.endpoint(),
		"partnerConnectionString": west.namespaceConnString(t, "west-std2")}}, nil)
	waitFor(t, 60*time.Second, "the pairing made with a connection string to succeed", func() (bool, string) {
		a := west.alias(t, "west-std2", "alias-by-cs")
		return a.ProvisioningState == "Succeeded" && a.Role == "Secondary", fmt.Sprintf("%+v", a)
	})
}

// TestGeoDRSilentPartitionConverges blackholes the link (connections stay open, bytes vanish,
// as in a silent network partition) while the primary changes, then restores it: the
// secondary must not hang on a request that will never be answered, and must end up equal.
func TestGeoDRSilentPartitionConverges(t *testing.T) {
	t.Parallel()
	g := newGeoPair(t, true)
	p := g.east
	g.east.proxy.Blackhole(true)
	g.west.proxy.Blackhole(true)
	for i := range 5 {
		p.must(t, "PUT", fmt.Sprintf("/namespaces/%s/eventhubs/silent-%d", g.pns, i), hubBody(i), nil)
	}
	waitFor(t, 30*time.Second, "the primary to see its secondary unreachable with changes pending", func() (bool, string) {
		a := p.alias(t, g.pns, g.alias)
		return a.Pending == 5 && !a.PartnerReachable, fmt.Sprintf("%+v", a)
	})
	g.east.proxy.Blackhole(false)
	g.west.proxy.Blackhole(false)
	// The secondary's parked long-poll lost its answer; it must time out and ask again.
	g.waitConverged(t, 90*time.Second)
}

// TestGeoDRSecondaryIsReadOnly checks that a paired secondary refuses every write on every
// protocol, naming the alias, and still answers reads.
func TestGeoDRSecondaryIsReadOnly(t *testing.T) {
	t.Parallel()
	g := newGeoPair(t, false)
	p, s := g.east, g.west
	hub := "/namespaces/" + g.sns + "/eventhubs/orders"
	p.must(t, "PUT", "/namespaces/"+g.pns+"/eventhubs/orders", map[string]any{"properties": map[string]any{"partitionCount": 3}}, nil)
	p.must(t, "PUT", "/namespaces/"+g.pns+"/eventhubs/orders/consumergroups/readers", map[string]any{}, nil)
	p.must(t, "PUT", "/namespaces/"+g.pns+"/eventhubs/orders/authorizationRules/sender", map[string]any{"properties": map[string]any{"rights": []string{"Send"}}}, nil)
	g.waitConverged(t, 60*time.Second)

	refused := `tandem_geodr_secondary_refused_writes_total{namespace="` + g.sns + `"}`
	before := s.metric(t, refused)
	rule := map[string]any{"properties": map[string]any{"rights": []string{"Listen"}}}
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", hub + "/messages", map[string]any{"body": "nope"}},
		{"POST", hub + "/partitions/1/messages", map[string]any{"body": "nope"}},
		{"PUT", "/namespaces/" + g.sns + "/eventhubs/other", hubBody(1)},
		{"PUT", hub, map[string]any{"properties": map[string]any{"partitionCount": 4}}},
		{"DELETE", hub, nil},
		{"PUT", hub + "/consumergroups/more", map[string]any{}},
		{"DELETE", hub + "/consumergroups/readers", nil},
		{"PUT", hub + "/authorizationRules/listener", rule},
		{"DELETE", hub + "/authorizationRules/sender", nil},
		{"PUT", "/namespaces/" + g.sns + "/authorizationRules/ns-listener", rule},
		{"POST", "/namespaces/" + g.sns + "/authorizationRules/RootManageSharedAccessKey/regenerateKeys", map[string]string{"keyType": "PrimaryKey"}},
		{"PUT", hub + "/consumergroups/readers/checkpoints/0", map[string]any{"offset": 1}},
	}
	for _, w := range writes {
		e := s.refused(t, http.StatusForbidden, w.method, w.path, w.body)
		if e.Error.Code != "ReadOnly" || !strings.Contains(e.Error.Message, g.alias) {
			t.Errorf("%s %s on the secondary: %s %q, want ReadOnly naming alias %s", w.method, w.path, e.Error.Code, e.Error.Message, g.alias)
		}
	}
	// A SAS token of the secondary's own namespace is refused the same way.
	cs := s.namespaceConnString(t, g.sns)
	status, data, err := s.try("POST", hub+"/messages", map[string]any{"body": "nope"}, sasToken(t, cs))
	if err != nil || status != http.StatusForbidden || !strings.Contains(string(data), "ReadOnly") {
		t.Errorf("send with the secondary's own SAS token: %d %s %v", status, data, err)
	}
	if got := s.metric(t, refused) - before; got < float64(len(writes)) {
		t.Errorf("%s grew by %v, want at least %d", refused, got, len(writes))
	}

	// Reads work: the hub, its groups and the secondary's (empty) partitions.
	var h struct {
		Properties struct {
			PartitionCount int      `json:"partitionCount"`
			Groups         []string `json:"consumerGroups"`
		} `json:"properties"`
	}
	s.must(t, "GET", hub, nil, &h)
	if h.Properties.PartitionCount != 3 || strings.Join(h.Properties.Groups, ",") != "$Default,readers" {
		t.Errorf("GET hub on the secondary: %+v", h.Properties)
	}
	if evs := s.readPartitions(t, g.sns, "orders", 3); len(evs) != 0 {
		t.Errorf("the secondary's partitions hold %d events", len(evs))
	}

	checkKafkaReadOnly(t, g, cs)
}

// checkKafkaReadOnly connects to the secondary's Kafka listener with its own namespace's
// connection string: metadata and offsets answer, every write is refused with POLICY_VIOLATION.
func checkKafkaReadOnly(t *testing.T, g *geoPair, cs string) {
	t.Helper()
	ctx := ctxTimeout(t, 60*time.Second)
	cl := kafkaClient(t, cs, []string{g.west.KafkaAddr}, kgo.DefaultProduceTopic("orders"),
		kgo.RecordDeliveryTimeout(10*time.Second), kgo.RecordRetries(2))
	adm := kadm.NewClient(cl)

	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if td, ok := topics["orders"]; !ok || len(td.Partitions) != 3 {
		t.Errorf("Kafka metadata on the secondary lists %v, want the replicated hub orders with 3 partitions", topics.Names())
	}
	ends, err := adm.ListEndOffsets(ctx, "orders")
	if err != nil || ends.Error() != nil {
		t.Errorf("list end offsets on the secondary: %v %v", err, ends.Error())
	}

	res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("nope")})
	if err := res.FirstErr(); !errors.Is(err, kerr.PolicyViolation) {
		t.Errorf("produce to the secondary: %v, want POLICY_VIOLATION", err)
	}
	pr := rawProduce(t, ctx, cl.SeedBrokers()[0], "orders", 0, "nope")
	if pr.ErrorCode != kerr.PolicyViolation.Code || pr.ErrorMessage == nil || !strings.Contains(*pr.ErrorMessage, g.alias) {
		t.Errorf("raw produce to the secondary: code %d message %v, want POLICY_VIOLATION naming alias %s", pr.ErrorCode, strp(pr.ErrorMessage), g.alias)
	}

	created, err := adm.CreateTopics(ctx, 2, 1, nil, "new-topic")
	if err != nil {
		t.Fatal(err)
	}
	if r := created["new-topic"]; !errors.Is(r.Err, kerr.PolicyViolation) || !strings.Contains(r.ErrMessage, g.alias) {
		t.Errorf("CreateTopics on the secondary: %v %q, want POLICY_VIOLATION naming the alias", r.Err, r.ErrMessage)
	}
	deleted, err := adm.DeleteTopics(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if r := deleted["orders"]; !errors.Is(r.Err, kerr.PolicyViolation) {
		t.Errorf("DeleteTopics on the secondary: %v %q, want POLICY_VIOLATION", r.Err, r.ErrMessage)
	}
	parts, err := adm.CreatePartitions(ctx, 2, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if r := parts["orders"]; !errors.Is(r.Err, kerr.PolicyViolation) {
		t.Errorf("CreatePartitions on the secondary: %v %q, want POLICY_VIOLATION", r.Err, r.ErrMessage)
	}

	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 0, LeaderEpoch: -1})
	committed, err := adm.CommitOffsets(ctx, "readers", offsets)
	if err != nil {
		t.Fatal(err)
	}
	if err := committed.Error(); !errors.Is(err, kerr.PolicyViolation) {
		t.Errorf("OffsetCommit on the secondary: %v, want POLICY_VIOLATION", err)
	}
}
