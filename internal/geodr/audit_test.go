package geodr_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/geodr"
	"github.com/tandem-streaming/tandem/internal/httpapi"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Regression tests of the security audit's geo-DR findings (H6, H7, M2, L5, L1) and of TLS
// between regions, with in-process regions on loopback. The attack with real region
// processes is in internal/e2e/audit_geodr_test.go.

func createNS(tb testing.TB, r *region, ns string) {
	tb.Helper()
	if _, err := r.b.CreateNamespace(context.Background(), broker.NamespaceSpec{Name: ns}); err != nil {
		tb.Fatal(err)
	}
}

// pairAs pairs primary namespace pns of p with secondary sns of s under alias, as the
// operator (admin key on both sides), and waits until both sides are provisioned.
func pairAs(tb testing.TB, p *region, pns string, s *region, sns, alias string) meta.AliasConfig {
	tb.Helper()
	key, err := readAdminKey(s)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := p.m.Create(context.Background(), pns, alias, geodr.CreateOptions{PartnerNamespace: sns,
		PartnerEndpoint: s.url, Credential: geodr.Credential{AdminKey: key}, Admin: true})
	if err != nil {
		tb.Fatal(err)
	}
	waitFor(tb, "pairing "+pns+" with "+sns, func() bool {
		pc, _ := p.b.Alias(pns)
		sc, _ := s.b.Alias(sns)
		return pc.ProvisioningState == meta.ProvisioningSucceeded && sc.ProvisioningState == meta.ProvisioningSucceeded
	})
	return cfg
}

// do sends a request to url with the Authorization header authz ("" for none) and returns
// the status and body.
func do(tb testing.TB, method, url, authz string, body any) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// tenantSAS returns a SAS token of namespace ns's RootManageSharedAccessKey rule: what the
// tenant who owns ns holds.
func tenantSAS(tb testing.TB, r *region, ns string) string {
	tb.Helper()
	key, err := readAdminKey(r)
	if err != nil {
		tb.Fatal(err)
	}
	status, data := do(tb, "POST", r.url+"/namespaces/"+ns+"/authorizationRules/RootManageSharedAccessKey/listKeys", "TandemKey "+key, nil)
	var keys struct {
		CS string `json:"primaryConnectionString"`
	}
	if status != http.StatusOK || json.Unmarshal(data, &keys) != nil {
		tb.Fatalf("listKeys of %s: HTTP %d %s", ns, status, data)
	}
	cs, err := auth.ParseConnectionString(keys.CS)
	if err != nil {
		tb.Fatal(err)
	}
	return auth.NewSASToken(cs.ResourceURI(), cs.SharedAccessKeyName, cs.SharedAccessKey, time.Now().Add(time.Hour))
}

