package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// clusterAPI is one node of an in-process 3-node region with its HTTP API.
type clusterAPI struct {
	id  uint64
	b   *broker.Broker
	srv *httptest.Server
}

func (n *clusterAPI) stop() {
	if n.srv == nil {
		return
	}
	n.srv.Close()
	n.b.Close()
	n.srv, n.b = nil, nil
}

// startClusterAPI runs three brokers in cluster mode on 127.0.0.1-3 (real raft over TCP), each
// with its own Prometheus registry and HTTP API, every node recording its API's URL.
func startClusterAPI(t *testing.T) []*clusterAPI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	spec := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", port, port, port)
	nodes := make([]*clusterAPI, 3)
	for i := range nodes {
		cfg, _, err := cluster.ParseConfig(uint64(i+1), "", spec, []byte("0123456789abcdef-secret"))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		reg := prometheus.NewRegistry()
		cn, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir,
			Logger: quiet, Registerer: reg, TickInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: "east", NodeID: int32(i + 1),
			Dev: true, Logger: quiet, Registerer: reg, Cluster: cn})
		if err != nil {
			cn.Close()
			t.Fatal(err)
		}
		n := &clusterAPI{id: uint64(i + 1), b: b}
		n.srv = httptest.NewServer(New(Options{Broker: b, Gatherer: reg, Dev: true, Logger: quiet}))
		b.SetEndpoints(meta.Endpoints{HTTP: n.srv.URL})
		nodes[i] = n
		t.Cleanup(n.stop)
	}
	recordAllEndpoints(t, nodes)
	return nodes
}

// recordAllEndpoints waits until every node has recorded its endpoints in the metadata (a
// follower's write is forwarded to the metadata leader).
func recordAllEndpoints(t *testing.T, nodes []*clusterAPI) {
	t.Helper()
	for _, n := range nodes {
		pollFor(t, fmt.Sprintf("node %d to record its endpoints", n.id), func() error {
			if _, ok := nodes[0].b.MemberEndpoints(n.id); !ok {
				return fmt.Errorf("not recorded")
			}
			return nil
		})
	}
}

func pollFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// scrape reads the unlabelled series of a node's /metrics (histograms by _count and _sum).
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if f, err := strconv.ParseFloat(val, 64); ok && err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

func TestClusterStatusAndMetrics(t *testing.T) {
	nodes := startClusterAPI(t)
	const hub, parts = "orders", 3
	pollFor(t, "the hub to be created through the metadata leader", func() error {
		var last error
		for _, n := range nodes {
			err := n.b.CreateHub(context.Background(), broker.DevNamespace, broker.HubSpec{Name: hub, Partitions: parts})
			if err == nil || errcode.Is(err, errcode.AlreadyExists) {
				return nil
			}
			last = err
		}
		return last
	})

	// Every node answers the merged region view, healthy once every partition has a leader
	// and every node recorded its endpoints.
	for _, n := range nodes {
		pollFor(t, fmt.Sprintf("node %d to report a healthy region", n.id), func() error {
			var st client.ClusterStatus
			if err := getJSON(n.srv.URL+"/cluster", &st); err != nil {
				return err
			}
			if probs := st.Problems(); len(probs) > 0 {
				return fmt.Errorf("%v", probs)
			}
			led := 0
			for _, m := range st.Nodes {
				led += m.LeaderOf
				if m.Reachable == nil || !*m.Reachable || m.HTTP == "" || m.Zone == "" {
					return fmt.Errorf("node %+v", m)
				}
			}
			if !st.Clustered || st.Region != "east" || st.NodeID != n.id || st.MetadataLeader == 0 || len(st.Nodes) != 3 ||
				st.Partitions.Scope != broker.ScopeRegion || st.Partitions.Total != parts || led != parts ||
				st.Metadata.Term == 0 || st.Metadata.Commit == 0 || st.ReachableSource != broker.ReachableFromLeader {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
	}

	// GET on the hub lists each partition's replicas, leader and epoch.
	var h struct {
		Properties struct {
			Partitions []partitionJSON `json:"partitions"`
		} `json:"properties"`
	}
	if err := getJSON(nodes[0].srv.URL+"/namespaces/default/eventhubs/"+hub, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Properties.Partitions) != parts {
		t.Fatalf("hub partitions %+v", h.Properties.Partitions)
	}
	for _, p := range h.Properties.Partitions {
		if len(p.Replicas) != 3 || p.Leader < 1 || p.Leader > 3 || p.LeaderEpoch < 0 {
			t.Errorf("partition %+v", p)
		}
	}

	// The metrics: leadership is spread over the nodes and counted, commits and fsyncs timed.
	pollFor(t, "plausible cluster metrics", func() error {
		led, metaLeaders, commits := 0.0, 0.0, 0.0
		for _, n := range nodes {
			m, err := scrape(n.srv.URL)
			if err != nil {
				return err
			}
			for _, name := range []string{"tandem_cluster_partitions_led", "tandem_cluster_under_replicated_partitions",
				"tandem_raft_leader_changes_total", "tandem_raft_commit_seconds_count", "tandem_raft_wal_fsync_seconds_count"} {
				if _, ok := m[name]; !ok {
					return fmt.Errorf("node %d has no %s", n.id, name)
				}
			}
			if m["tandem_cluster_partition_replicas"] != parts || m["tandem_cluster_under_replicated_partitions"] != 0 ||
				m["tandem_cluster_leaderless_partitions"] != 0 {
				return fmt.Errorf("node %d: replicas %v, under-replicated %v, leaderless %v", n.id, m["tandem_cluster_partition_replicas"],
					m["tandem_cluster_under_replicated_partitions"], m["tandem_cluster_leaderless_partitions"])
			}
			if m["tandem_raft_leader_changes_total"] < 1+parts || m["tandem_raft_wal_fsync_seconds_count"] < 1 {
				return fmt.Errorf("node %d: leader changes %v, fsyncs %v", n.id, m["tandem_raft_leader_changes_total"], m["tandem_raft_wal_fsync_seconds_count"])
			}
			if s, c := m["tandem_raft_wal_fsync_seconds_sum"], m["tandem_raft_wal_fsync_seconds_count"]; s <= 0 || s/c > 5 {
				return fmt.Errorf("node %d: mean fsync %v s", n.id, s/c)
			}
			led += m["tandem_cluster_partitions_led"]
			metaLeaders += m["tandem_cluster_metadata_leader"]
			commits += m["tandem_raft_commit_seconds_count"]
		}
		if led != parts || metaLeaders != 1 || commits < 2 { // at least the member list and the hub
			return fmt.Errorf("led %v, metadata leaders %v, commits timed %v", led, metaLeaders, commits)
		}
		return nil
	})

	// A node goes away: the others report it, and the partitions that lose a follower.
	nodes[2].stop()
	pollFor(t, "node 1 to report node 3 down", func() error {
		var st client.ClusterStatus
		if err := getJSON(nodes[0].srv.URL+"/cluster", &st); err != nil {
			return err
		}
		probs := st.Problems()
		ok := len(probs) == 0
		n3 := st.Nodes[2]
		if ok || st.Partitions.Scope != broker.ScopePartial || n3.Answered == nil || *n3.Answered ||
			st.Partitions.UnderReplicated+st.Partitions.Leaderless != parts {
			return fmt.Errorf("healthy %v %v, status %+v", ok, probs, st)
		}
		if st.ReachableSource != "" && (n3.Reachable == nil || *n3.Reachable) {
			return fmt.Errorf("node 3 reachable: %+v", st)
		}
		return nil
	})
}
