package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// doHeader is env.do with request headers (name, value, …) and a string body.
func (e *env) doHeader(method, path, authz, body string, header ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", authz)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.json)
	return r
}

func TestOwnershipClaims(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 4)
	base := "/namespaces/space1/eventhubs/orders/consumergroups/$Default/ownership"
	r := e.must(200, e.do("GET", base, e.admin, nil))
	if len(r.json["value"].([]any)) != 0 {
		t.Fatalf("fresh group has ownership: %s", r.raw)
	}
	e.must(404, e.do("GET", base+"/1", e.admin, nil))

	// A claim needs a condition.
	r = e.must(400, e.doHeader("PUT", base+"/1", e.admin, `{"ownerId":"a"}`))
	if !strings.Contains(r.message(), "If-None-Match: *") {
		t.Fatalf("message %q does not say how to claim", r.message())
	}
	// A first claim; a second first claim is 412.
	r = e.must(200, e.doHeader("PUT", base+"/1", e.admin, `{"ownerId":"a"}`, "If-None-Match", "*"))
	etag := r.json["etag"].(string)
	if r.json["ownerId"] != "a" || r.header.Get("ETag") != `"`+etag+`"` || r.json["lastModifiedTime"] == nil {
		t.Fatalf("claim %s (ETag header %q)", r.raw, r.header.Get("ETag"))
	}
	r = e.must(412, e.doHeader("PUT", base+"/1", e.admin, `{"ownerId":"b"}`, "If-None-Match", "*"))
	if r.code() != "PreconditionFailed" {
		t.Fatalf("code %q", r.code())
	}
	// A takeover with a stale ETag is 412; with the current one (quoted, as HTTP sends it) it wins.
	e.must(412, e.doHeader("PUT", base+"/1", e.admin, `{"ownerId":"b"}`, "If-Match", `"stale"`))
	e.clock.Advance(time.Minute)
	r = e.must(200, e.doHeader("PUT", base+"/1", e.admin, `{"ownerId":"b"}`, "If-Match", `"`+etag+`"`))
	if r.json["ownerId"] != "b" || r.json["etag"] == etag {
		t.Fatalf("takeover %s", r.raw)
	}
	etag = r.json["etag"].(string)
	r = e.must(200, e.do("GET", base+"/1", e.admin, nil))
	if r.json["ownerId"] != "b" || r.json["etag"] != etag || r.header.Get("ETag") != `"`+etag+`"` {
		t.Fatalf("ownership %s", r.raw)
	}

	// Many claims at once: the stale one is left out, the others win.
	r = e.must(200, e.do("POST", base, e.admin, `{"claims":[{"partitionId":0,"ownerId":"c"},{"partitionId":1,"ownerId":"c","etag":"stale"},{"partitionId":2,"ownerId":"c"}]}`))
	won := r.json["value"].([]any)
	if len(won) != 2 || won[0].(map[string]any)["partitionId"] != 0.0 || won[1].(map[string]any)["partitionId"] != 2.0 {
		t.Fatalf("claimed %s", r.raw)
	}
	r = e.must(200, e.do("GET", base, e.admin, nil))
	if v := r.json["value"].([]any); len(v) != 3 || v[1].(map[string]any)["ownerId"] != "b" {
		t.Fatalf("ownership %s", r.raw)
	}

	// Bad input.
	e.must(404, e.doHeader("PUT", base+"/9", e.admin, `{"ownerId":"a"}`, "If-None-Match", "*"))
	e.must(404, e.do("POST", base, e.admin, `{"claims":[{"partitionId":9,"ownerId":"c"}]}`))
	e.must(400, e.do("POST", base, e.admin, `{"claims":[{"ownerId":"c"}]}`))
	e.must(400, e.do("POST", base, e.admin, `{"claims":[]}`))
	e.must(400, e.doHeader("PUT", base+"/1", e.admin, `{}`, "If-Match", "*"))
	e.must(404, e.do("GET", "/namespaces/space1/eventhubs/orders/consumergroups/nogroup/ownership", e.admin, nil))

	// Listen suffices; Send does not.
	listen := auth.NewSASToken("sb://space1/", "listener", e.ruleKey("space1", "", "listener", "Listen"), time.Now().Add(time.Hour))
	e.must(200, e.do("GET", base, listen, nil))
	send := auth.NewSASToken("sb://space1/", "sender", e.ruleKey("space1", "", "sender", "Send"), time.Now().Add(time.Hour))
	e.must(403, e.do("GET", base, send, nil))
	e.must(403, e.do("POST", base, send, `{"claims":[{"partitionId":3,"ownerId":"s"}]}`))

	// Deleting the group drops its ownership.
	e.must(201, e.do("PUT", "/namespaces/space1/eventhubs/orders/consumergroups/billing", e.admin, `{}`))
	gbase := "/namespaces/space1/eventhubs/orders/consumergroups/billing/ownership"
	e.must(200, e.doHeader("PUT", gbase+"/0", e.admin, `{"ownerId":"a"}`, "If-None-Match", "*"))
	e.must(200, e.do("DELETE", "/namespaces/space1/eventhubs/orders/consumergroups/billing", e.admin, nil))
	e.must(201, e.do("PUT", "/namespaces/space1/eventhubs/orders/consumergroups/billing", e.admin, `{}`))
	if r := e.must(200, e.do("GET", gbase, e.admin, nil)); len(r.json["value"].([]any)) != 0 {
		t.Fatalf("a recreated group has its predecessor's ownership: %s", r.raw)
	}
}

// TestOwnershipRace: clients racing to take a partition with the same ETag: exactly one wins,
// the others get 412, round after round.
func TestOwnershipRace(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 2)
	path := "/namespaces/space1/eventhubs/orders/consumergroups/$Default/ownership/1"
	cond := []string{"If-None-Match", "*"}
	for round := range 8 {
		const racers = 5
		answers := make([]response, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = e.doHeader("PUT", path, e.admin, `{"ownerId":"racer"}`, cond...)
			}()
		}
		wg.Wait()
		var winner string
		for i, a := range answers {
			switch a.status {
			case 200:
				if winner != "" {
					t.Fatalf("round %d: two winners", round)
				}
				winner = a.json["etag"].(string)
			case 412:
			default:
				t.Fatalf("round %d racer %d: %d %s", round, i, a.status, a.raw)
			}
		}
		if winner == "" {
			t.Fatalf("round %d: nobody won (%v)", round, cond)
		}
		cond = []string{"If-Match", `"` + winner + `"`}
	}
}
