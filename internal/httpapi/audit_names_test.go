package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/job"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// newEnvIn is newEnv on data directory dir (which may hold metadata already), with the /jobs
// routes when jobs is set.
func newEnvIn(t *testing.T, dir string, jobs bool) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	clk := &clock{}
	clk.now.Store(time.Now().UTC().Truncate(time.Millisecond).UnixNano())
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: "test", Registerer: reg, Logger: quiet, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Broker: b, Gatherer: reg, Logger: quiet}
	var jm *job.Manager
	if jobs {
		if jm, err = job.NewManager(job.Options{Broker: b, DataDir: dir, Registerer: reg}); err != nil {
			t.Fatal(err)
		}
		opts.Jobs = jm
	}
	srv := httptest.NewServer(New(opts))
	t.Cleanup(func() {
		srv.Close()
		if jm != nil {
			jm.Close()
		}
		b.Close()
	})
	key, err := os.ReadFile(b.AdminKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, clock: clk, b: b, srv: srv, admin: "TandemKey " + strings.TrimSpace(string(key))}
}

// rootToken signs resource with namespace ns's RootManageSharedAccessKey.
func (e *env) rootToken(ns, resource string) string {
	e.t.Helper()
	r := e.must(200, e.do("POST", "/namespaces/"+ns+"/authorizationRules/"+meta.RootPolicyName+"/listKeys", e.admin, nil))
	return auth.NewSASToken(resource, meta.RootPolicyName, r.json["primaryKey"].(string), time.Now().Add(time.Hour))
}

func (e *env) hubNames(ns string) []string {
	var out []string
	for _, h := range e.b.Hubs(ns) {
		out = append(out, h.Name)
	}
	return out
}

// The audit's H4 requests: a token for sr=sb://shop-eu1/payments signed by the namespace's
// RootManageSharedAccessKey, used on PAYMENTS and PaYmEnTs.
func TestAuditH4_HubScopedTokenReachesOnlyItsHub(t *testing.T) {
	e := newEnv(t, false)
	e.setup("shop-eu1", "payments", 2)
	tok := e.rootToken("shop-eu1", "sb://shop-eu1/payments")
	base := "/namespaces/shop-eu1/eventhubs/"

	for _, req := range []struct{ method, path, body string }{
		{"POST", "PAYMENTS/messages", `{"body":"x"}`},
		{"PUT", "PAYMENTS", `{}`},
		{"PUT", "PaYmEnTs", `{"properties":{"partitionCount":1024}}`},
		{"GET", "PAYMENTS/partitions/0/messages", ""},
		{"GET", "PAYMENTS", ""},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		r := e.must(403, e.do(req.method, base+req.path, tok, body))
		if !strings.Contains(r.message(), `scoped to event hub "payments"`) {
			t.Errorf("%s %s: message %q does not name the scope", req.method, req.path, r.message())
		}
	}
	listenKey := e.ruleKey("shop-eu1", "", "listener", "Listen")
	listenTok := auth.NewSASToken("sb://shop-eu1/payments", "listener", listenKey, time.Now().Add(time.Hour))
	e.must(403, e.do("GET", base+"PAYMENTS/partitions/0/messages", listenTok, nil))
	if got := e.hubNames("shop-eu1"); strings.Join(got, ",") != "payments" {
		t.Fatalf("hubs after the attack: %v, want payments only", got)
	}

	// Its own hub still works, including updating it with the scoped Manage.
	e.must(201, e.do("POST", base+"payments/messages", tok, `{"body":"mine"}`))
	r := e.must(200, e.do("PUT", base+"payments", tok, `{"properties":{"partitionCount":4}}`))
	if pc, _ := r.json["properties"].(map[string]any)["partitionCount"].(float64); pc != 4 {
		t.Errorf("updating the own hub: %s", r.raw)
	}
	e.must(200, e.do("GET", base+"payments/partitions/0/messages", listenTok, nil))

	// Even the admin cannot create a case variant: names are case-insensitive.
	r = e.must(409, e.do("PUT", base+"PAYMENTS", e.admin, `{}`))
	if r.code() != "Conflict" || !strings.Contains(r.message(), `"payments"`) {
		t.Errorf("admin creating PAYMENTS: %s, want Conflict naming payments", r.raw)
	}
	e.must(404, e.do("GET", base+"PAYMENTS", e.admin, nil)) // lookups are exact
}

