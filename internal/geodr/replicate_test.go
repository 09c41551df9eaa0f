package geodr_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/geodr"
	"github.com/tandem-streaming/tandem/internal/httpapi"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// region is one in-process region for the benchmarks: a broker, its geo-DR manager and the
// HTTP API on a loopback port. The multi-process tests with real `tandem serve` processes
// and cut links are in internal/e2e; these measure the replication path itself.
type region struct {
	name string
	b    *broker.Broker
	m    *geodr.Manager
	ln   net.Listener
	srv  *http.Server
	url  string
	opt  func(*geodr.Options) // changes the manager's options (nil: none)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startRegion(tb testing.TB, name string) *region {
	tb.Helper()
	return startRegionWith(tb, name, nil)
}

// startRegionWith starts a region whose manager's options opt changes.
func startRegionWith(tb testing.TB, name string, opt func(*geodr.Options)) *region {
	tb.Helper()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: tb.TempDir(), Region: name, Logger: quiet(),
		// the benchmarks create hundreds of hubs in one namespace
		Quotas: broker.Quotas{HubsPerNamespace: -1, PartitionsPerNode: -1}})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &region{name: name, b: b, ln: ln, url: "http://" + ln.Addr().String(), opt: opt}
	r.startManager()
	tb.Cleanup(func() {
		r.srv.Close()
		r.m.Close()
		b.Close()
	})
	return r
}

// startManager (re)starts the region's geo-DR manager and HTTP API.
func (r *region) startManager() {
	o := geodr.Options{Broker: r.b, Endpoint: r.url, Kafka: "127.0.0.1:9", Logger: quiet(),
		CheckEvery: 200 * time.Millisecond, FeedWait: 2 * time.Second}
	if r.opt != nil {
		r.opt(&o)
	}
	r.m = geodr.New(o)
	r.m.Start(context.Background())
	h := httpapi.New(httpapi.Options{Broker: r.b, Logger: quiet(), Geo: r.m})
	r.srv = &http.Server{Handler: h}
	ln := r.ln
	go r.srv.Serve(ln)
}

// stopManager stops the manager and the HTTP API, keeping the broker: the secondary stops
// replicating while the primary keeps changing.
func (r *region) stopManager(tb testing.TB) {
	r.srv.Close()
	r.m.Close()
	ln, err := net.Listen("tcp", r.ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	r.ln = ln
}

func pair(tb testing.TB, east, west *region) {
	tb.Helper()
	ctx := context.Background()
	for _, r := range []*region{east, west} {
		if _, err := r.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "ns-" + r.name}); err != nil {
			tb.Fatal(err)
		}
	}
	key, err := readAdminKey(west)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := east.m.Create(ctx, "ns-east", "bench-alias", geodr.CreateOptions{PartnerNamespace: "ns-west",
		PartnerEndpoint: west.url, Credential: geodr.Credential{AdminKey: key}, Admin: true}); err != nil {
		tb.Fatal(err)
	}
	waitFor(tb, "pairing to succeed", func() bool {
		cfg, _ := east.b.Alias("ns-east")
		return cfg.ProvisioningState == meta.ProvisioningSucceeded
	})
}

func readAdminKey(r *region) (string, error) {
	data, err := os.ReadFile(r.b.AdminKeyPath())
	return strings.TrimSpace(string(data)), err
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// createEntities creates hubs event hubs with groupsPer consumer groups each on ns, from
// workers goroutines, and returns the number of entities created.
func createEntities(tb testing.TB, b *broker.Broker, ns, prefix string, hubs, groupsPer, workers int) int {
	tb.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < hubs; i += workers {
				hub := fmt.Sprintf("%s-%d", prefix, i)
				if err := b.CreateHub(ctx, ns, broker.HubSpec{Name: hub, Partitions: 2}); err != nil {
					errs <- err
					return
				}
				for g := range groupsPer {
					if _, err := b.CreateConsumerGroup(ctx, ns, hub, fmt.Sprintf("g-%d", g), ""); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return hubs * (1 + groupsPer)
}

func entityCount(b *broker.Broker, ns string) int {
	n := 0
	for _, h := range b.Hubs(ns) {
		n += len(h.ConsumerGroups) // $Default counts for the hub itself
	}
	return n
}

// BenchmarkReplicationCatchUp measures how fast a secondary applies a backlog of the
// primary's changes from the metadata log: the secondary's replication is stopped, the
// primary creates event hubs and consumer groups, and the secondary is started again.
func BenchmarkReplicationCatchUp(b *testing.B) {
	for range b.N {
		east, west := startRegion(b, "east"), startRegion(b, "west")
		pair(b, east, west)
		west.stopManager(b)
		want := createEntities(b, east.b, "ns-east", "hub", 500, 3, 16)
		start := time.Now()
		west.startManager()
		waitFor(b, "the secondary to catch up", func() bool { return entityCount(west.b, "ns-west") == want })
		el := time.Since(start)
		b.ReportMetric(float64(want)/el.Seconds(), "entities/s")
		b.ReportMetric(float64(el.Milliseconds()), "catchup-ms")
	}
}

// BenchmarkReplicationLag measures, in steady state, the time from a change committed on the
// primary to the same change applied on the secondary, one change at a time.
func BenchmarkReplicationLag(b *testing.B) {
	east, west := startRegion(b, "east"), startRegion(b, "west")
	pair(b, east, west)
	ctx := context.Background()
	var lags []time.Duration
	b.ResetTimer()
	for i := range b.N {
		hub := fmt.Sprintf("lag-%d", i)
		if err := east.b.CreateHub(ctx, "ns-east", broker.HubSpec{Name: hub, Partitions: 1}); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		waitFor(b, hub+" on the secondary", func() bool { _, err := west.b.Hub("ns-west", hub); return err == nil })
		lags = append(lags, time.Since(committed))
	}
	b.StopTimer()
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-lag-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-lag-ms")
}

// TestReplicationResumesAfterSecondaryRestart is the in-process check of the benchmark's
// set-up: a backlog built while the secondary's runner is down is applied once, and the
// alias reports no pending operations afterwards.
func TestReplicationResumesAfterSecondaryRestart(t *testing.T) {
	east, west := startRegion(t, "east"), startRegion(t, "west")
	pair(t, east, west)
	west.stopManager(t)
	want := createEntities(t, east.b, "ns-east", "hub", 40, 2, 4)
	west.startManager()
	waitFor(t, "the secondary to catch up", func() bool { return entityCount(west.b, "ns-west") == want })
	waitFor(t, "no pending operations", func() bool {
		st, err := east.m.Describe("ns-east", "bench-alias")
		return err == nil && st.Pending == 0
	})
	cfg, _ := west.b.Alias("ns-west")
	if cfg.Through == 0 || cfg.Role != meta.RoleSecondary {
		t.Fatalf("secondary alias after catch-up: %+v", cfg)
	}
}
