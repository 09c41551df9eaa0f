package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// ruleKey creates a rule with rights on ns (hub "") or ns/hub and returns its primary key.
func (e *env) ruleKey(ns, hub, rule string, rights ...string) string {
	e.t.Helper()
	base := "/namespaces/" + ns
	if hub != "" {
		base += "/eventhubs/" + hub
	}
	e.must(201, e.do("PUT", base+"/authorizationRules/"+rule, e.admin, map[string]any{"properties": map[string]any{"rights": rights}}))
	r := e.must(200, e.do("POST", base+"/authorizationRules/"+rule+"/listKeys", e.admin, nil))
	return r.json["primaryKey"].(string)
}

func TestSASAuth(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 2)
	e.setup("space1", "audit", 1)
	hub := "/namespaces/space1/eventhubs/orders"
	sendKey := e.ruleKey("space1", "", "sender", "Send")
	tok := func(resource, rule, key string, ttl time.Duration) string {
		return auth.NewSASToken(resource, rule, key, time.Now().Add(ttl))
	}
	valid := tok("sb://space1/", "sender", sendKey, time.Hour)
	e.must(201, e.do("POST", hub+"/messages", valid, `{"body":"signed"}`))

	// Send only: no receive, no management.
	r := e.must(403, e.do("GET", hub+"/partitions/0/messages", valid, nil))
	if !strings.Contains(r.message(), `"sender"`) || !strings.Contains(r.message(), "Listen") {
		t.Fatalf("403 message %q", r.message())
	}
	e.must(403, e.do("PUT", hub+"/consumergroups/g1", valid, nil))

	r = e.must(401, e.do("POST", hub+"/messages", tok("sb://space1/", "sender", "bm90IHRoZSBrZXk=", time.Hour), `{"body":"x"}`))
	if !strings.Contains(r.message(), `rule "sender"`) || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("bad signature: %s %v", r.raw, r.header)
	}
	r = e.must(401, e.do("POST", hub+"/messages", tok("sb://space1/", "sender", sendKey, -time.Minute), `{"body":"x"}`))
	if !strings.Contains(r.message(), "expired") {
		t.Fatalf("expired token: %s", r.raw)
	}
	e.must(401, e.do("POST", hub+"/messages", "", `{"body":"x"}`))
	e.must(401, e.do("POST", hub+"/messages", "Bearer abc", `{"body":"x"}`))
	e.must(401, e.do("POST", hub+"/messages", "TandemKey wrong", `{"body":"x"}`))
	e.must(401, e.do("GET", hub, "SharedAccessSignature sr=garbage", nil))

	// A token for hub orders cannot read hub audit.
	listenKey := e.ruleKey("space1", "orders", "reader", "Listen")
	hubTok := tok("sb://space1/orders", "reader", listenKey, time.Hour)
	e.must(200, e.do("GET", hub+"/partitions/0/messages", hubTok, nil))
	r = e.do("GET", "/namespaces/space1/eventhubs/audit/partitions/0/messages", hubTok, nil)
	if r.status != 403 && r.status != 404 {
		t.Fatalf("hub-scoped token on another hub: %d %s", r.status, r.raw)
	}
	e.must(403, e.do("GET", "/namespaces/space1", hubTok, nil))

	// Manage on the namespace manages hubs, but cannot create or delete namespaces.
	root := e.must(200, e.do("POST", "/namespaces/space1/authorizationRules/RootManageSharedAccessKey/listKeys", e.admin, nil))
	mgr := tok("sb://space1/", "RootManageSharedAccessKey", root.json["primaryKey"].(string), time.Hour)
	e.must(201, e.do("PUT", "/namespaces/space1/eventhubs/new", mgr, nil))
	e.must(200, e.do("PUT", "/namespaces/space1", mgr, nil))
	e.must(403, e.do("DELETE", "/namespaces/space1", mgr, nil))
	e.must(403, e.do("GET", "/namespaces", mgr, nil))
}

func TestDevMode(t *testing.T) {
	e := newEnv(t, true)
	e.must(201, e.do("PUT", "/namespaces/default/eventhubs/orders", "", `{"properties":{"partitionCount":1}}`))
	e.must(201, e.do("POST", "/namespaces/default/eventhubs/orders/messages", "", `{"body":"anon"}`))
	r := e.must(200, e.do("GET", "/namespaces/default/eventhubs/orders/partitions/0/messages", "", nil))
	if !strings.Contains(string(r.raw), "anon") {
		t.Fatalf("receive %s", r.raw)
	}
	r = e.must(200, e.do("GET", "/namespaces", "", nil))
	if v := r.json["value"].([]any); len(v) != 1 || v[0].(map[string]any)["name"] != "default" {
		t.Fatalf("anonymous list %s", r.raw)
	}
	e.must(201, e.do("PUT", "/namespaces/space2", e.admin, nil))
	r = e.must(401, e.do("GET", "/namespaces/space2", "", nil))
	if !strings.Contains(r.message(), `only for namespace "default"`) {
		t.Fatalf("anonymous outside default: %s", r.raw)
	}
	e.must(401, e.do("PUT", "/namespaces/space3", "", nil))
	// Bad credentials are refused even in dev mode.
	e.must(401, e.do("GET", "/namespaces/default", "TandemKey wrong", nil))
}
