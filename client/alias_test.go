package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// aliasJSON is an aliasWire as the server contract spells it.
const aliasJSON = `{"name":"shop","type":"Microsoft.EventHub/Namespaces/disasterrecoveryconfigs","properties":{
  "namespace":"shop-eu1","region":"east","provisioningState":"Succeeded","role":"Primary",
  "partnerNamespace":"shop-eu2","partnerRegion":"west","partnerEndpoint":"http://127.0.0.1:8180",
  "pendingReplicationOperationsCount":3,"replicationLagSeconds":1.5,"epoch":2,
  "activeRegion":"east","activeNamespace":"shop-eu1","lost":false,"partnerReachable":true,
  "lastPartnerContact":"2024-05-01T12:00:00Z","lastError":"slow link","formerPrimaryNotified":true}}`

// fakeAliasServer answers the alias routes with canned bodies and records the requests.
type fakeAliasServer struct {
	mu       sync.Mutex
	requests []string // "METHOD path body"
	states   []string // provisioning states GET answers in turn (the last one repeats)
}

func (f *fakeAliasServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
	state := ""
	if len(f.states) > 0 {
		state = f.states[0]
		if len(f.states) > 1 {
			f.states = f.states[1:]
		}
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	const base = "/namespaces/shop-eu1/disasterRecoveryConfigs"
	switch p := r.URL.Path; {
	case p == base+"/checkNameAvailability":
		io.WriteString(w, `{"nameAvailable":false,"reason":"AlreadyExists","message":"the name shop is used"}`)
	case p == base:
		io.WriteString(w, `{"value":[`+aliasJSON+`]}`)
	case p == base+"/nope":
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"NotFound","message":"namespace shop-eu1 has no alias nope"}}`)
	case strings.HasSuffix(p, "/authorizationRules"):
		io.WriteString(w, `{"value":[{"name":"RootManageSharedAccessKey","properties":{"rights":["Manage","Send","Listen"]}}]}`)
	case strings.HasSuffix(p, "/listKeys"):
		io.WriteString(w, `{"keyName":"RootManageSharedAccessKey","primaryKey":"k1","secondaryKey":"k2",
			"aliasPrimaryConnectionString":"Endpoint=sb://shop/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k1",
			"aliasSecondaryConnectionString":"Endpoint=sb://shop/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k2"}`)
	case strings.Contains(p, "/authorizationRules/"):
		io.WriteString(w, `{"name":"RootManageSharedAccessKey","properties":{"rights":["Manage"]}}`)
	case r.Method == http.MethodDelete:
		io.WriteString(w, `{}`)
	case state != "":
		io.WriteString(w, strings.Replace(aliasJSON, `"Succeeded"`, `"`+state+`"`, 1))
	default:
		io.WriteString(w, aliasJSON)
	}
}

func (f *fakeAliasServer) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func (f *fakeAliasServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func newFakeAlias(t *testing.T, states ...string) (*client.Client, *fakeAliasServer) {
	t.Helper()
	f := &fakeAliasServer{states: states}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithAdminKey("key"))
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func TestAliasWire(t *testing.T) {
	c, f := newFakeAlias(t)
	ctx := context.Background()
	want := client.Alias{Name: "shop", Namespace: "shop-eu1", Region: "east", ProvisioningState: "Succeeded", Role: "Primary",
		PartnerNamespace: "shop-eu2", PartnerRegion: "west", PartnerEndpoint: "http://127.0.0.1:8180",
		PendingReplicationOperations: 3, ReplicationLagSeconds: 1.5, Epoch: 2, ActiveRegion: "east", ActiveNamespace: "shop-eu1",
		PartnerReachable: true, LastPartnerContact: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), LastError: "slow link",
		FormerPrimaryNotified: true}
	const path = "/namespaces/shop-eu1/disasterRecoveryConfigs/shop"
	for _, tc := range []struct {
		name, request string
		call          func() (client.Alias, error)
	}{
		{"create", "PUT " + path + ` {"name":"shop","properties":{"partnerNamespace":"shop-eu2","partnerEndpoint":"http://127.0.0.1:8180","partnerAdminKey":"k"}}`,
			func() (client.Alias, error) {
				return c.CreateAlias(ctx, "shop-eu1", "shop", client.AliasOptions{PartnerNamespace: "shop-eu2",
					PartnerEndpoint: "http://127.0.0.1:8180", PartnerAdminKey: "k"})
			}},
		{"get", "GET " + path + " ", func() (client.Alias, error) { return c.GetAlias(ctx, "shop-eu1", "shop") }},
		{"break", "POST " + path + "/breakPairing ", func() (client.Alias, error) { return c.BreakPairing(ctx, "shop-eu1", "shop") }},
		{"failover", "POST " + path + "/failover ", func() (client.Alias, error) { return c.Failover(ctx, "shop-eu1", "shop") }},
	} {
		a, err := tc.call()
		if err != nil || a != want {
			t.Errorf("%s = %+v, %v\nwant %+v", tc.name, a, err, want)
		}
		if got := f.last(); got != tc.request {
			t.Errorf("%s sent %s\nwant %s", tc.name, got, tc.request)
		}
	}
	as, err := c.ListAliases(ctx, "shop-eu1")
	if err != nil || len(as) != 1 || as[0] != want {
		t.Errorf("ListAliases = %+v, %v", as, err)
	}
	if err := c.DeleteAlias(ctx, "shop-eu1", "shop"); err != nil || f.last() != "DELETE "+path+" " {
		t.Errorf("DeleteAlias: %v, sent %s", err, f.last())
	}
	av, err := c.CheckAliasName(ctx, "shop-eu1", "shop")
	if err != nil || av.NameAvailable || av.Reason != "AlreadyExists" || av.Message == "" ||
		f.last() != `POST /namespaces/shop-eu1/disasterRecoveryConfigs/checkNameAvailability {"name":"shop"}` {
		t.Errorf("CheckAliasName = %+v, %v, sent %s", av, err, f.last())
	}
	rs, err := c.ListAliasRules(ctx, "shop-eu1", "shop")
	if err != nil || len(rs) != 1 || rs[0].Name != "RootManageSharedAccessKey" || len(rs[0].Rights) != 3 {
		t.Errorf("ListAliasRules = %+v, %v", rs, err)
	}
	r, err := c.GetAliasRule(ctx, "shop-eu1", "shop", "RootManageSharedAccessKey")
	if err != nil || r.Name != "RootManageSharedAccessKey" || f.last() != "GET "+path+"/authorizationRules/RootManageSharedAccessKey " {
		t.Errorf("GetAliasRule = %+v, %v, sent %s", r, err, f.last())
	}
	k, err := c.ListAliasKeys(ctx, "shop-eu1", "shop", "RootManageSharedAccessKey")
	if err != nil || k.PrimaryKey != "k1" || !strings.HasPrefix(k.AliasSecondaryConnectionString, "Endpoint=sb://shop/;") ||
		f.last() != "POST "+path+"/authorizationRules/RootManageSharedAccessKey/listKeys " {
		t.Errorf("ListAliasKeys = %+v, %v, sent %s", k, err, f.last())
	}
}

func TestAliasErrors(t *testing.T) {
	c, f := newFakeAlias(t)
	ctx := context.Background()
	_, err := c.GetAlias(ctx, "shop-eu1", "nope")
	if !errcode.Is(err, errcode.NotFound) || !strings.Contains(err.Error(), "has no alias nope") {
		t.Errorf("GetAlias of a missing alias: %v", err)
	}
	n := f.count()
	for _, o := range []client.AliasOptions{
		{PartnerNamespace: "shop-eu2", PartnerEndpoint: "http://x"},
		{PartnerNamespace: "shop-eu2", PartnerEndpoint: "http://x", PartnerAdminKey: "k", PartnerConnectionString: "Endpoint=sb://shop-eu2/"},
	} {
		if _, err := c.CreateAlias(ctx, "shop-eu1", "shop", o); !errcode.Is(err, errcode.InvalidArgument) ||
			!strings.Contains(err.Error(), "one credential") {
			t.Errorf("CreateAlias(%+v): %v", o, err)
		}
	}
	if f.count() != n {
		t.Error("CreateAlias with a bad credential choice sent a request")
	}
}

func TestWaitAlias(t *testing.T) {
	c, f := newFakeAlias(t, "Accepted", "Accepted", "Succeeded")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := c.WaitAlias(ctx, "shop-eu1", "shop", client.Provisioned)
	if err != nil || a.ProvisioningState != "Succeeded" || f.count() != 3 {
		t.Fatalf("WaitAlias = %+v, %v after %d requests", a, err, f.count())
	}

	c, _ = newFakeAlias(t, "Accepted")
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	a, err = c.WaitAlias(short, "shop-eu1", "shop", client.Provisioned)
	if !errcode.Is(err, errcode.Timeout) || !strings.Contains(err.Error(), "still Accepted") || a.ProvisioningState != "Accepted" {
		t.Fatalf("WaitAlias past its deadline = %+v, %v", a, err)
	}

	if _, err := c.WaitAlias(ctx, "shop-eu1", "nope", client.Provisioned); !errcode.Is(err, errcode.NotFound) {
		t.Fatalf("WaitAlias of a missing alias: %v", err)
	}
}

func TestAliasJSONFieldsOmitted(t *testing.T) {
	// A secondary that never reached its partner: no lastPartnerContact, no partner fields.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"name": "shop", "properties": map[string]any{
			"namespace": "shop-eu2", "role": "Secondary", "provisioningState": "Accepted", "epoch": 1}})
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL)
	a, err := c.GetAlias(context.Background(), "shop-eu2", "shop")
	if err != nil || !a.LastPartnerContact.IsZero() || a.PartnerReachable || a.Role != client.RoleSecondary || a.Paired() {
		t.Fatalf("GetAlias = %+v, %v", a, err)
	}
}
