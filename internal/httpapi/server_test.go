package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tandem-streaming/tandem/internal/broker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a node's HTTP API on a real broker in a temporary directory.
type env struct {
	t     *testing.T
	clock *clock
	b     *broker.Broker
	srv   *httptest.Server
	admin string // Authorization header value of the admin key
}

func newEnv(t *testing.T, dev bool) *env {
	t.Helper()
	return newEnvWith(t, Options{Dev: dev})
}

// newEnvWith is newEnv with the API options opts (its Broker, Gatherer and Logger are set here).
func newEnvWith(t *testing.T, opts Options) *env {
	t.Helper()
	return newEnvBroker(t, opts, broker.Options{})
}

// newEnvBroker is newEnvWith on a broker opened with bopts (its directory, region, clock,
// registry, logger and dev flag are set here).
func newEnvBroker(t *testing.T, opts Options, bopts broker.Options) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	clk := &clock{}
	clk.now.Store(time.Now().UTC().Truncate(time.Millisecond).UnixNano())
	bopts.DataDir, bopts.Region, bopts.Dev, bopts.Registerer, bopts.Logger, bopts.Now = t.TempDir(), "test", opts.Dev, reg, quiet, clk.Now
	b, err := broker.Open(context.Background(), bopts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Broker, opts.Gatherer, opts.Logger = b, reg, quiet
	srv := httptest.NewServer(New(opts))
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	key, err := os.ReadFile(b.AdminKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, clock: clk, b: b, srv: srv, admin: "TandemKey " + strings.TrimSpace(string(key))}
}

// clock is the broker's clock: it stands still until a test advances it.
type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// response is an answer with its decoded JSON body.
type response struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

// code returns the error code of an error answer.
func (r response) code() string {
	e, _ := r.json["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r response) message() string {
	e, _ := r.json["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// do sends a request; body is a string, []byte or a value to encode as JSON.
func (e *env) do(method, path, authz string, body any) response {
	e.t.Helper()
	return e.doCtx(context.Background(), method, path, authz, body)
}

func (e *env) doCtx(ctx context.Context, method, path, authz string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
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

// must fails the test unless the answer has status want.
func (e *env) must(want int, r response) response {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("status %d, want %d: %s", r.status, want, r.raw)
	}
	return r
}

// setup creates namespace ns and hub with partitions as the admin.
func (e *env) setup(ns, hub string, partitions int) {
	e.t.Helper()
	if _, err := e.b.Namespace(ns); err != nil {
		e.must(201, e.do("PUT", "/namespaces/"+ns, e.admin, `{"sku":{"tier":"Standard"}}`))
	}
	e.must(201, e.do("PUT", "/namespaces/"+ns+"/eventhubs/"+hub, e.admin,
		map[string]any{"properties": map[string]any{"partitionCount": partitions}}))
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, false)
	r := e.must(200, e.do("GET", "/healthz", "", nil))
	if strings.TrimSpace(string(r.raw)) != "ok" {
		t.Fatalf("healthz body %q", r.raw)
	}
	e.do("GET", "/namespaces", "", nil) // an error to count
	// Without --dev, /metrics needs the admin key.
	r = e.must(200, e.do("GET", "/metrics", e.admin, nil))
	if !strings.Contains(string(r.raw), "Unauthorized") {
		t.Fatalf("metrics do not count the refused request:\n%s", r.raw)
	}
}

func TestNamespaceCRUD(t *testing.T) {
	e := newEnv(t, false)
	r := e.must(201, e.do("PUT", "/namespaces/orders-ns", e.admin,
		`{"sku":{"name":"Premium","tier":"Premium"},"properties":{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"ipMask":"10.0.0.0/8"}]}}}`))
	if sku := r.json["sku"].(map[string]any); sku["tier"] != "Premium" {
		t.Fatalf("sku %v", sku)
	}
	r = e.must(200, e.do("GET", "/namespaces/orders-ns", e.admin, nil))
	props := r.json["properties"].(map[string]any)
	rules := props["networkRuleSet"].(map[string]any)
	if rules["defaultAction"] != "Deny" || len(rules["ipRules"].([]any)) != 1 || props["createdAt"] == nil {
		t.Fatalf("namespace %s", r.raw)
	}
	if r.json["location"] != "test" {
		t.Fatalf("location %v", r.json["location"])
	}
	// PUT on an existing namespace updates it.
	r = e.must(200, e.do("PUT", "/namespaces/orders-ns", e.admin, `{"properties":{"networkRuleSet":{"defaultAction":"Allow","ipRules":[]}}}`))
	if d := r.json["properties"].(map[string]any)["networkRuleSet"].(map[string]any)["defaultAction"]; d != "Allow" {
		t.Fatalf("update did not apply: %s", r.raw)
	}
	r = e.must(200, e.do("GET", "/namespaces", e.admin, nil))
	if v := r.json["value"].([]any); len(v) != 1 {
		t.Fatalf("list %s", r.raw)
	}
	r = e.must(400, e.do("PUT", "/namespaces/orders-ns", e.admin, `{"name":"other"}`))
	if !strings.Contains(r.message(), "differs") {
		t.Fatalf("name mismatch message: %s", r.raw)
	}
	e.must(400, e.do("PUT", "/namespaces/orders-ns", e.admin, `{"sku":{"tier":"gold"}}`))
	e.must(200, e.do("DELETE", "/namespaces/orders-ns", e.admin, nil))
	r = e.must(404, e.do("GET", "/namespaces/orders-ns", e.admin, nil))
	if r.code() != "NotFound" {
		t.Fatalf("code %q", r.code())
	}
}