// TestAuditH7_FeedWithWrongKeyChangesNothing replays H7: while the secondary is down and the
// primary has changes it has not replicated, requests to the primary's replication feed with a
// wrong link key (after=99999999 to hide the backlog, after=0 to raise a false alarm) are
// refused and change neither the pending count nor the partner's reachability; and thousands
// of requests naming random namespaces on every region-to-region route leave no state behind.
func TestAuditH7_FeedWithWrongKeyChangesNothing(t *testing.T) {
	east, west := startRegion(t, "east"), startRegion(t, "west")
	pair(t, east, west)
	west.stopManager(t)
	createEntities(t, east.b, "ns-east", "while-down", 5, 0, 1)
	waitFor(t, "the primary to see 5 pending changes and the partner unreachable", func() bool {
		st, err := east.m.Describe("ns-east", "bench-alias")
		return err == nil && st.Pending == 5 && !st.PartnerReachable
	})
	before, _ := east.m.Describe("ns-east", "bench-alias")

	for _, after := range []string{"99999999", "0", "3"} {
		status, data := do(t, "GET", east.url+"/geodr/v1/namespaces/ns-east/log?after="+after+"&wait=0s", "TandemLink wrong-key", nil)
		if status != http.StatusUnauthorized || !strings.Contains(string(data), "link key does not match") {
			t.Fatalf("feed with a wrong link key (after=%s): HTTP %d %s, want 401 naming the link key", after, status, data)
		}
		status, _ = do(t, "GET", east.url+"/geodr/v1/namespaces/ns-east/log?after="+after+"&wait=0s", "", nil)
		if status != http.StatusUnauthorized {
			t.Fatalf("feed without a link key: HTTP %d, want 401", status)
		}
	}
	st, _ := east.m.Describe("ns-east", "bench-alias")
	if st.Pending != 5 || st.PartnerReachable || !st.LastContact.Equal(before.LastContact) {
		t.Fatalf("after refused feed requests the primary shows pending %d, reachable %v, last contact %v; want 5, false, %v",
			st.Pending, st.PartnerReachable, st.LastContact, before.LastContact)
	}

	links := east.m.LinkCount()
	for i := range 2000 {
		name := randomName(t, 200)
		var status int
		switch i % 6 {
		case 0:
			status, _ = do(t, "GET", east.url+"/geodr/v1/namespaces/"+name+"/log?after=0&wait=0s", "TandemLink x", nil)
		case 1:
			status, _ = do(t, "GET", east.url+"/geodr/v1/namespaces/"+name+"/snapshot", "TandemLink x", nil)
		case 2:
			status, _ = do(t, "POST", east.url+"/geodr/v1/aliases/"+name+"/fence", "TandemLink x", map[string]any{"epoch": 9})
		case 3:
			status, _ = do(t, "POST", east.url+"/geodr/v1/aliases/"+name+"/break", "TandemLink x", map[string]any{})
		case 4:
			status, _ = do(t, "POST", east.url+"/geodr/v1/namespaces/"+name+"/pair", "", map[string]any{})
		case 5:
			status, _ = do(t, "GET", east.url+"/geodr/v1/aliases/"+name, "TandemLink x", nil)
		}
		// A break notice for an alias nobody holds is answered 200 ("already gone"), and
		// changes nothing either.
		if status/100 == 2 && i%6 != 3 {
			t.Fatalf("request %d on a random name was accepted (HTTP %d)", i, status)
		}
	}
	if n := east.m.LinkCount(); n != links || n > 1 {
		t.Fatalf("the manager keeps link state for %d namespaces after requests on random names (had %d, 1 alias)", n, links)
	}
	if st, _ := east.m.Describe("ns-east", "bench-alias"); st.Pending != 5 || st.PartnerReachable {
		t.Fatalf("after the random requests the primary shows pending %d reachable %v", st.Pending, st.PartnerReachable)
	}
	// The real secondary still resumes.
	west.startManager()
	waitFor(t, "the secondary to catch up", func() bool {
		st, err := east.m.Describe("ns-east", "bench-alias")
		return err == nil && st.Pending == 0 && st.PartnerReachable
	})
}

func randomName(tb testing.TB, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return "n" + string(b[1:])
}

