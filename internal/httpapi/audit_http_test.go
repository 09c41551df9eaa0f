package httpapi

// Regression tests for the HTTP findings of the December 2026 security audit
// (../shared/audits/security-2026-12.md): H2 and M7 (timeouts, connection limit), H8
// (receive amplification), M1(b) (send amplification), M3 (browser requests against --dev),
// L1 (/metrics) and L5 (metadata seen with Send or Listen).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
)

var fromStart = broker.Position{Kind: broker.FromStart}

// plantZstd appends batches zstd batches of perBatch records of size bytes each (highly
// compressible, as in the audit) to partition 0 of ns/hub, as a Kafka producer would.
func plantZstd(t *testing.T, e *env, ns, hub string, batches, perBatch, size int) {
	t.Helper()
	value := []byte(strings.Repeat("A", size))
	for range batches {
		recs := make([]batch.Record, perBatch)
		for i := range recs {
			recs[i] = batch.Record{Value: value}
		}
		raw := batch.Build(recs, batch.BuildOptions{Compression: batch.Zstd, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
			Timestamp: time.Now().UnixMilli()})
		if _, _, err := e.b.Append(ns, hub, 0, raw); err != nil {
			t.Fatal(err)
		}
	}
}

// receivePage is the answer of a receive.
type receivePage struct {
	Events []struct {
		Body   json.RawMessage `json:"body"`
		Offset int64           `json:"offset"`
	} `json:"events"`
	NextOffset int64 `json:"nextOffset"`
}

func TestAuditH8_ReceiveBoundedByBytesAfterDecompression(t *testing.T) {
	const budget = 1 << 20
	e := newEnvWith(t, Options{Limits: DataLimits{MaxReceiveBytes: budget}})
	e.setup("shop-eu1", "zb", 1)
	e.must(200, e.do("PUT", "/namespaces/shop-eu1/eventhubs/zb", e.admin, `{"properties":{"maxEventBytes":2097152}}`))
	// The audit's shape at a tenth of the record size: zstd batches of 100 KB records, 2
	// batches × 250 records (50 MB once decompressed, a few KB on disk).
	plantZstd(t, e, "shop-eu1", "zb", 2, 250, 100_000)
	listen := auth.NewSASToken("sb://shop-eu1/", "nslisten", e.ruleKey("shop-eu1", "", "nslisten", "Listen"), time.Now().Add(time.Hour))
	path := "/namespaces/shop-eu1/eventhubs/zb/partitions/0/messages?from=start&max=500"

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := e.must(200, e.do("GET", path, listen, nil))
	runtime.ReadMemStats(&after)
	var page receivePage
	if err := json.Unmarshal(r.raw, &page); err != nil {
		t.Fatal(err)
	}
	// The budget holds 10 events of 100 KB; the 11th would pass it.
	if n := len(page.Events); n == 0 || n > budget/100_000 {
		t.Fatalf("receive of max=500 returned %d events of 100 KB, want 1 to %d (the %d-byte budget)", n, budget/100_000, budget)
	}
	if len(r.raw) > 2*budget {
		t.Fatalf("answer of %d bytes exceeds twice the %d-byte budget", len(r.raw), budget)
	}
	// Without the bound the request decoded all 50 MB and buffered the JSON answer on top;
	// decoding a whole 25 MB batch to use 1 MB of it would also fail this. What remains is
	// the zstd window (8 MiB here), the budget and the test client's copy of the answer.
	t.Logf("one receive allocated %.1f MB", float64(after.TotalAlloc-before.TotalAlloc)/(1<<20))
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 22<<20 {
		t.Fatalf("one receive allocated %d MB, want about the 1 MiB budget plus the 8 MiB zstd window", alloc>>20)
	}
	// Nothing is lost: pages continue from nextOffset to the end.
	total, next := len(page.Events), page.NextOffset
	for next < 500 {
		r := e.must(200, e.do("GET", fmt.Sprintf("/namespaces/shop-eu1/eventhubs/zb/partitions/0/messages?from=offset:%d&max=500", next), listen, nil))
		var p receivePage
		if err := json.Unmarshal(r.raw, &p); err != nil || len(p.Events) == 0 || p.Events[0].Offset != next {
			t.Fatalf("page at %d: %v %s", next, err, r.raw[:min(len(r.raw), 200)])
		}
		total, next = total+len(p.Events), p.NextOffset
	}
	if total != 500 {
		t.Fatalf("read %d events in pages, want 500", total)
	}
}