// A hub-scoped credential never creates hubs, whatever hub it names; a hub-level Manage rule
// still manages its own hub.
func TestAuditH4_HubScopedCredentialCannotCreateHubs(t *testing.T) {
	e := newEnv(t, false)
	e.setup("shop-eu1", "payments", 2)
	base := "/namespaces/shop-eu1/eventhubs/"
	tok := e.rootToken("shop-eu1", "sb://shop-eu1/newhub")
	r := e.must(403, e.do("PUT", base+"newhub", tok, `{"properties":{"partitionCount":1024}}`))
	if !strings.Contains(r.message(), "cannot create event hubs") || !strings.Contains(r.message(), "namespace rule with Manage") {
		t.Errorf("message %q does not say why", r.message())
	}
	e.must(404, e.do("GET", base+"newhub", e.admin, nil))

	ownerKey := e.ruleKey("shop-eu1", "payments", "owner", "Manage", "Send", "Listen")
	owner := auth.NewSASToken("sb://shop-eu1/payments", "owner", ownerKey, time.Now().Add(time.Hour))
	e.must(200, e.do("PUT", base+"payments", owner, `{"properties":{"partitionCount":3}}`))
	e.must(201, e.do("PUT", base+"payments/consumergroups/audit", owner, `{}`))
	e.must(403, e.do("PUT", base+"other", owner, `{}`))
	if got := e.hubNames("shop-eu1"); strings.Join(got, ",") != "payments" {
		t.Fatalf("hubs: %v, want payments only", got)
	}
}

