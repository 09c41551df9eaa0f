package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSendReceiveRoundTrip(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 4)
	hub := "/namespaces/space1/eventhubs/orders"
	r := e.must(201, e.do("POST", hub+"/messages", e.admin,
		`[{"body":{"id": 1, "tag":"<a&b>"},"partitionKey":"cust-7","properties":{"kind":"order","n":3}},
		  {"body":"plain text","partitionKey":"cust-7"},
		  {"body":"\"quoted\"","partitionKey":"cust-7"},
		  {"body":"/w==","bodyEncoding":"base64","partitionKey":"cust-7"}]`))
	placed := r.json["events"].([]any)
	if len(placed) != 4 {
		t.Fatalf("placements %s", r.raw)
	}
	p0 := placed[0].(map[string]any)
	part := int(p0["partitionId"].(float64))
	for i, p := range placed {
		pm := p.(map[string]any)
		if int(pm["partitionId"].(float64)) != part || pm["offset"] != float64(i) || pm["sequenceNumber"] != float64(i) || pm["enqueuedTime"] == "" {
			t.Fatalf("event %d placed at %v; events with one key go to one partition in order", i, pm)
		}
	}
	r = e.must(200, e.do("GET", fmt.Sprintf("%s/partitions/%d/messages?from=start&max=10", hub, part), e.admin, nil))
	var page struct {
		Events []struct {
			Body         json.RawMessage   `json:"body"`
			BodyEncoding string            `json:"bodyEncoding"`
			PartitionKey string            `json:"partitionKey"`
			Properties   map[string]string `json:"properties"`
			Offset       int64             `json:"offset"`
			PartitionID  int32             `json:"partitionId"`
			EnqueuedTime time.Time         `json:"enqueuedTime"`
		} `json:"events"`
		NextOffset int64 `json:"nextOffset"`
	}
	if err := json.Unmarshal(r.raw, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 4 || page.NextOffset != 4 {
		t.Fatalf("received %s", r.raw)
	}
	wantBodies := []string{`{"id": 1, "tag":"<a&b>"}`, `"plain text"`, `"\"quoted\""`, `"/w=="`}
	for i, ev := range page.Events {
		if string(ev.Body) != wantBodies[i] && i != 0 {
			t.Errorf("event %d body %s, want %s", i, ev.Body, wantBodies[i])
		}
		if ev.PartitionKey != "cust-7" || int(ev.PartitionID) != part || ev.Offset != int64(i) || ev.EnqueuedTime.IsZero() {
			t.Errorf("event %d system properties %+v", i, ev)
		}
	}
	// The object body was not compact, so it comes back as the string of its exact bytes.
	var body0 string
	if err := json.Unmarshal(page.Events[0].Body, &body0); err != nil || body0 != `{"id": 1, "tag":"<a&b>"}` {
		t.Errorf("event 0 body %s: exact bytes not kept", page.Events[0].Body)
	}
	if p := page.Events[0].Properties; p["kind"] != "order" || p["n"] != "3" {
		t.Errorf("properties %v", p)
	}
	if page.Events[3].BodyEncoding != "base64" {
		t.Errorf("binary body came back without base64 encoding: %s", page.Events[3].Body)
	}
	// A compact JSON body comes back as JSON.
	e.must(201, e.do("POST", hub+"/partitions/1/messages", e.admin, `{"body":{"a":[1,2]}}`))
	r = e.must(200, e.do("GET", hub+"/partitions/1/messages?from=start", e.admin, nil))
	if !strings.Contains(string(r.raw), `"body":{"a":[1,2]}`) {
		t.Fatalf("compact JSON body not returned as JSON: %s", r.raw)
	}
}

func TestReceivePositions(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 1)
	hub := "/namespaces/space1/eventhubs/orders"
	send := func(n int) time.Time {
		var evs []string
		for i := 0; i < n; i++ {
			evs = append(evs, fmt.Sprintf(`{"body":"e%d"}`, i))
		}
		r := e.must(201, e.do("POST", hub+"/messages?partitionId=0", e.admin, "["+strings.Join(evs, ",")+"]"))
		ts, _ := time.Parse(time.RFC3339Nano, r.json["events"].([]any)[0].(map[string]any)["enqueuedTime"].(string))
		return ts
	}
	send(3)
	e.clock.Advance(time.Second)
	t2 := send(2)
	recv := func(q string) (int, float64) {
		r := e.must(200, e.do("GET", hub+"/partitions/0/messages?"+q, e.admin, nil))
		evs := r.json["events"].([]any)
		first := -1.0
		if len(evs) > 0 {
			first = evs[0].(map[string]any)["offset"].(float64)
		}
		return len(evs), first
	}
	for _, tc := range []struct {
		q     string
		n     int
		first float64
	}{
		{"from=start", 5, 0},
		{"from=end", 0, -1},
		{"from=offset:2", 3, 2},
		{"from=seq:4", 1, 4},
		{"from=offset:1&max=2", 2, 1},
		{"from=time:" + t2.Format(time.RFC3339Nano), 2, 3},
	} {
		if n, first := recv(tc.q); n != tc.n || first != tc.first {
			t.Errorf("%s: %d events from offset %v, want %d from %v", tc.q, n, first, tc.n, tc.first)
		}
	}
	r := e.must(200, e.do("GET", hub+"/partitions/0/messages?from=end", e.admin, nil))
	if r.json["nextOffset"] != 5.0 {
		t.Errorf("from=end nextOffset %v, want 5", r.json["nextOffset"])
	}
	for _, q := range []string{"from=middle", "from=offset:x", "max=0", "wait=forever", "from=time:yesterday"} {
		r := e.must(400, e.do("GET", hub+"/partitions/0/messages?"+q, e.admin, nil))
		if r.code() != "InvalidArgument" {
			t.Errorf("%s: code %s", q, r.code())
		}
	}
	r = e.do("GET", hub+"/partitions/0/messages?from=offset:99", e.admin, nil)
	if r.code() != "OffsetOutOfRange" {
		t.Errorf("offset past the end: %d %s", r.status, r.raw)
	}
}