// TestAuditH6_UnrelatedTenantCannotTakeAlias replays H6. After a failover to west and the
// documented `alias delete` of the stale alias on the old primary in east, a tenant who owns
// only namespace attacker-e1 in east pairs it under the same alias name with a huge epoch (to
// a made-up primary) and fails over. West's active primary must keep the alias at its epoch:
// it fences only on an answer from its recorded partner namespace that the pairing's link key
// authenticates.
func TestAuditH6_UnrelatedTenantCannotTakeAlias(t *testing.T) {
	// East lists 127.0.0.1 as a partner region, so a tenant may pair there with its own
	// credential: the attack then gets past the endpoint checks (M2) to the fencing.
	east := startRegionWith(t, "east", func(o *geodr.Options) { o.PeerAllow = []string{"127.0.0.1"} })
	west := startRegion(t, "west")
	pair(t, east, west)
	ctx := context.Background()
	fo, err := west.m.Failover(ctx, "ns-west", "bench-alias")
	if err != nil || fo.Alias.Epoch != 2 || !fo.FormerPrimaryNotified {
		t.Fatalf("failover: %+v %v", fo, err)
	}
	if err := east.m.Delete(ctx, "ns-east", "bench-alias"); err != nil {
		t.Fatalf("deleting the stale alias on the old primary: %v", err)
	}
	// The deleted alias's name stays reserved in east (TestAuditH6_AliasNameReserved…); the
	// operator releases it here, so the attack reaches the fencing, which must hold anyway.
	if err := east.m.Release(ctx, "ns-east", "bench-alias", true); err != nil {
		t.Fatalf("releasing the alias name: %v", err)
	}

	createNS(t, east, "attacker-e1")
	sas := tenantSAS(t, east, "attacker-e1")
	req := map[string]any{"alias": "bench-alias", "epoch": 1000000, "linkKey": "attacker-chosen-key",
		"primary": map[string]any{"region": "mars", "namespace": "mars-ns", "endpoint": "http://127.0.0.1:31999"},
		"facts":   map[string]any{"Region": "mars", "Name": "mars-ns", "Tier": "standard"}}
	if status, data := do(t, "POST", east.url+"/geodr/v1/namespaces/attacker-e1/pair", sas, req); status != http.StatusOK {
		t.Fatalf("the tenant's pairing of its own namespace: HTTP %d %s", status, data)
	}
	if cfg, _ := east.b.Alias("attacker-e1"); cfg.Epoch != 1 {
		t.Fatalf("the pair request's epoch 1000000 was taken: the new secondary is at epoch %d, want 1", cfg.Epoch)
	}
	afo, err := east.m.Failover(ctx, "attacker-e1", "bench-alias")
	if err != nil || !afo.Alias.Active() {
		t.Fatalf("the tenant's failover of its own alias: %+v %v", afo, err)
	}
	// The tenant also tries to fence west directly with its own key.
	status, _ := do(t, "POST", west.url+"/geodr/v1/aliases/bench-alias/fence", "TandemLink attacker-chosen-key",
		geodr.FenceRequest{Epoch: 1000001, Holder: meta.Peer{Region: "east", Namespace: "attacker-e1", Endpoint: east.url}})
	if status != http.StatusUnauthorized {
		t.Fatalf("fence with the tenant's key: HTTP %d, want 401", status)
	}

	for range 3 {
		west.m.CheckPeersNow(ctx)
	}
	cfg, _ := west.b.Alias("ns-west")
	if !cfg.Active() || cfg.Lost || cfg.Epoch != 2 || cfg.Role != meta.RolePrimaryNotReplicating {
		t.Fatalf("the victim's primary after the tenant's failover: %+v; want it active at epoch 2", cfg)
	}
	st, _ := west.m.Describe("ns-west", "bench-alias")
	if !strings.Contains(st.LastError, "link key does not match") {
		t.Fatalf("west's peer check did not reach east's alias (last error %q); the test proves nothing", st.LastError)
	}
	if holder, _, ok := west.b.AliasHolder("bench-alias"); !ok || holder != "ns-west" {
		t.Fatalf("the alias resolves to %q in west, want ns-west", holder)
	}
}

// TestAuditH6_FormerPrimaryStillFenced checks what fencing needs after the fix: an old
// primary that was down during the failover learns it from its recorded partner, also after
// the new primary paired again (fail-forward) with a third region under a new link key; and a
// new secondary takes its primary's epoch from the link-key-authenticated snapshot, so a
// failover to it goes past the primary's epoch.
func TestAuditH6_FormerPrimaryStillFenced(t *testing.T) {
	east, west, north := startRegion(t, "east"), startRegion(t, "west"), startRegion(t, "north")
	pair(t, east, west)
	ctx := context.Background()
	east.stopManager(t)
	if fo, err := west.m.Failover(ctx, "ns-west", "bench-alias"); err != nil || fo.FormerPrimaryNotified {
		t.Fatalf("failover with the primary's manager down: %+v %v", fo, err)
	}
	createNS(t, north, "ns-north")
	pairAs(t, west, "ns-west", north, "ns-north", "bench-alias")
	if cfg, _ := north.b.Alias("ns-north"); cfg.Epoch != 2 {
		t.Fatalf("the new secondary is at epoch %d, want its primary's 2", cfg.Epoch)
	}

	east.startManager() // its start-up check asks west with the old pairing's link key
	waitFor(t, "the old primary to learn it lost the alias", func() bool {
		cfg, _ := east.b.Alias("ns-east")
		return cfg.Lost && cfg.Epoch == 2 && cfg.Former != nil && cfg.Former.Namespace == "ns-west"
	})

	fo, err := north.m.Failover(ctx, "ns-north", "bench-alias")
	if err != nil || fo.Alias.Epoch != 3 {
		t.Fatalf("failover to the new secondary: %+v %v, want epoch 3", fo, err)
	}
	waitFor(t, "west to lose the alias to north", func() bool {
		cfg, _ := west.b.Alias("ns-west")
		return cfg.Lost && cfg.Epoch == 3
	})
}