// A node whose metadata already holds "payments" and "PAYMENTS" (created before the rule)
// serves both, each only to credentials for its exact name.
func TestAuditH4_PreexistingVariantsOverHTTP(t *testing.T) {
	dir := t.TempDir()
	st, err := meta.Open(meta.StoreOptions{Dir: filepath.Join(dir, "meta"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := auth.GenerateKey()
	k2, _ := auth.GenerateKey()
	at := time.Now().UTC()
	old := []meta.Command{
		meta.CreateNamespace{Namespace: "shop-eu1", RootPrimaryKey: k1, RootSecondaryKey: k2, Time: at},
		meta.CreateHub{Namespace: "shop-eu1", Hub: "payments", PartitionCount: 1, Time: at},
		meta.CreateHub{Namespace: "shop-eu1", Hub: "PAYMENTS", PartitionCount: 1, Time: at},
	}
	for i, c := range old {
		if err := st.Apply(context.Background(), []meta.Entry{{Index: uint64(i + 1), Command: c}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	e := newEnvIn(t, dir, false)
	base := "/namespaces/shop-eu1/eventhubs/"
	tok := auth.NewSASToken("sb://shop-eu1/payments", meta.RootPolicyName, k1, time.Now().Add(time.Hour))
	e.must(201, e.do("POST", base+"payments/messages", tok, `{"body":"lower"}`))
	e.must(403, e.do("POST", base+"PAYMENTS/messages", tok, `{"body":"upper"}`))
	e.must(409, e.do("PUT", base+"PaYmEnTs", e.admin, `{}`))
	e.must(200, e.do("DELETE", base+"PAYMENTS", e.admin, nil))
	if got := e.hubNames("shop-eu1"); strings.Join(got, ",") != "payments" {
		t.Fatalf("hubs: %v", got)
	}
}

// The audit's L4: PUT …/eventhubs/%2e%2e created a hub named "..". Go's router unescapes the
// path value, so the handler sees ".." and validation must refuse it.
func TestAuditL4_DotNamesRefusedOverHTTP(t *testing.T) {
	e := newEnv(t, false)
	e.setup("shop-eu1", "payments", 1)
	ns := "/namespaces/shop-eu1"
	for _, tc := range []struct{ path, name string }{
		{ns + "/eventhubs/%2e%2e", ".."},
		{ns + "/eventhubs/%2e", "."},
		{ns + "/eventhubs/...", "..."},
		{ns + "/eventhubs/-x", "-x"},
		{ns + "/authorizationRules/%2e%2e", ".."},
		{ns + "/eventhubs/payments/authorizationRules/%2E%2E", ".."},
		{ns + "/eventhubs/payments/consumergroups/%2e%2e", ".."},
		{ns + "/eventhubs/payments/consumergroups/...", "..."},
	} {
		var body any = `{}`
		if strings.Contains(tc.path, "authorizationRules") {
			body = `{"properties":{"rights":["Listen"]}}`
		}
		r := e.do("PUT", tc.path, e.admin, body)
		if r.status != 400 || r.code() != "InvalidArgument" || !strings.Contains(r.message(), fmt.Sprintf("%q", tc.name)) ||
			!strings.Contains(r.message(), "start and end with a letter or digit") {
			t.Errorf("PUT %s: %d %s, want 400 InvalidArgument naming %q and the rule", tc.path, r.status, r.raw, tc.name)
		}
	}
	if got := e.hubNames("shop-eu1"); strings.Join(got, ",") != "payments" {
		t.Fatalf("hubs: %v", got)
	}
	e.must(201, e.do("PUT", ns+"/eventhubs/a.b-c_d", e.admin, `{}`))
	e.must(201, e.do("PUT", ns+"/eventhubs/payments/consumergroups/g.1", e.admin, `{}`))
}

// The audit's M1(d): one event with 2,000,000 properties was accepted on a hub with a 1 MiB
// max event size. At a smaller scale: properties worth more than 1 MiB with a tiny body.
func TestAuditM1d_PropertiesCountTowardMaxEventSize(t *testing.T) {
	e := newEnv(t, false)
	e.setup("shop-eu1", "orders", 2)
	path := "/namespaces/shop-eu1/eventhubs/orders"
	props := make(map[string]string, 80_000)
	for i := range 80_000 {
		props[fmt.Sprintf("p%06d", i)] = fmt.Sprintf("v%06d", i) // 16 encoded bytes each: 1.28 MB
	}
	big, err := json.Marshal([]map[string]any{{"body": "small", "properties": props}})
	if err != nil {
		t.Fatal(err)
	}
	small := `{"body":"fits","properties":{"a":"1"}}`
	r := e.must(413, e.do("POST", path+"/messages", e.admin, string(big)))
	if r.code() != "MessageTooLarge" || !strings.Contains(r.message(), "properties") || !strings.Contains(r.message(), "1048576") {
		t.Errorf("413 answer %q does not name the properties and the limit", r.message())
	}
	// A batch with one event that fits and one that does not is refused whole.
	r = e.must(413, e.do("POST", path+"/messages", e.admin, `[`+small+`,`+string(big[1:len(big)-1])+`]`))
	for p := range 2 {
		r = e.must(200, e.do("GET", fmt.Sprintf("%s/partitions/%d/messages?from=earliest&wait=0", path, p), e.admin, nil))
		if evs := r.json["events"].([]any); len(evs) != 0 {
			t.Fatalf("partition %d holds %d events after refused sends", p, len(evs))
		}
	}
	e.must(201, e.do("POST", path+"/messages", e.admin, small))
}

// The audit's L5, on authentication: a 401 named the admin-key file's path.
func TestAuditL5_AdminKeyMessageHidesThePath(t *testing.T) {
	e := newEnv(t, false)
	r := e.must(401, e.do("GET", "/namespaces", "TandemKey not-the-key", nil))
	dir := filepath.Dir(e.b.AdminKeyPath())
	if strings.Contains(string(r.raw), dir) || strings.Contains(string(r.raw), "/") {
		t.Fatalf("401 reveals a path: %s", r.raw)
	}
	if !strings.Contains(r.message(), "admin key does not match") {
		t.Fatalf("401 message %q", r.message())
	}
}

// The audit's L5: a SAS token on /jobs was told "listing namespaces needs…".
func TestAuditL5_SASOnJobsNamesJobs(t *testing.T) {
	e := newEnvIn(t, t.TempDir(), true)
	e.setup("shop-eu1", "orders", 1)
	tok := e.rootToken("shop-eu1", "sb://shop-eu1/")
	for _, req := range [][2]string{{"GET", "/jobs"}, {"GET", "/jobs/j1"}, {"POST", "/jobs/j1/start"}, {"DELETE", "/jobs/j1"}} {
		r := e.must(403, e.do(req[0], req[1], tok, nil))
		if !strings.Contains(r.message(), "managing stream jobs needs the node admin key") {
			t.Errorf("%s %s: message %q", req[0], req[1], r.message())
		}
	}
	r := e.must(403, e.do("GET", "/namespaces", tok, nil))
	if !strings.Contains(r.message(), "listing namespaces needs the node admin key") {
		t.Errorf("GET /namespaces: message %q", r.message())
	}
	e.must(200, e.do("GET", "/jobs", e.admin, nil))
}

// The audit's L5: an alias name answered 307 to its active region before authentication.
func TestAuditL5_AliasRedirectsOnlyAfterAuthentication(t *testing.T) {
	e := newEnv(t, false)
	e.setup("shop-west", "orders", 1)
	if err := e.b.SetAlias(context.Background(), "shop-west", meta.AliasConfig{Name: "shop-alias", Role: meta.RoleSecondary, Epoch: 1,
		Partner:           &meta.Peer{Region: "east", Namespace: "shop-east", Endpoint: "http://primary.invalid:8080"},
		ProvisioningState: meta.ProvisioningSucceeded}); err != nil {
		t.Fatal(err)
	}
	path := "/namespaces/shop-alias/eventhubs/orders"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(authz string) (int, string, string) {
		req, err := http.NewRequest("GET", e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(body)
	}
	forged := auth.NewSASToken("sb://shop-alias/", meta.RootPolicyName, "bm90IHRoZSBrZXkgYXQgYWxsIGF0IGFsbA==", time.Now().Add(time.Hour))
	for name, authz := range map[string]string{"anonymous": "", "forged token": forged, "wrong admin key": "TandemKey nope"} {
		status, loc, body := get(authz)
		if status != 401 || loc != "" || strings.Contains(body, "primary.invalid") || strings.Contains(body, "east") {
			t.Errorf("%s: %d Location=%q %s; want 401 that tells nothing of the active region", name, status, loc, body)
		}
	}
	// A token signed for the alias with the (replicated) rule key is redirected.
	good := e.rootToken("shop-west", "sb://shop-alias/")
	if status, loc, body := get(good); status != http.StatusTemporaryRedirect || loc != "http://primary.invalid:8080"+path {
		t.Fatalf("authenticated request through the alias: %d Location=%q %s; want 307 to the primary", status, loc, body)
	}
	if status, loc, _ := get(e.admin); status != http.StatusTemporaryRedirect || loc == "" {
		t.Fatalf("admin request through the alias: %d %q; want 307", status, loc)
	}
}
