package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/faultproxy"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// This file holds the geo-DR tests' helpers: a region (one `tandem serve --region` process,
// optionally behind a fault-injecting proxy that every other region reaches it through), its
// HTTP API called with the admin key, a pair of regions joined by an alias, and comparisons of
// the entities of two namespaces.

// region is one region's node with its admin key. When proxy is set, other regions reach the
// node's HTTP API only through it (--advertise-http), so cutting it cuts the link between regions.
type region struct {
	*node
	name  string
	key   string
	proxy *faultproxy.Proxy
	hc    *http.Client
}

// startRegion starts a region node with `tandem serve` flags extra. With behindProxy, the
// node's HTTP listener is put behind a faultproxy and advertised to other regions at the
// proxy's address.
func startRegion(t *testing.T, name string, behindProxy bool, extra ...string) *region {
	t.Helper()
	args := append([]string{"--region", name, "--alias-check-interval", "300ms"}, extra...)
	listen := nodeproc.Loopback()
	r := &region{name: name, hc: &http.Client{Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if behindProxy {
		httpAddr := freeAddr(t)
		p, err := faultproxy.New("127.0.0.1:0", httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() }) // after the node has stopped (cleanups run last first)
		r.proxy = p
		listen.HTTP = httpAddr
		args = append(args, "--advertise-http", "http://"+p.Addr())
	}
	dir := filepath.Join(t.TempDir(), name)
	r.node = startSpec(t, nodeproc.Spec{DataDir: dir, Listen: listen, Args: args})
	key, err := os.ReadFile(filepath.Join(dir, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	r.key = strings.TrimSpace(string(key))
	return r
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// endpoint is the URL other regions reach this region's HTTP API at.
func (r *region) endpoint() string {
	if r.proxy != nil {
		return "http://" + r.proxy.Addr()
	}
	return "http://" + r.HTTPAddr
}

// try sends a request with the admin key (or auth, when given) and returns the status and body.
// A body that is not a string or []byte is sent as JSON. It is safe from any goroutine.
func (r *region) try(method, path string, body any, auth ...string) (int, []byte, error) {
	status, data, _, err := r.tryURL(method, "http://"+r.HTTPAddr+path, body, auth...)
	return status, data, err
}

// tryURL is try for a full URL; it also returns the Location header (redirects are not
// followed).
func (r *region) tryURL(method, u string, body any, auth ...string) (int, []byte, string, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, "", err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, "", err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "TandemKey "+r.key)
	if len(auth) > 0 {
		req.Header.Set("Authorization", auth[0])
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header.Get("Location"), err
}

// call is try that fails the test on a transport error.
func (r *region) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	status, data, err := r.try(method, path, body)
	if err != nil {
		t.Fatalf("%s %s %s: %v", r.name, method, path, err)
	}
	return status, data
}

// must sends a request that must succeed (2xx) and decodes its answer into out when out is not nil.
func (r *region) must(t *testing.T, method, path string, body, out any) {
	t.Helper()
	status, data := r.call(t, method, path, body)
	if status/100 != 2 {
		t.Fatalf("%s %s %s: HTTP %d %s", r.name, method, path, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s %s: %v in %s", r.name, method, path, err, data)
		}
	}
}

// apiError is the body of an error answer.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// refused sends a request that must fail with status and returns the error's code and message.
func (r *region) refused(t *testing.T, status int, method, path string, body any) apiError {
	t.Helper()
	got, data := r.call(t, method, path, body)
	var e apiError
	json.Unmarshal(data, &e)
	if got != status || e.Error.Code == "" {
		t.Fatalf("%s %s %s: HTTP %d %s, want HTTP %d with an error body", r.name, method, path, got, data, status)
	}
	return e
}

// createNamespace creates namespace ns with the given namespace JSON body (nil for {}).
func (r *region) createNamespace(t *testing.T, ns string, body any) {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	r.must(t, "PUT", "/namespaces/"+ns, body, nil)
}

// aliasProps is what GET …/disasterRecoveryConfigs/{alias} shows.
type aliasProps struct {
	Namespace             string  `json:"namespace"`
	Region                string  `json:"region"`
	ProvisioningState     string  `json:"provisioningState"`
	Reason                string  `json:"reason"`
	Role                  string  `json:"role"`
	PartnerNamespace      string  `json:"partnerNamespace"`
	PartnerRegion         string  `json:"partnerRegion"`
	PartnerEndpoint       string  `json:"partnerEndpoint"`
	Pending               int     `json:"pendingReplicationOperationsCount"`
	LagSeconds            float64 `json:"replicationLagSeconds"`
	Epoch                 uint64  `json:"epoch"`
	ActiveRegion          string  `json:"activeRegion"`
	ActiveNamespace       string  `json:"activeNamespace"`
	Lost                  bool    `json:"lost"`
	PartnerReachable      bool    `json:"partnerReachable"`
	LastError             string  `json:"lastError"`
	FormerPrimaryNotified *bool   `json:"formerPrimaryNotified"`
}

type aliasJSON struct {
	Name       string     `json:"name"`
	Properties aliasProps `json:"properties"`
}

func aliasPath(ns, alias string) string {
	return "/namespaces/" + ns + "/disasterRecoveryConfigs/" + alias
}

// alias returns namespace ns's alias as this region shows it.
func (r *region) alias(t *testing.T, ns, alias string) aliasProps {
	t.Helper()
	var a aliasJSON
	r.must(t, "GET", aliasPath(ns, alias), nil, &a)
	return a.Properties
}

// pairNamespaces creates alias on primary namespace pns, with namespace sns of region s as its
// secondary, and waits until both sides report the pairing Succeeded.
func pairNamespaces(t *testing.T, p *region, pns string, s *region, sns, alias string) {
	t.Helper()
	var a aliasJSON
	p.must(t, "PUT", aliasPath(pns, alias), map[string]any{"properties": map[string]string{
		"partnerNamespace": sns, "partnerEndpoint": s.endpoint(), "partnerAdminKey": s.key}}, &a)
	if a.Properties.Role != "Primary" || a.Properties.Epoch != 1 {
		t.Fatalf("new alias %s on %s: role %s epoch %d, want Primary at epoch 1", alias, pns, a.Properties.Role, a.Properties.Epoch)
	}
	waitFor(t, 60*time.Second, "alias "+alias+" provisioned on both sides", func() (bool, string) {
		pa, sa := p.alias(t, pns, alias), s.alias(t, sns, alias)
		return pa.ProvisioningState == "Succeeded" && sa.ProvisioningState == "Succeeded" && sa.Role == "Secondary",
			fmt.Sprintf("primary %+v; secondary %+v", pa, sa)
	})
}

// geoPair is two regions joined by an alias: east's ns-east is the primary, west's ns-west
// the secondary.
type geoPair struct {
	east, west *region
	pns, sns   string
	alias      string
}

// newGeoPair starts regions east and west (behind proxies when proxied), creates a namespace
// in each, and pairs them under alias "geo-alias".
func newGeoPair(t *testing.T, proxied bool) *geoPair {
	t.Helper()
	g := &geoPair{east: startRegion(t, "east", proxied), west: startRegion(t, "west", proxied),
		pns: "ns-east", sns: "ns-west", alias: "geo-alias"}
	g.east.createNamespace(t, g.pns, nil)
	g.west.createNamespace(t, g.sns, nil)
	pairNamespaces(t, g.east, g.pns, g.west, g.sns, g.alias)
	return g
}

// aliasConnString returns the alias's primary connection string (RootManageSharedAccessKey).
func (g *geoPair) aliasConnString(t *testing.T) string {
	t.Helper()
	var keys struct {
		CS string `json:"aliasPrimaryConnectionString"`
	}
	g.east.must(t, "POST", aliasPath(g.pns, g.alias)+"/authorizationRules/RootManageSharedAccessKey/listKeys", nil, &keys)
	if !strings.HasPrefix(keys.CS, "Endpoint=sb://"+g.alias+"/;") {
		t.Fatalf("alias connection string %q does not name the alias", keys.CS)
	}
	return keys.CS
}

// namespaceConnString returns namespace ns's own RootManageSharedAccessKey connection string.
func (r *region) namespaceConnString(t *testing.T, ns string) string {
	t.Helper()
	var keys struct {
		CS string `json:"primaryConnectionString"`
	}
	r.must(t, "POST", "/namespaces/"+ns+"/authorizationRules/RootManageSharedAccessKey/listKeys", nil, &keys)
	return keys.CS
}

// waitFor polls cond every 50 ms until it holds or timeout passes; then it fails the test with
// what cond last said.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if ok, detail := poll(timeout, cond); !ok {
		t.Fatalf("after %s still waiting for %s: %s", timeout, what, detail)
	}
}

// poll calls cond every 50 ms until it holds or timeout passes, and returns its last answer.
func poll(timeout time.Duration, cond func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok || time.Now().After(deadline) {
			return ok, detail
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kafkaClient returns a franz-go client that authenticates with connection string cs (SASL
// PLAIN, user $ConnectionString) and bootstraps at seeds.
func kafkaClient(t *testing.T, cs string, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(seeds...),
		kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: cs}.AsMechanism())}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// event is one event read back over HTTP.
type event struct {
	Body      json.RawMessage `json:"body"`
	Partition int32           `json:"partitionId"`
	Offset    int64           `json:"offset"`
}

// text is the event's body as the string that was sent (bodies here are plain text).
func (e event) text() string {
	var s string
	if json.Unmarshal(e.Body, &s) == nil {
		return s
	}
	return string(e.Body)
}

// readPartitions reads every event of hub's partitions 0..partitions-1 in namespace ns over
// HTTP with the admin key.
func (r *region) readPartitions(t *testing.T, ns, hub string, partitions int32) []event {
	t.Helper()
	var all []event
	for p := range partitions {
		from := "start"
		for {
			var res struct {
				Events []event `json:"events"`
				Next   int64   `json:"nextOffset"`
			}
			r.must(t, "GET", fmt.Sprintf("/namespaces/%s/eventhubs/%s/partitions/%d/messages?from=%s&max=5000",
				ns, hub, p, url.QueryEscape(from)), nil, &res)
			if len(res.Events) == 0 {
				break
			}
			all = append(all, res.Events...)
			from = "offset:" + strconv.FormatInt(res.Next, 10)
		}
	}
	return all
}

// metric returns the value of the series whose text starts with series (name and labels) on
// the region's /metrics, or 0 if it has none.
func (r *region) metric(t *testing.T, series string) float64 {
	t.Helper()
	status, data := r.call(t, "GET", "/metrics", nil)
	if status != http.StatusOK {
		t.Fatalf("%s /metrics: HTTP %d", r.name, status)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s metric line %q: %v", r.name, line, err)
			}
			return v
		}
	}
	return 0
}

