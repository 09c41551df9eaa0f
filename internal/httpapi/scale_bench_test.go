package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// scaleServer is a node's HTTP API on a broker whose namespace "scale-ns" holds hubs h0 …
// h(hubs-1) of one partition, written straight into the metadata log (a thousand per write)
// before the broker opens. It returns the server and a SAS token of the namespace's root rule.
func scaleServer(tb testing.TB, hubs int) (*httptest.Server, *broker.Broker, string) {
	tb.Helper()
	dir := tb.TempDir()
	ms, err := meta.Open(meta.StoreOptions{Dir: filepath.Join(dir, "meta"), Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	k1, _ := auth.GenerateKey()
	k2, _ := auth.GenerateKey()
	now := time.Now().UTC()
	ctx := context.Background()
	cmds := []meta.Command{meta.CreateNamespace{Namespace: "scale-ns", Tier: meta.Premium,
		NetworkRules: meta.NetworkRules{DefaultAction: meta.Allow}, RootPrimaryKey: k1, RootSecondaryKey: k2, Time: now}}
	for i := range hubs {
		cmds = append(cmds, meta.CreateHub{Namespace: "scale-ns", Hub: fmt.Sprintf("h%d", i), PartitionCount: 1, Time: now.Add(time.Duration(i))})
		if len(cmds) == 1000 {
			if err := ms.ProposeBatch(ctx, cmds); err != nil {
				tb.Fatal(err)
			}
			cmds = nil
		}
	}
	if err := ms.ProposeBatch(ctx, cmds); err != nil {
		tb.Fatal(err)
	}
	if err := ms.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := broker.Open(ctx, broker.Options{DataDir: dir, Region: "test", Logger: quiet,
		Registerer: prometheus.NewRegistry(), Quotas: broker.Quotas{HubsPerNamespace: -1, PartitionsPerNode: -1}})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Broker: b, Gatherer: prometheus.NewRegistry(), Logger: quiet}))
	tb.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	token := auth.NewSASToken("sb://scale-ns.servicebus.windows.net/", meta.RootPolicyName, k1, now.Add(time.Hour))
	return srv, b, token
}

// BenchmarkHTTPSendAt sends one event of about 100 bytes per request from 32 concurrent
// clients, to a namespace of 1 and of 10,000 hubs: the rates must be within 20% (issue 17).
//
//	go test -run '^$' -bench HTTPSendAt -benchtime 3s ./internal/httpapi/
func BenchmarkHTTPSendAt(b *testing.B) {
	for _, hubs := range []int{1, 10000} {
		b.Run(fmt.Sprintf("hubs=%d", hubs), func(b *testing.B) {
			srv, _, token := scaleServer(b, hubs)
			url := srv.URL + "/namespaces/scale-ns/eventhubs/h0/messages"
			body := `{"body":{"id":12345,"kind":"order","amount":17.25,"note":"abcdefghijklmnopqrstuvwxyz"},"partitionKey":"k1"}`
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("POST", url, strings.NewReader(body))
					req.Header.Set("Authorization", token)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
		})
	}
}

// TestHTTPRequestAllocsDoNotGrowWithHubs: a send and a hub read allocate as much with 1,000
// hubs in the namespace as with 10 (the cliff of issue 17 was two copies of the whole
// namespace per request: thousands of allocations at 1,000 hubs).
func TestHTTPRequestAllocsDoNotGrowWithHubs(t *testing.T) {
	body := `{"body":{"id":12345,"kind":"order"},"partitionKey":"k1"}`
	cases := []struct {
		name, method, path, body string
		want                     int
	}{
		{"send", "POST", "/namespaces/scale-ns/eventhubs/h0/messages", body, http.StatusCreated},
		{"get hub", "GET", "/namespaces/scale-ns/eventhubs/h0", "", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allocs := func(hubs int) float64 {
				srv, _, token := scaleServer(t, hubs)
				h := srv.Config.Handler
				call := func() {
					var rd io.Reader
					if c.body != "" {
						rd = strings.NewReader(c.body)
					}
					req := httptest.NewRequest(c.method, c.path, rd)
					req.Header.Set("Authorization", token)
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != c.want {
						t.Fatalf("%s %s: %d %s", c.method, c.path, rec.Code, rec.Body)
					}
				}
				call()
				return testing.AllocsPerRun(40, call)
			}
			few, many := allocs(10), allocs(1000)
			t.Logf("%s: %.0f allocations per request at 10 hubs, %.0f at 1,000", c.name, few, many)
			if many > few*1.1+5 {
				t.Fatalf("%s allocates %.0f times per request with 1,000 hubs and %.0f with 10: its cost grows with the hubs it does not touch", c.name, many, few)
			}
		})
	}
}

// BenchmarkHTTPSendBatch sends 100 events of about 100 bytes per request from 16 goroutines,
// calling the handler directly (no client, no socket); ns/event is wall time per event.
//
//	go test -run '^$' -bench HTTPSendBatch -benchtime 3s ./internal/httpapi/
func BenchmarkHTTPSendBatch(b *testing.B) {
	srv, _, token := scaleServer(b, 1)
	h := srv.Config.Handler
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"body":{"id":%d,"kind":"order","amount":17.25,"note":"abcdefghijklmnopqrstuvwxyz0123456789"},"partitionKey":"k%d"}`, i, i%7)
	}
	sb.WriteString("]")
	body := sb.String()
	b.ReportAllocs()
	b.SetParallelism(8) // sends wait for their fsync: keep the CPU busy meanwhile
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/namespaces/scale-ns/eventhubs/h0/messages", strings.NewReader(body))
			req.Header.Set("Authorization", token)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Errorf("%d %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
}
