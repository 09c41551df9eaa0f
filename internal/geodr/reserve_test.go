package geodr_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/geodr"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Regression tests of alias-name squatting (issue 11 item 4, after H6): once the stale alias
// on the old primary is deleted, its name stays reserved in that region for its pairing.

// squatSetup pairs ns-east (east) with ns-west (west) under bench-alias, fails over to west,
// and deletes the stale alias in east, as the documented failover steps do. Both regions list
// 127.0.0.1 as a partner region, so tenants may pair there with their own credentials.
func squatSetup(t *testing.T) (east, west *region) {
	t.Helper()
	allow := func(o *geodr.Options) { o.PeerAllow = []string{"127.0.0.1"} }
	east, west = startRegionWith(t, "east", allow), startRegionWith(t, "west", allow)
	pair(t, east, west)
	ctx := context.Background()
	if fo, err := west.m.Failover(ctx, "ns-west", "bench-alias"); err != nil || !fo.FormerPrimaryNotified {
		t.Fatalf("failover: %+v %v", fo, err)
	}
	if err := east.m.Delete(ctx, "ns-east", "bench-alias"); err != nil {
		t.Fatalf("deleting the stale alias on the old primary: %v", err)
	}
	return east, west
}

// pairReq is a pair request for bench-alias from primary (region, ns), as a tenant can send it.
func pairReq(region, ns, endpoint string, claims ...string) map[string]any {
	return map[string]any{"alias": "bench-alias", "linkKey": "tenant-chosen-key-0123456789", "claims": claims,
		"primary": map[string]any{"region": region, "namespace": ns, "endpoint": endpoint},
		"facts":   map[string]any{"Region": region, "Name": ns, "Tier": "standard"}}
}

func wantReserved(t *testing.T, what string, status int, body []byte) {
	t.Helper()
	if status != http.StatusConflict || !strings.Contains(string(body), `reserved in region east`) ||
		!strings.Contains(string(body), "ns-east") || !strings.Contains(string(body), "--release") {
		t.Fatalf("%s: HTTP %d %s; want 409 naming the reservation of ns-east and --release", what, status, body)
	}
}

// TestAuditH6_AliasNameReservedAgainstOtherTenants: after failover and `alias delete` in east,
// a tenant who owns only attacker-e1 there cannot take the alias name, neither as a secondary
// (with a made-up primary, or posing as the victim's primary without its link key) nor as a
// primary, and not as a namespace name; the name shows as NameInLockdown; the namespace the
// name is reserved for may use it again.
func TestAuditH6_AliasNameReservedAgainstOtherTenants(t *testing.T) {
	east, west := squatSetup(t)
	createNS(t, east, "attacker-e1")
	if ok, reason, msg := east.m.CheckName("attacker-e1", "bench-alias"); ok || reason != "NameInLockdown" || !strings.Contains(msg, "ns-east") {
		t.Fatalf("name check of the deleted alias for another namespace: %v %q %q; want NameInLockdown naming ns-east", ok, reason, msg)
	}
	if ok, reason, msg := east.m.CheckName("ns-east", "bench-alias"); !ok {
		t.Fatalf("name check of the deleted alias for its own namespace: %q %q; want available", reason, msg)
	}
	sas := tenantSAS(t, east, "attacker-e1")
	status, body := do(t, "POST", east.url+"/geodr/v1/namespaces/attacker-e1/pair", sas, pairReq("mars", "mars-ns", "http://127.0.0.1:31999"))
	wantReserved(t, "the tenant pairing its namespace under the name", status, body)
	status, body = do(t, "POST", east.url+"/geodr/v1/namespaces/attacker-e1/pair", sas,
		pairReq("west", "ns-west", west.url, strings.Repeat("ab", 32), "not-a-proof"))
	wantReserved(t, "the tenant posing as the victim's primary without its link key", status, body)

	put := map[string]any{"name": "bench-alias", "properties": map[string]any{"partnerNamespace": "ns-w2",
		"partnerEndpoint": west.url, "partnerAdminKey": "whatever"}}
	status, body = do(t, "PUT", east.url+"/namespaces/attacker-e1/disasterRecoveryConfigs/bench-alias", sas, put)
	wantReserved(t, "the tenant creating the alias as a primary", status, body)
	if cfg, ok := east.b.Alias("attacker-e1"); ok {
		t.Fatalf("a refused request left an alias on the tenant's namespace: %+v", cfg)
	}
	_, err := east.b.CreateNamespace(context.Background(), broker.NamespaceSpec{Name: "bench-alias"})
	if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), "--release") {
		t.Fatalf("a namespace named like the reserved alias: %v, want Conflict naming --release", err)
	}
	if holder, _, ok := east.b.AliasHolder("bench-alias"); ok {
		t.Fatalf("the alias name resolves to %s in east", holder)
	}

	// The very request refused for the tenant is accepted for the namespace it is reserved for.
	status, body = do(t, "POST", east.url+"/geodr/v1/namespaces/ns-east/pair", tenantSAS(t, east, "ns-east"),
		pairReq("mars", "mars-ns", "http://127.0.0.1:31999"))
	if status != http.StatusOK {
		t.Fatalf("ns-east using its own reserved name: HTTP %d %s", status, body)
	}
	if cfg, _ := west.b.Alias("ns-west"); !cfg.Active() || cfg.Epoch != 2 {
		t.Fatalf("the victim's alias after the attempts: %+v", cfg)
	}
}