// entities is the replicated state of a namespace as the HTTP API shows it, one canonical JSON
// value per entity: "hub/H" (all of a hub's properties, creation and update times included),
// "group/H/G", "rule/H/R" (rights and keys; H is empty for namespace rules), "network".
type entities map[string]string

// snapshotEntities reads namespace ns's entities from region r.
func (r *region) snapshotEntities(t *testing.T, ns string) entities {
	t.Helper()
	out := entities{}
	var nsJSON struct {
		Properties struct {
			NetworkRuleSet json.RawMessage `json:"networkRuleSet"`
		} `json:"properties"`
	}
	r.must(t, "GET", "/namespaces/"+ns, nil, &nsJSON)
	out["network"] = string(nsJSON.Properties.NetworkRuleSet)
	r.snapshotRules(t, ns, "", out)
	var hubs struct {
		Value []struct {
			Name       string          `json:"name"`
			Properties json.RawMessage `json:"properties"`
		} `json:"value"`
	}
	r.must(t, "GET", "/namespaces/"+ns+"/eventhubs", nil, &hubs)
	for _, h := range hubs.Value {
		out["hub/"+h.Name] = string(h.Properties)
		var groups struct {
			Value []struct {
				Name       string          `json:"name"`
				Properties json.RawMessage `json:"properties"`
			} `json:"value"`
		}
		r.must(t, "GET", "/namespaces/"+ns+"/eventhubs/"+h.Name+"/consumergroups", nil, &groups)
		for _, g := range groups.Value {
			out["group/"+h.Name+"/"+g.Name] = string(g.Properties)
		}
		r.snapshotRules(t, ns, h.Name, out)
	}
	return out
}