// TestLostTo is the fencing decision, asked only about an authenticated status of the
// recorded peer (checkPeers drops every other answer first).
func TestLostTo(t *testing.T) {
	partner := meta.Peer{Region: "west", Namespace: "ns-west"}
	primary := meta.AliasConfig{Name: "a", Role: meta.RolePrimary, Epoch: 2, Partner: &partner, ProvisioningState: meta.ProvisioningSucceeded}
	holder := meta.AliasConfig{Name: "a", Role: meta.RolePrimaryNotReplicating, Epoch: 2, Former: &partner}
	peer := geodr.Status{Namespace: "ns-west", Region: "west", Self: partner, Active: true}
	at := func(e uint64) geodr.Status { s := peer; s.Epoch = e; return s }
	for _, c := range []struct {
		name  string
		cfg   meta.AliasConfig
		st    geodr.Status
		epoch uint64
		lost  bool
	}{
		{"partner active at a higher epoch", primary, at(3), 3, true},
		{"own secondary failed over before it learned the epoch", primary, at(2), 3, true},
		{"holder's old primary still active at a lower epoch", holder, at(1), 0, false},
		{"holder sees its former at a higher epoch", holder, at(3), 3, true},
		{"peer not active", primary, func() geodr.Status { s := at(5); s.Active = false; return s }(), 0, false},
	} {
		epoch, lost := geodr.LostTo(c.cfg, c.st)
		if epoch != c.epoch || lost != c.lost {
			t.Errorf("%s: lostTo = %d, %v; want %d, %v", c.name, epoch, lost, c.epoch, c.lost)
		}
	}
}

// TestAuditM2_PartnerEndpointsAreChecked replays M2: a partner endpoint must be a bare
// http(s) base URL; the answer of a server that is not a Tandem region is not repeated, nor
// is a redirect followed; without a list of partner regions only the admin key names a
// partner endpoint, on either side of a pairing; with one, an endpoint not on it is refused
// with the list.
func TestAuditM2_PartnerEndpointsAreChecked(t *testing.T) {
	east, west := startRegion(t, "east"), startRegion(t, "west")
	createNS(t, east, "ns-east")
	createNS(t, west, "ns-west")
	ctx := context.Background()
	key, _ := readAdminKey(west)
	create := func(r *region, endpoint string, admin bool) error {
		_, err := r.m.Create(ctx, "ns-east", "probe-alias", geodr.CreateOptions{PartnerNamespace: "ns-west",
			PartnerEndpoint: endpoint, Credential: geodr.Credential{AdminKey: key}, Admin: admin})
		return err
	}
	host := strings.TrimPrefix(west.url, "http://")
	for _, bad := range []string{west.url + "/jobs?x=", west.url + "?", "http://u:p@" + host, "ftp://" + host,
		west.url + "/#frag", west.url + "/geodr/v1", "//" + host, host} {
		if err := create(east, bad, true); !errcode.Is(err, errcode.InvalidArgument) {
			t.Errorf("partner endpoint %q: %v, want InvalidArgument", bad, err)
		}
	}

	// A server that is not a Tandem region: its body is not repeated, its redirect not followed.
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/facts") {
			http.Redirect(w, r, target.URL+"/internal", http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":{"code":"Forbidden","message":"internal secret body"}}`)
	}))
	defer other.Close()
	err := create(east, other.URL, true)
	if err == nil || !strings.Contains(err.Error(), "answered HTTP 307") || hits.Load() != 0 {
		t.Errorf("a partner that redirects: %v (target hit %d times), want 'answered HTTP 307' and no hit", err, hits.Load())
	}
	forbidding := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":{"code":"Forbidden","message":"internal secret body"}}`)
	}))
	defer forbidding.Close()
	if err := create(east, forbidding.URL, true); err == nil || strings.Contains(err.Error(), "secret") ||
		!strings.Contains(err.Error(), "answered HTTP 403") {
		t.Errorf("a partner that is not a Tandem region answering 403: %v, want 'answered HTTP 403' without its body", err)
	}
	closed := freePort(t)
	if err := create(east, "http://"+closed, true); err == nil || strings.Contains(err.Error(), "refused") ||
		!strings.Contains(err.Error(), "could not connect to the partner region at "+closed) {
		t.Errorf("a closed port: %v, want 'could not connect' without the cause", err)
	}

	// No list of partner regions: only the admin key names a partner endpoint.
	if err := create(east, west.url, false); !errcode.Is(err, errcode.Forbidden) || !strings.Contains(err.Error(), "--peer-allow") {
		t.Errorf("a namespace credential naming a partner endpoint with no list: %v, want Forbidden naming --peer-allow", err)
	}
	pairReq := map[string]any{"alias": "probe-alias", "linkKey": "k", "epoch": 1,
		"primary": map[string]any{"region": "east", "namespace": "ns-east", "endpoint": east.url},
		"facts":   map[string]any{"Region": "east", "Name": "ns-east", "Tier": "standard"}}
	if status, data := do(t, "POST", west.url+"/geodr/v1/namespaces/ns-west/pair", tenantSAS(t, west, "ns-west"), pairReq); status != http.StatusForbidden {
		t.Errorf("a tenant's pair request naming a primary endpoint with no list: HTTP %d %s, want 403", status, data)
	}
	if cfg, ok := west.b.Alias("ns-west"); ok {
		t.Fatalf("a refused pair request left an alias: %+v", cfg)
	}

	// A list of partner regions: a regions file as `tandem dev` writes it, plus --peer-allow.
	file := filepath.Join(t.TempDir(), "regions.json")
	os.WriteFile(file, []byte(`{"regions":[{"name":"north","server":"http://127.0.0.1:1"}]}`), 0o600)
	listed := startRegionWith(t, "south", func(o *geodr.Options) {
		o.RegionsFile, o.PeerAllow = file, []string{"https://10.0.0.9:8443"}
	})
	createNS(t, listed, "ns-east")
	_, err = listed.m.Create(ctx, "ns-east", "probe-alias", geodr.CreateOptions{PartnerNamespace: "ns-west",
		PartnerEndpoint: west.url, Credential: geodr.Credential{AdminKey: key}, Admin: true})
	if !errcode.Is(err, errcode.Forbidden) || !strings.Contains(err.Error(), "north (http://127.0.0.1:1)") ||
		!strings.Contains(err.Error(), "https://10.0.0.9:8443") {
		t.Errorf("an endpoint not on the list: %v, want Forbidden naming the allowed regions", err)
	}
	os.WriteFile(file, []byte(`{"regions":[{"name":"north","server":"http://127.0.0.1:1"},{"name":"west","server":"`+west.url+`"}]}`), 0o600)
	_, err = listed.m.Create(ctx, "ns-east", "probe-alias", geodr.CreateOptions{PartnerNamespace: "ns-west",
		PartnerEndpoint: west.url, Credential: geodr.Credential{AdminKey: key}})
	if err != nil {
		t.Fatalf("a namespace credential pairing with a listed region: %v", err)
	}
}