func TestAuditH8_EventLargerThanBudgetIsReturnedAlone(t *testing.T) {
	e := newEnvWith(t, Options{Limits: DataLimits{MaxReceiveBytes: 64 << 10}})
	e.setup("shop-eu1", "big", 1)
	plantZstd(t, e, "shop-eu1", "big", 1, 3, 200_000)
	r := e.must(200, e.do("GET", "/namespaces/shop-eu1/eventhubs/big/partitions/0/messages?from=start&max=10", e.admin, nil))
	var page receivePage
	if err := json.Unmarshal(r.raw, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.NextOffset != 1 || len(page.Events[0].Body) < 200_000 {
		t.Fatalf("got %d events, next %d; want the one 200 KB event that passes the 64 KiB budget", len(page.Events), page.NextOffset)
	}
}

func TestAuditH8_ConcurrentReceivesCapped(t *testing.T) {
	e := newEnvWith(t, Options{Limits: DataLimits{MaxReceives: 1}})
	e.setup("shop-eu1", "orders", 1)
	e.must(201, e.do("POST", "/namespaces/shop-eu1/eventhubs/orders/messages", e.admin, `{"body":"x"}`))
	s := e.srv.Config.Handler.(*Server)
	s.slotWait = 50 * time.Millisecond
	s.receives <- struct{}{} // a receive holds the only slot
	r := e.must(503, e.do("GET", "/namespaces/shop-eu1/eventhubs/orders/partitions/0/messages", e.admin, nil))
	if r.code() != "Unavailable" || !strings.Contains(r.message(), "1 receives") {
		t.Fatalf("receive over the limit: %s", r.raw)
	}
	<-s.receives
	e.must(200, e.do("GET", "/namespaces/shop-eu1/eventhubs/orders/partitions/0/messages", e.admin, nil))
}

func TestAuditM1b_SendEventCountCapped(t *testing.T) {
	const limit = 1000
	e := newEnvWith(t, Options{Limits: DataLimits{MaxSendEvents: limit}})
	e.setup("shop-eu1", "orders", 2)
	sendKey := e.ruleKey("shop-eu1", "orders", "sender", "Send")
	send := auth.NewSASToken("sb://shop-eu1/orders", "sender", sendKey, time.Now().Add(time.Hour))
	hub := "/namespaces/shop-eu1/eventhubs/orders/messages"

	// The audit's body: many {"body":0} events (here 500,000, 5.5 MB).
	body := "[" + strings.Repeat(`{"body":0},`, 500_000) + `{"body":0}]`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := e.must(413, e.do("POST", hub, send, body))
	runtime.ReadMemStats(&after)
	if r.code() != "MessageTooLarge" || !strings.Contains(r.message(), "1000 events") {
		t.Fatalf("oversized send: %s", r.raw)
	}
	// Refused at event 1001: nowhere near the 40× expansion of decoding all 500,000.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40<<20 {
		t.Fatalf("refusing the send allocated %d MB", alloc>>20)
	}
	if h, _ := e.b.Hub("shop-eu1", "orders"); h.Name == "" {
		t.Fatal("hub gone")
	}
	for p := range 2 {
		if evs, _, _ := e.b.Receive(context.Background(), "shop-eu1", "orders", int32(p), fromStart, 10, 0); len(evs) != 0 {
			t.Fatalf("partition %d holds %d events of a refused send", p, len(evs))
		}
	}
	// Exactly the limit is accepted.
	r = e.must(201, e.do("POST", hub, send, "["+strings.Repeat(`{"body":0},`, limit-1)+`{"body":0}]`))
	if n := len(r.json["events"].([]any)); n != limit {
		t.Fatalf("%d placements, want %d", n, limit)
	}
}