// TestAuditH6_AliasNameReservedForFailForward: the victim (west, holding the alias after the
// failover) fails forward into east under the same name, with a new empty namespace there
// and only that namespace's connection string (no admin key): its pair request proves the
// former pairing's link key. The same request with a proof under another key is refused.
func TestAuditH6_AliasNameReservedForFailForward(t *testing.T) {
	east, west := squatSetup(t)
	createNS(t, east, "ns-east2")
	wrong := []string{strings.Repeat("0", 64)}
	status, body := do(t, "POST", east.url+"/geodr/v1/namespaces/ns-east2/pair", tenantSAS(t, east, "ns-east2"),
		pairReq("west", "ns-west", west.url, wrong...))
	wantReserved(t, "a pair request from the victim's primary with a wrong proof", status, body)

	cs := connectionString(t, east, "ns-east2")
	cfg, err := west.m.Create(context.Background(), "ns-west", "bench-alias", geodr.CreateOptions{PartnerNamespace: "ns-east2",
		PartnerEndpoint: east.url, Credential: geodr.Credential{ConnectionString: cs}})
	if err != nil {
		t.Fatalf("the victim's fail-forward into east under the same name: %v", err)
	}
	if cfg.Epoch != 2 || cfg.Partner == nil || cfg.Partner.Namespace != "ns-east2" {
		t.Fatalf("the re-paired alias: %+v", cfg)
	}
	waitFor(t, "the fail-forward pairing to be provisioned", func() bool {
		pc, _ := west.b.Alias("ns-west")
		sc, _ := east.b.Alias("ns-east2")
		return pc.ProvisioningState == meta.ProvisioningSucceeded && sc.ProvisioningState == meta.ProvisioningSucceeded &&
			sc.Role == meta.RoleSecondary && sc.Epoch == 2
	})
}