func (r *region) snapshotRules(t *testing.T, ns, hub string, out entities) {
	t.Helper()
	base := "/namespaces/" + ns
	if hub != "" {
		base += "/eventhubs/" + hub
	}
	var rules struct {
		Value []struct {
			Name       string          `json:"name"`
			Properties json.RawMessage `json:"properties"`
		} `json:"value"`
	}
	r.must(t, "GET", base+"/authorizationRules", nil, &rules)
	for _, rule := range rules.Value {
		var keys struct {
			Primary   string `json:"primaryKey"`
			Secondary string `json:"secondaryKey"`
		}
		r.must(t, "POST", base+"/authorizationRules/"+rule.Name+"/listKeys", nil, &keys)
		out["rule/"+hub+"/"+rule.Name] = fmt.Sprintf("%s keys=%s,%s", rule.Properties, keys.Primary, keys.Secondary)
	}
}

// diff describes how b differs from a (at most a few lines), or "" when they are equal.
func (a entities) diff(b entities) string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		switch bv, ok := b[k]; {
		case !ok:
			lines = append(lines, "missing "+k)
		case bv != a[k]:
			lines = append(lines, fmt.Sprintf("%s differs:\n\twant %s\n\tgot  %s", k, a[k], bv))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			lines = append(lines, "extra "+k)
		}
	}
	if len(lines) > 8 {
		lines = append(lines[:8], fmt.Sprintf("… and %d more", len(lines)-8))
	}
	return strings.Join(lines, "\n")
}