func TestAuditM3_BrowserRequestsRefusedInDev(t *testing.T) {
	e := newEnvWith(t, Options{Dev: true, AllowedHosts: HostCheck(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, true, "tandem.test")})
	e.setup("default", "orders", 1)
	send := e.srv.URL + "/namespaces/default/eventhubs/orders/messages"
	post := func(host, origin, ctype string) response {
		req, _ := http.NewRequest("POST", send, strings.NewReader(`{"body":"x"}`))
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		r := response{status: resp.StatusCode, raw: raw}
		json.Unmarshal(raw, &r.json)
		return r
	}
	port := e.srv.Listener.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		name, host, origin, ctype string
		status                    int
		says                      string
	}{
		{"DNS rebinding", fmt.Sprintf("evil.example:%d", port), "", "application/json", 403, "not a name of this node"},
		{"cross-site origin", "", "http://evil.example", "application/json", 403, "cross-site"},
		{"opaque origin", "", "null", "application/json", 403, "cross-site"},
		{"text/plain CSRF", "", "", "text/plain", 400, "Content-Type"},
		{"form CSRF", "", "", "application/x-www-form-urlencoded", 400, "Content-Type"},
		{"no content type", "", "", "", 400, "Content-Type"},
		{"JSON", "", "", "application/json; charset=utf-8", 201, ""},
		{"Event Hubs REST JSON", "", "", "application/vnd.microsoft.servicebus.json", 201, ""},
		{"same origin", "", e.srv.URL, "application/json", 201, ""},
		{"localhost", fmt.Sprintf("localhost:%d", port), "", "application/json", 201, ""},
		{"advertised name", fmt.Sprintf("tandem.test:%d", port), "", "application/json", 201, ""},
	} {
		r := post(tc.host, tc.origin, tc.ctype)
		if r.status != tc.status || !strings.Contains(r.message(), tc.says) {
			t.Errorf("%s: HTTP %d %s, want %d %q", tc.name, r.status, r.raw, tc.status, tc.says)
		}
	}
	// Reads through a rebinding name are refused too (/metrics is open in dev).
	req, _ := http.NewRequest("GET", e.srv.URL+"/metrics", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("GET /metrics with Host evil.example: HTTP %d, want 403", resp.StatusCode)
	}
	// The Go client SDK (what the CLI uses) still works.
	c, err := client.New(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), "default", "orders", []client.Event{{Body: []byte("sdk")}}, client.SendOptions{}); err != nil {
		t.Fatalf("client SDK send: %v", err)
	}
}

// limitedServer serves e's API through NewHTTPServer with l, on a listener limited to
// l.MaxConns connections.
func limitedServer(t *testing.T, e *env, l ConnLimits) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = NewHTTPServer(e.srv.Config.Handler, l, quiet)
	ts.Listener = LimitListener(ts.Listener, l.MaxConns)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// dial opens a raw connection to ts.