// TestAuditH6_AliasNameReservedAdminRelease: only the admin key (or the namespace the name is
// reserved for) releases a reservation, also after that namespace was deleted; a namespace
// created again under the deleted one's name does not inherit it; after the release, the name
// is free.
func TestAuditH6_AliasNameReservedAdminRelease(t *testing.T) {
	east, _ := squatSetup(t)
	createNS(t, east, "attacker-e1")
	sas := tenantSAS(t, east, "attacker-e1")
	status, body := do(t, "DELETE", east.url+"/namespaces/attacker-e1/disasterRecoveryConfigs/bench-alias?release=true", sas, nil)
	if status != http.StatusForbidden || !strings.Contains(string(body), "reserved in region east for namespace ns-east") {
		t.Fatalf("the tenant releasing another namespace's reservation: HTTP %d %s, want 403", status, body)
	}
	status, body = do(t, "DELETE", east.url+"/namespaces/ns-east/disasterRecoveryConfigs/bench-alias?release=true", sas, nil)
	if status/100 == 2 {
		t.Fatalf("the tenant releasing through ns-east's path: HTTP %d %s", status, body)
	}

	// The namespace goes, and another is created under its name: it does not inherit the name.
	if err := east.b.DeleteNamespace(context.Background(), "ns-east"); err != nil {
		t.Fatal(err)
	}
	createNS(t, east, "ns-east")
	status, body = do(t, "POST", east.url+"/geodr/v1/namespaces/ns-east/pair", tenantSAS(t, east, "ns-east"),
		pairReq("mars", "mars-ns", "http://127.0.0.1:31999"))
	wantReserved(t, "a namespace created again under the reserved-for name", status, body)

	key, _ := readAdminKey(east)
	status, body = do(t, "DELETE", east.url+"/namespaces/ns-east/disasterRecoveryConfigs/bench-alias?release=true", "TandemKey "+key, nil)
	if status != http.StatusOK {
		t.Fatalf("the admin releasing the reservation: HTTP %d %s", status, body)
	}
	if ok, reason, msg := east.m.CheckName("attacker-e1", "bench-alias"); !ok {
		t.Fatalf("the name after the release: %q %q", reason, msg)
	}
	status, body = do(t, "POST", east.url+"/geodr/v1/namespaces/attacker-e1/pair", sas, pairReq("mars", "mars-ns", "http://127.0.0.1:31999"))
	if status != http.StatusOK {
		t.Fatalf("a tenant using the released name: HTTP %d %s", status, body)
	}
	status, _ = do(t, "DELETE", east.url+"/namespaces/ns-east/disasterRecoveryConfigs/bench-alias?release=true", "TandemKey "+key, nil)
	if status != http.StatusNotFound {
		t.Fatalf("releasing a name that is not reserved: HTTP %d, want 404", status)
	}
}

// TestAliasDeletedWithNamespaceStaysReserved: deleting a namespace that holds an unpaired
// alias reserves the name as `alias delete` does; the admin releases it through the path of
// the deleted namespace.
func TestAliasDeletedWithNamespaceStaysReserved(t *testing.T) {
	east, _ := squatSetup(t)
	key, _ := readAdminKey(east)
	do(t, "DELETE", east.url+"/namespaces/ns-east/disasterRecoveryConfigs/bench-alias?release=true", "TandemKey "+key, nil)
	createNS(t, east, "ns-east3")
	createNS(t, east, "ns-other")
	// ns-east3 takes the free name as a primary that lost it, as east did.
	lost := meta.AliasConfig{Name: "bench-alias", Role: meta.RolePrimaryNotReplicating, Epoch: 2, Lost: true,
		Former: &meta.Peer{Region: "west", Namespace: "ns-west"}, LinkKey: "k", ProvisioningState: meta.ProvisioningSucceeded}
	if err := east.b.SetAlias(context.Background(), "ns-east3", lost); err != nil {
		t.Fatal(err)
	}
	if err := east.b.DeleteNamespace(context.Background(), "ns-east3"); err != nil {
		t.Fatal(err)
	}
	status, body := do(t, "POST", east.url+"/geodr/v1/namespaces/ns-other/pair", tenantSAS(t, east, "ns-other"),
		pairReq("mars", "mars-ns", "http://127.0.0.1:31999"))
	if status != http.StatusConflict || !strings.Contains(string(body), "ns-east3") {
		t.Fatalf("the name of an alias deleted with its namespace: HTTP %d %s, want 409 naming ns-east3", status, body)
	}
	status, body = do(t, "DELETE", east.url+"/namespaces/ns-east3/disasterRecoveryConfigs/bench-alias?release=true", "TandemKey "+key, nil)
	if status != http.StatusOK {
		t.Fatalf("the admin releasing the reservation of a deleted namespace: HTTP %d %s", status, body)
	}
}

// connectionString returns the primary connection string of namespace ns's
// RootManageSharedAccessKey rule.
func connectionString(tb testing.TB, r *region, ns string) string {
	tb.Helper()
	key, _ := readAdminKey(r)
	status, data := do(tb, "POST", r.url+"/namespaces/"+ns+"/authorizationRules/RootManageSharedAccessKey/listKeys", "TandemKey "+key, nil)
	var keys struct {
		CS string `json:"primaryConnectionString"`
	}
	if status != http.StatusOK || json.Unmarshal(data, &keys) != nil {
		tb.Fatalf("listKeys of %s: HTTP %d %s", ns, status, data)
	}
	return keys.CS
}