// waitConverged waits until the secondary's entities equal the primary's and returns them.
func (g *geoPair) waitConverged(t *testing.T, timeout time.Duration) entities {
	t.Helper()
	var want entities
	waitFor(t, timeout, "the secondary to equal the primary", func() (bool, string) {
		// The cheap check first: the hub lists (settings and group names) agree.
		if d := g.hubList(t, g.east, g.pns); d != g.hubList(t, g.west, g.sns) {
			return false, "hub lists differ"
		}
		want = g.east.snapshotEntities(t, g.pns)
		d := want.diff(g.west.snapshotEntities(t, g.sns))
		return d == "", d
	})
	return want
}

func (g *geoPair) hubList(t *testing.T, r *region, ns string) string {
	t.Helper()
	var hubs struct {
		Value []struct {
			Name       string          `json:"name"`
			Properties json.RawMessage `json:"properties"`
		} `json:"value"`
	}
	r.must(t, "GET", "/namespaces/"+ns+"/eventhubs", nil, &hubs)
	var b strings.Builder
	for _, h := range hubs.Value {
		fmt.Fprintf(&b, "%s %s\n", h.Name, h.Properties)
	}
	return b.String()
}

// ctxTimeout returns a context that ends after d or with the test.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// sasToken returns an Authorization header value signed with connection string cs's key for
// its endpoint (a namespace or an alias).
func sasToken(t *testing.T, cs string) string {
	t.Helper()
	c, err := auth.ParseConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewSASToken(c.ResourceURI(), c.SharedAccessKeyName, c.SharedAccessKey, time.Now().Add(time.Hour))
}

// rawProduce sends one record to topic/partition straight to broker b, without the client's
// routing and retries, and returns the partition's answer (whose error message kgo hides).
func rawProduce(t *testing.T, ctx context.Context, b *kgo.Broker, topic string, partition int32, value string) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch.Build([]batch.Record{{Value: []byte(value)}},
		batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Timestamp: time.Now().UnixMilli()})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := b.Request(ctx, req)
	if err != nil {
		t.Fatalf("raw produce: %v", err)
	}
	pr := resp.(*kmsg.ProduceResponse)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		t.Fatalf("raw produce answered %+v", pr)
	}
	return pr.Topics[0].Partitions[0]
}

func strp(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