func freePort(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestAuditL5_PublicAliasStatusNamesNoNamespace replays L5's geo-DR part: without a
// credential the alias status tells whether and where the alias is active and its epoch,
// nothing else; a wrong link key is refused; the link key or the admin key shows the rest.
func TestAuditL5_PublicAliasStatusNamesNoNamespace(t *testing.T) {
	east, west := startRegion(t, "east"), startRegion(t, "west")
	pair(t, east, west)
	u := west.url + "/geodr/v1/aliases/bench-alias"
	status, data := do(t, "GET", u, "", nil)
	var public map[string]any
	if status != http.StatusOK || json.Unmarshal(data, &public) != nil {
		t.Fatalf("public status: HTTP %d %s", status, data)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range public {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"active", "activeRegion", "alias", "epoch", "region"}) ||
		public["activeRegion"] != "east" || public["active"] != false {
		t.Errorf("public status shows %s, want only alias, region, active, activeRegion east and epoch", data)
	}
	for _, secret := range []string{"ns-west", "ns-east", east.url, west.url, "nodeId"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("public status %s shows %q", data, secret)
		}
	}
	if status, _ := do(t, "GET", u, "TandemLink wrong", nil); status != http.StatusUnauthorized {
		t.Errorf("status with a wrong link key: HTTP %d, want 401", status)
	}
	if status, _ := do(t, "GET", u, "TandemKey wrong", nil); status != http.StatusUnauthorized {
		t.Errorf("status with a wrong admin key: HTTP %d, want 401", status)
	}
	cfg, _ := west.b.Alias("ns-west")
	adminKey, _ := readAdminKey(west)
	for _, authz := range []string{"TandemLink " + cfg.LinkKey, "TandemKey " + adminKey} {
		var st geodr.Status
		status, data := do(t, "GET", u, authz, nil)
		if status != http.StatusOK || json.Unmarshal(data, &st) != nil || st.Namespace != "ns-west" ||
			st.Partner == nil || st.Partner.Namespace != "ns-east" {
			t.Errorf("status with %s: HTTP %d %s, want the full status", strings.Fields(authz)[0], status, data)
		}
	}
}

