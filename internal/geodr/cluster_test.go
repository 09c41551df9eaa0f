package geodr_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/geodr"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// clusterRegion is an in-process region of three nodes on 127.0.0.1, .2 and .3: each with
// its raft node, broker, geo-DR manager and HTTP API.
type clusterRegion struct {
	name  string
	mu    sync.Mutex // guards nodes against a front's goroutines (the test goroutine writes)
	nodes []*region  // nil entries are closed nodes
}

// startClusterRegion starts the region; a non-empty front is the address every node
// advertises to the partner region (a load balancer in front of the nodes), else each
// advertises its own.
func startClusterRegion(t *testing.T, name, front string) *clusterRegion {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raftPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	spec := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", raftPort, raftPort, raftPort)
	cr := &clusterRegion{name: name}
	for i := range 3 {
		cfg, _, err := cluster.ParseConfig(uint64(i+1), "", spec, []byte("0123456789abcdef-secret"))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cn, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir,
			Logger: quiet(), TickInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: name, Logger: quiet(), Cluster: cn})
		if err != nil {
			cn.Close()
			t.Fatal(err)
		}
		hl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
		if err != nil {
			t.Fatal(err)
		}
		r := &region{name: name, b: b, ln: hl, url: "http://" + hl.Addr().String()}
		if front != "" {
			r.opt = func(o *geodr.Options) { o.Endpoint = front }
		}
		r.startManager()
		cr.nodes = append(cr.nodes, r)
	}
	t.Cleanup(func() {
		for i := range cr.nodes {
			cr.close(i)
		}
	})
	return cr
}

// close stops node i (its HTTP API, manager and broker, with its raft node).
func (cr *clusterRegion) close(i int) {
	cr.mu.Lock()
	r := cr.nodes[i]
	cr.nodes[i] = nil
	cr.mu.Unlock()
	if r == nil {
		return
	}
	r.srv.Close()
	r.m.Close()
	r.b.Close()
}

// leader returns the index of the node that leads the metadata, -1 if none does.
func (cr *clusterRegion) leader() int {
	for i, r := range cr.nodes {
		if r != nil && r.b.IsMetadataLeader() {
			return i
		}
	}
	return -1
}

// onLeader runs f on the metadata leader until it succeeds or fails with something else than
// the leader having moved.
func (cr *clusterRegion) onLeader(t *testing.T, what string, f func(r *region) error) {
	t.Helper()
	var last error
	waitFor(t, what, func() bool {
		i := cr.leader()
		if i < 0 {
			return false
		}
		last = f(cr.nodes[i])
		return last == nil || !errcode.Is(last, errcode.Unavailable)
	})
	if last != nil {
		t.Fatalf("%s: %v", what, last)
	}
}