func TestLongPollWokenBySend(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 1)
	hub := "/namespaces/space1/eventhubs/orders"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan response, 1)
	go func() {
		got <- e.doCtx(ctx, "GET", hub+"/partitions/0/messages?from=offset:0&wait=25s", e.admin, nil)
	}()
	// The receive may start before or after the send; either way it answers with the event
	// as soon as there is one, well before its 25 s wait.
	e.must(201, e.do("POST", hub+"/messages", e.admin, `{"body":"wake up"}`))
	r := <-got
	if r.status != 200 || !strings.Contains(string(r.raw), "wake up") {
		t.Fatalf("long poll answered %d %s", r.status, r.raw)
	}
	if ctx.Err() != nil {
		t.Fatal("long poll ran into its context deadline")
	}
}

func TestSendErrors(t *testing.T) {
	e := newEnv(t, false)
	e.must(201, e.do("PUT", "/namespaces/space1", e.admin, nil))
	e.must(201, e.do("PUT", "/namespaces/space1/eventhubs/small", e.admin, `{"properties":{"partitionCount":2,"maxEventBytes":1024}}`))
	hub := "/namespaces/space1/eventhubs/small"
	r := e.must(413, e.do("POST", hub+"/messages", e.admin, map[string]any{"body": strings.Repeat("x", 2000)}))
	if r.code() != "MessageTooLarge" || !strings.Contains(r.message(), "1024") {
		t.Fatalf("oversized event: %s", r.raw)
	}
	big := `{"body":"` + strings.Repeat("y", int(DefaultDataLimits.MaxSendBytes)) + `"}`
	r = e.must(413, e.do("POST", hub+"/messages", e.admin, big))
	if r.code() != "MessageTooLarge" {
		t.Fatalf("oversized request: %s", r.raw)
	}
	r = e.must(404, e.do("POST", "/namespaces/space1/eventhubs/nohub/messages", e.admin, `{"body":"x"}`))
	if r.code() != "NotFound" {
		t.Fatalf("unknown hub: %s", r.raw)
	}
	for _, path := range []string{hub + "/partitions/7/messages", hub + "/partitions/-1/messages", hub + "/messages?partitionId=two"} {
		r = e.must(404, e.do("POST", path, e.admin, `{"body":"x"}`))
		if r.code() != "PartitionNotFound" || !strings.Contains(r.message(), "partitions 0 to 1") {
			t.Fatalf("%s: %s", path, r.raw)
		}
	}
	r = e.must(404, e.do("GET", hub+"/partitions/9/messages", e.admin, nil))
	if !strings.Contains(r.message(), "partitions 0 to 1") {
		t.Fatalf("bad receive partition: %s", r.raw)
	}
	for body, want := range map[string]string{
		`{"partitionKey":"k"}`:                   `no "body"`,
		`[]`:                                     "no events",
		`{"body":"x",`:                           "JSON",
		`{"body":"x","partitionKey":5}`:          "partitionKey",
		`{"body":"%%%","bodyEncoding":"base64"}`: "base64",
		`{"body":"x","bodyEncoding":"rot13"}`:    "rot13",
		``:                                       "empty",
		`[{"body":"ok"},{"body":1,"properties":3}]`: "properties",
	} {
		r = e.must(400, e.do("POST", hub+"/messages", e.admin, body))
		if !strings.Contains(r.message(), want) {
			t.Errorf("body %q: message %q does not mention %q", body, r.message(), want)
		}
	}
}

func TestCheckpoints(t *testing.T) {
	e := newEnv(t, false)
	e.setup("space1", "orders", 2)
	base := "/namespaces/space1/eventhubs/orders/consumergroups/$Default/checkpoints"
	r := e.must(200, e.do("GET", base, e.admin, nil))
	if len(r.json["value"].([]any)) != 0 {
		t.Fatalf("fresh group has checkpoints: %s", r.raw)
	}
	e.must(404, e.do("GET", base+"/1", e.admin, nil))
	r = e.must(200, e.do("PUT", base+"/1", e.admin, `{"offset":0,"metadata":"m1"}`))
	if r.json["offset"] != 0.0 || r.json["metadata"] != "m1" || r.json["partitionId"] != 1.0 {
		t.Fatalf("stored checkpoint %s", r.raw)
	}
	r = e.must(200, e.do("GET", base+"/1", e.admin, nil))
	if r.json["metadata"] != "m1" || r.json["commitTime"] == nil {
		t.Fatalf("checkpoint %s", r.raw)
	}
	r = e.must(200, e.do("GET", base, e.admin, nil))
	if len(r.json["value"].([]any)) != 1 {
		t.Fatalf("checkpoints %s", r.raw)
	}
	e.must(400, e.do("PUT", base+"/1", e.admin, `{"metadata":"no offset"}`))
	e.must(404, e.do("PUT", base+"/5", e.admin, `{"offset":0}`))
	e.must(404, e.do("GET", "/namespaces/space1/eventhubs/orders/consumergroups/nogroup/checkpoints", e.admin, nil))
}