// TestAuditL1_GeoDRSeriesOfDeletedAliasesRemoved checks that the geo-DR metric series of an
// alias go when the alias goes (break pairing, then delete).
func TestAuditL1_GeoDRSeriesOfDeletedAliasesRemoved(t *testing.T) {
	regs := map[string]*prometheus.Registry{"east": prometheus.NewRegistry(), "west": prometheus.NewRegistry()}
	withReg := func(name string) func(*geodr.Options) {
		return func(o *geodr.Options) { o.Registerer = regs[name] }
	}
	east, west := startRegionWith(t, "east", withReg("east")), startRegionWith(t, "west", withReg("west"))
	pair(t, east, west)
	createEntities(t, east.b, "ns-east", "hub", 2, 0, 1)
	waitFor(t, "the series of both sides", func() bool {
		return seriesOf(t, regs["east"], "ns-east") >= 3 && seriesOf(t, regs["west"], "ns-west") >= 4
	})
	ctx := context.Background()
	if _, err := east.m.BreakPairing(ctx, "ns-east", "bench-alias"); err != nil {
		t.Fatal(err)
	}
	if err := east.m.Delete(ctx, "ns-east", "bench-alias"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the series of the deleted alias to go", func() bool {
		return seriesOf(t, regs["east"], "ns-east") == 0 && seriesOf(t, regs["west"], "ns-west") == 0
	})
}

// seriesOf counts the tandem_geodr_* series with namespace label ns.
func seriesOf(tb testing.TB, reg *prometheus.Registry, ns string) int {
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "tandem_geodr_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "namespace" && l.GetValue() == ns {
					n++
				}
			}
		}
	}
	return n
}

// startTLSRegion starts a region whose HTTP API is served over TLS (httptest's certificate
// for 127.0.0.1), and returns the pool that trusts it.
func startTLSRegion(tb testing.TB, name string) (*region, *x509.CertPool) {
	tb.Helper()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: tb.TempDir(), Region: name, Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	r := &region{name: name, b: b, url: "https://" + ts.Listener.Addr().String()}
	r.m = geodr.New(geodr.Options{Broker: b, Endpoint: r.url, Kafka: "127.0.0.1:9", Logger: quiet(),
		CheckEvery: 200 * time.Millisecond, FeedWait: 2 * time.Second})
	r.m.Start(context.Background())
	ts.Config.Handler = httpapi.New(httpapi.Options{Broker: b, Logger: quiet(), Geo: r.m})
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake of the test's stranger
	ts.StartTLS()
	tb.Cleanup(func() {
		ts.Close()
		r.m.Close()
		b.Close()
	})
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return r, pool
}

// TestGeoDRPairsOverTLS pairs a region with a partner whose API is https://: with the CA in
// Options.TLS the pairing is provisioned and replicates; without it the pairing is refused
// with a message that names the untrusted certificate.
func TestGeoDRPairsOverTLS(t *testing.T) {
	west, pool := startTLSRegion(t, "west")
	east := startRegionWith(t, "east", func(o *geodr.Options) { o.TLS = &tls.Config{RootCAs: pool} })
	stranger := startRegion(t, "south")
	createNS(t, east, "ns-east")
	createNS(t, stranger, "ns-south")
	createNS(t, west, "ns-west")

	key, _ := readAdminKey(west)
	_, err := stranger.m.Create(context.Background(), "ns-south", "tls-alias", geodr.CreateOptions{PartnerNamespace: "ns-west",
		PartnerEndpoint: west.url, Credential: geodr.Credential{AdminKey: key}, Admin: true})
	if !errcode.Is(err, errcode.Unavailable) || !strings.Contains(err.Error(), "certificate this region does not trust") {
		t.Fatalf("pairing with an https partner whose CA is not given: %v, want Unavailable naming the certificate", err)
	}

	pairAs(t, east, "ns-east", west, "ns-west", "tls-alias")
	if err := east.b.CreateHub(context.Background(), "ns-east", broker.HubSpec{Name: "over-tls", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hub replicated over TLS", func() bool { _, err := west.b.Hub("ns-west", "over-tls"); return err == nil })
	if cfg, _ := east.b.Alias("ns-east"); !strings.HasPrefix(cfg.Partner.Endpoint, "https://") {
		t.Fatalf("the partner is recorded at %s, want its https:// endpoint", cfg.Partner.Endpoint)
	}
}