func dial(t *testing.T, ts *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c (after any answer) within d, and the
// answer's first line.
func closedWithin(c net.Conn, d time.Duration) (bool, string) {
	c.SetReadDeadline(time.Now().Add(d))
	br := bufio.NewReader(c)
	first, _ := br.ReadString('\n')
	_, err := io.Copy(io.Discard, br)
	ne, ok := err.(net.Error)
	return err == nil || !(ok && ne.Timeout()), strings.TrimSpace(first)
}

func TestAuditM7_RefusedRequestDoesNotWaitForItsBody(t *testing.T) {
	e := newEnv(t, false)
	e.setup("shop-eu1", "orders", 1)
	c := dial(t, e.srv)
	// A bad admin key and a body that never comes: Go would read the body before answering.
	fmt.Fprintf(c, "POST /namespaces/shop-eu1/eventhubs/orders/messages HTTP/1.1\r\nHost: x\r\nAuthorization: TandemKey bad\r\n"+
		"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	closed, status := closedWithin(c, 30*time.Second)
	if !closed || !strings.Contains(status, "401") {
		t.Fatalf("answer %q, closed %v; want a 401 and the connection closed without the body", status, closed)
	}
}

func TestAuditM7_TrickledBodyIsCutOff(t *testing.T) {
	e := newEnv(t, false)
	e.setup("shop-eu1", "orders", 1)
	l := DefaultConnLimits
	l.ReadTimeout = time.Second
	ts := limitedServer(t, e, l)
	c := dial(t, ts)
	fmt.Fprintf(c, "POST /namespaces/shop-eu1/eventhubs/orders/messages HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n", e.admin)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 200 ms: the body would take 200 s
		for range 1000 {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	if closed, status := closedWithin(c, 60*time.Second); !closed {
		t.Fatalf("trickled body still open after 60 s (answer %q); want it cut at the 1 s read timeout", status)
	}
}

func TestAuditM7_IdleConnectionClosed(t *testing.T) {
	e := newEnv(t, false)
	l := DefaultConnLimits
	l.IdleTimeout = time.Second
	ts := limitedServer(t, e, l)
	c := dial(t, ts)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if closed, status := closedWithin(c, 60*time.Second); !closed || !strings.Contains(status, "200") {
		t.Fatalf("keep-alive connection: answer %q, closed %v; want 200 and a close after the 1 s idle timeout", status, closed)
	}
}

func TestAuditM7_LongPollOutlivesReadAndWriteTimeouts(t *testing.T) {
	e := newEnv(t, false)
	e.setup("shop-eu1", "orders", 1)
	l := DefaultConnLimits
	l.ReadTimeout, l.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	ts := limitedServer(t, e, l)
	req, _ := http.NewRequest("GET", ts.URL+"/namespaces/shop-eu1/eventhubs/orders/partitions/0/messages?from=end&wait=3s", nil)
	req.Header.Set("Authorization", e.admin)
	start := time.Now()
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"events":[]`) || time.Since(start) < 3*time.Second {
		t.Fatalf("long-poll after %v: HTTP %d %s; want an empty page after the 3 s wait", time.Since(start), resp.StatusCode, raw)
	}
}

func TestAuditH2_HTTPConnectionsLimited(t *testing.T) {
	e := newEnv(t, false)
	l := DefaultConnLimits
	l.MaxConns = 2
	ts := limitedServer(t, e, l)
	idle := []net.Conn{dial(t, ts), dial(t, ts)}
	for _, c := range idle { // both accepted and served
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.Contains(line, "200") {
			t.Fatalf("connection within the limit: %q", line)
		}
	}
	third := &http.Client{Timeout: 500 * time.Millisecond}
	if resp, err := third.Get(ts.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were open; want it to wait")
	}
	idle[0].Close()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		var resp *http.Response
		if resp, err = (&http.Client{Timeout: 5 * time.Second}).Get(ts.URL + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("no connection served after one of the two closed: %v", err)
}

func TestAuditL1_MetricsNeedAdminKeyAndForgetDeletedHubs(t *testing.T) {
	e := newEnv(t, false)
	e.setup("gone-ns", "gone-hub", 1)
	e.setup("kept-ns", "kept-hub", 1)
	for _, h := range []string{"/namespaces/gone-ns/eventhubs/gone-hub", "/namespaces/kept-ns/eventhubs/kept-hub"} {
		e.must(201, e.do("POST", h+"/messages", e.admin, `{"body":"x"}`))
		e.must(200, e.do("GET", h+"/partitions/0/messages", e.admin, nil))
	}
	r := e.must(401, e.do("GET", "/metrics", "", nil))
	if !strings.Contains(r.message(), "admin key") || strings.Contains(string(r.raw), "gone-hub") {
		t.Fatalf("anonymous /metrics: %s", r.raw)
	}
	ns := e.ruleKey("kept-ns", "", "reader", "Listen", "Send", "Manage")
	e.must(401, e.do("GET", "/metrics", auth.NewSASToken("sb://kept-ns/", "reader", ns, time.Now().Add(time.Hour)), nil))
	metrics := func() string { return string(e.must(200, e.do("GET", "/metrics", e.admin, nil)).raw) }
	if m := metrics(); !strings.Contains(m, `eventhub="gone-hub"`) || !strings.Contains(m, `eventhub="kept-hub"`) {
		t.Fatalf("metrics lack the hubs:\n%s", m)
	}
	e.must(200, e.do("DELETE", "/namespaces/gone-ns/eventhubs/gone-hub", e.admin, nil))
	if m := metrics(); strings.Contains(m, `eventhub="gone-hub"`) || !strings.Contains(m, `eventhub="kept-hub"`) {
		t.Fatalf("after deleting gone-hub:\n%s", m)
	}
	e.setup("gone-ns", "other", 1)
	e.must(201, e.do("POST", "/namespaces/gone-ns/eventhubs/other/messages", e.admin, `{"body":"x"}`))
	e.must(200, e.do("DELETE", "/namespaces/gone-ns", e.admin, nil))
	if m := metrics(); strings.Contains(m, `namespace="gone-ns"`) || !strings.Contains(m, `namespace="kept-ns"`) {
		t.Fatalf("after deleting namespace gone-ns:\n%s", m)
	}
}

func TestAuditL5_SendOrListenSeesNoNetworkRulesOrGroups(t *testing.T) {
	e := newEnv(t, false)
	e.must(201, e.do("PUT", "/namespaces/shop-eu1", e.admin,
		`{"properties":{"networkRuleSet":{"defaultAction":"Allow","ipRules":[{"ipMask":"10.1.2.0/24"}]}}}`))
	e.must(201, e.do("PUT", "/namespaces/shop-eu1/eventhubs/orders", e.admin, `{"properties":{"partitionCount":1}}`))
	e.must(201, e.do("PUT", "/namespaces/shop-eu1/eventhubs/orders/consumergroups/billing-secret", e.admin, nil))
	tok := func(rule string, rights ...string) string {
		return auth.NewSASToken("sb://shop-eu1/", rule, e.ruleKey("shop-eu1", "", rule, rights...), time.Now().Add(time.Hour))
	}
	send, listen, manage := tok("nssend", "Send"), tok("nslisten", "Listen"), tok("nsmanage", "Manage", "Listen", "Send")
	for _, tc := range []struct {
		name, authz string
		sees        bool
	}{{"Send", send, false}, {"Listen", listen, false}, {"Manage", manage, true}} {
		ns := string(e.must(200, e.do("GET", "/namespaces/shop-eu1", tc.authz, nil)).raw)
		hub := e.must(200, e.do("GET", "/namespaces/shop-eu1/eventhubs/orders", tc.authz, nil))
		if strings.Contains(ns, "10.1.2.0") != tc.sees || strings.Contains(string(hub.raw), "billing-secret") != tc.sees {
			t.Errorf("%s: sees network rules or group names = %v, want %v:\n%s\n%s", tc.name, !tc.sees, tc.sees, ns, hub.raw)
		}
		if ids := hub.json["properties"].(map[string]any)["partitionIds"]; ids == nil {
			t.Errorf("%s: the hub's partition ids are hidden: %s", tc.name, hub.raw)
		}
	}
	r := e.must(403, e.do("GET", "/namespaces/shop-eu1/eventhubs/orders/consumergroups/billing-secret", send, nil))
	if !strings.Contains(r.message(), "Listen") {
		t.Fatalf("Send-only reading a consumer group: %s", r.raw)
	}
	e.must(200, e.do("GET", "/namespaces/shop-eu1/eventhubs/orders/consumergroups/billing-secret", listen, nil))
}
