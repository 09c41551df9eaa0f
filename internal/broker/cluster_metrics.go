package broker

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/cluster"
)

// The cluster's Prometheus series (tandem_cluster_*), computed at scrape time from the raft
// state of the groups this node holds. A single node reports none of them.
var (
	clusterHeldDesc = prometheus.NewDesc("tandem_cluster_partition_replicas",
		"Partition replicas (raft groups) this node holds.", nil, nil)
	clusterLedDesc = prometheus.NewDesc("tandem_cluster_partitions_led",
		"Partitions this node leads.", nil, nil)
	clusterUnderDesc = prometheus.NewDesc("tandem_cluster_under_replicated_partitions",
		"Partitions this node leads with a voter whose log trails the commit by more than the in-sync lag, "+
			"or that the leader has not heard from in two scrapes running.", nil, nil)
	clusterLeaderlessDesc = prometheus.NewDesc("tandem_cluster_leaderless_partitions",
		"Partitions this node holds a replica of that have no known leader.", nil, nil)
	clusterMetaLeaderDesc = prometheus.NewDesc("tandem_cluster_metadata_leader",
		"1 when this node leads the metadata group.", nil, nil)
)

// clusterCollector reports the tandem_cluster_* series. A voter that is not RecentActive
// counts only when it was not in the previous scrape either: the leader clears RecentActive
// at every CheckQuorum and a live follower sets it again within a heartbeat.
type clusterCollector struct {
	b    *Broker
	mu   sync.Mutex
	prev map[[2]uint64]bool // {group, voter} not RecentActive at the previous scrape
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{clusterHeldDesc, clusterLedDesc, clusterUnderDesc, clusterLeaderlessDesc, clusterMetaLeaderDesc} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.b
	if b.cl == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := map[[2]uint64]bool{}
	var held, led, under, leaderless int
	for _, g := range b.heldGroups() {
		st, err := b.cl.node.Status(g)
		if err != nil {
			continue
		}
		held++
		if st.Leader == 0 {
			leaderless++
		}
		if st.Progress == nil || st.Leader != b.cl.self {
			continue
		}
		led++
		in := inactiveVoters(st)
		stale := slices.ContainsFunc(in, func(v uint64) bool { return c.prev[[2]uint64{g, v}] })
		for _, v := range in {
			now[[2]uint64{g, v}] = true
		}
		if laggingVoters(st) > 0 || stale {
			under++
		}
	}
	c.prev = now
	metaLeader := 0.0
	if b.cl.node.Confirmed(cluster.MetaGroup) {
		metaLeader = 1
	}
	ch <- prometheus.MustNewConstMetric(clusterHeldDesc, prometheus.GaugeValue, float64(held))
	ch <- prometheus.MustNewConstMetric(clusterLedDesc, prometheus.GaugeValue, float64(led))
	ch <- prometheus.MustNewConstMetric(clusterUnderDesc, prometheus.GaugeValue, float64(under))
	ch <- prometheus.MustNewConstMetric(clusterLeaderlessDesc, prometheus.GaugeValue, float64(leaderless))
	ch <- prometheus.MustNewConstMetric(clusterMetaLeaderDesc, prometheus.GaugeValue, metaLeader)
}