// TestClusterSecondaryReplicatesAfterLeaderLoss pairs a single-node primary with a secondary
// region of three nodes: the secondary's replication runner runs on its metadata leader only,
// and after that node is closed the new leader takes replication over.
func TestClusterSecondaryReplicatesAfterLeaderLoss(t *testing.T) {
	east := startRegion(t, "east")
	west := startClusterRegion(t, "west", "")
	ctx := context.Background()
	if _, err := east.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "ns-east"}); err != nil {
		t.Fatal(err)
	}
	west.onLeader(t, "creating the secondary namespace", func(r *region) error {
		_, err := r.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "ns-west"})
		return err
	})
	west.onLeader(t, "pairing with the secondary's metadata leader", func(r *region) error {
		key, err := readAdminKey(r)
		if err != nil {
			return err
		}
		_, err = east.m.Create(ctx, "ns-east", "cluster-alias", geodr.CreateOptions{PartnerNamespace: "ns-west",
			PartnerEndpoint: r.url, Credential: geodr.Credential{AdminKey: key}, Admin: true})
		return err
	})
	waitFor(t, "pairing to succeed", func() bool {
		cfg, _ := east.b.Alias("ns-east")
		return cfg.ProvisioningState == meta.ProvisioningSucceeded
	})
	hubOnLive := func(hub string) func() bool {
		return func() bool {
			for _, r := range west.nodes {
				if r == nil {
					continue
				}
				if _, err := r.b.Hub("ns-west", hub); err != nil {
					return false
				}
			}
			return true
		}
	}
	if err := east.b.CreateHub(ctx, "ns-east", broker.HubSpec{Name: "before", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first hub on every secondary node", hubOnLive("before"))
	leaders := func() (n, at int) {
		for i, r := range west.nodes {
			if r != nil && r.m.Leads() {
				n, at = n+1, i
			}
		}
		return n, at
	}
	waitFor(t, "geo-DR to run on exactly the metadata leader", func() bool {
		n, at := leaders()
		return n == 1 && at == west.leader()
	})
	_, old := leaders()
	t.Logf("closing node %d, the secondary region's metadata leader", old+1)
	west.close(old)

	for i := range 3 {
		hub := fmt.Sprintf("after-%d", i)
		if err := east.b.CreateHub(ctx, "ns-east", broker.HubSpec{Name: hub, Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, hub+" on the remaining secondary nodes", hubOnLive(hub))
	}
	n, at := leaders()
	if n != 1 || at == old || at != west.leader() {
		t.Fatalf("after the loss %d managers lead (the last at node %d); want the new metadata leader only", n, at+1)
	}
	cfg, _ := west.nodes[at].b.Alias("ns-west")
	if cfg.Role != meta.RoleSecondary || cfg.Through == 0 {
		t.Fatalf("secondary alias on the new leader: %+v", cfg)
	}
}

// TestClusterPrimaryFeedSurvivesLeaderLoss pairs a primary region of three nodes, behind a
// front that forwards to any live node, with a single-node secondary: the feed is served by
// whichever node the front picks (a follower reads its own applied metadata), and after the
// primary's metadata leader is closed the changes made through the new leader still reach the
// secondary.
func TestClusterPrimaryFeedSurvivesLeaderLoss(t *testing.T) {
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var east *clusterRegion
	pick := 0 // the front rotates over the live nodes
	front := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		east.mu.Lock()
		defer east.mu.Unlock()
		// The replication feed and snapshots go to followers only, so that the test fails
		// unless a follower serves them.
		feed := strings.HasPrefix(pr.In.URL.Path, "/geodr/v1/namespaces/")
		for range 2 * len(east.nodes) {
			pick = (pick + 1) % len(east.nodes)
			if r := east.nodes[pick]; r != nil && !(feed && r.b.IsMetadataLeader()) {
				u, _ := url.Parse(r.url)
				pr.SetURL(u)
				return
			}
		}
	}, ErrorLog: log.New(io.Discard, "", 0)}
	east = startClusterRegion(t, "east", "http://"+fl.Addr().String())
	fsrv := &http.Server{Handler: front}
	go fsrv.Serve(fl)
	t.Cleanup(func() { fsrv.Close() })
	west := startRegion(t, "west")
	ctx := context.Background()
	if _, err := west.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "ns-west"}); err != nil {
		t.Fatal(err)
	}
	east.onLeader(t, "creating the primary namespace", func(r *region) error {
		_, err := r.b.CreateNamespace(ctx, broker.NamespaceSpec{Name: "ns-east"})
		return err
	})
	key, err := readAdminKey(west)
	if err != nil {
		t.Fatal(err)
	}
	east.onLeader(t, "pairing from the primary's metadata leader", func(r *region) error {
		_, err := r.m.Create(ctx, "ns-east", "front-alias", geodr.CreateOptions{PartnerNamespace: "ns-west",
			PartnerEndpoint: west.url, Credential: geodr.Credential{AdminKey: key}, Admin: true})
		return err
	})
	waitFor(t, "the secondary to replicate", func() bool {
		cfg, _ := west.b.Alias("ns-west")
		return cfg.ProvisioningState == meta.ProvisioningSucceeded && cfg.Through > 0
	})
	createHub := func(hub string) {
		t.Helper()
		east.onLeader(t, "creating "+hub, func(r *region) error {
			err := r.b.CreateHub(ctx, "ns-east", broker.HubSpec{Name: hub, Partitions: 1})
			if errcode.Is(err, errcode.AlreadyExists) {
				return nil // an earlier attempt applied before its answer was lost
			}
			return err
		})
		waitFor(t, hub+" on the secondary", func() bool { _, err := west.b.Hub("ns-west", hub); return err == nil })
	}
	createHub("before")
	old := east.leader()
	t.Logf("closing node %d, the primary region's metadata leader", old+1)
	east.close(old)
	for i := range 3 {
		createHub(fmt.Sprintf("after-%d", i))
	}
	if cfg, _ := west.b.Alias("ns-west"); cfg.Role != meta.RoleSecondary {
		t.Fatalf("secondary alias: %+v", cfg)
	}
}
