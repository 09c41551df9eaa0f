package multiraft

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	groups            prometheus.Gauge
	proposals         prometheus.Counter
	forwarded         prometheus.Counter
	readIndex         prometheus.Counter
	applied           prometheus.Counter
	leaderships       prometheus.Counter
	leaderChanges     prometheus.Counter
	commitSeconds     prometheus.Histogram
	dropped           prometheus.Counter
	snapshotsTaken    prometheus.Counter
	snapshotsRestored prometheus.Counter
	restoreFailures   prometheus.Counter
	restoresPending   prometheus.Gauge
	saveSeconds       prometheus.Histogram
	saveUpdates       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		groups:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "tandem_raft_groups", Help: "Raft groups hosted on this node."}),
		proposals:   prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_proposals_total", Help: "Entries proposed by this node (as leader, or forwarded to the leader)."}),
		forwarded:   prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_forwarded_proposals_total", Help: "Entries this node proposed as a follower, forwarded to the leader."}),
		readIndex:   prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_read_index_total", Help: "Linearizable read barriers (ReadIndex) requested on this node."}),
		applied:     prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_applied_entries_total", Help: "Committed entries applied to state machines."}),
		leaderships: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_leadership_acquired_total", Help: "Times this node became leader of a group."}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_leader_changes_total",
			Help: "Times a group on this node learned of a new leader (another node's or its own); elections and transfers."}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_raft_commit_seconds",
			Help:    "From Propose on this node (as leader, or forwarded to the leader) to the entry applied here: replicated to a majority, fsynced, applied.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		dropped:           prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_messages_dropped_total", Help: "Incoming raft messages dropped: for groups not hosted here, or proposals and read requests forwarded to a node that no longer leads."}),
		snapshotsTaken:    prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_snapshots_taken_total", Help: "State machine snapshots taken (log compactions)."}),
		snapshotsRestored: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_snapshots_restored_total", Help: "Snapshots received from a leader and restored."}),
		restoreFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_raft_snapshot_restore_failures_total",
			Help: "Failed attempts to restore a snapshot (its data could not be copied from another replica); each is retried after a back-off."}),
		restoresPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tandem_raft_snapshot_restores_pending",
			Help: "Groups on this node whose snapshot restore failed and is being retried; their applies wait. Non-zero for long: a replica cannot catch up (peers unreachable, or their data gone)."}),
		saveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_raft_log_save_seconds", Help: "Duration of one group-commit LogStore.Save.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		saveUpdates: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_raft_log_save_updates", Help: "Group updates made durable by one LogStore.Save.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
	}
	if reg != nil {
		reg.MustRegister(m.groups, m.proposals, m.forwarded, m.readIndex, m.applied, m.leaderships, m.leaderChanges, m.commitSeconds, m.dropped,
			m.snapshotsTaken, m.snapshotsRestored, m.restoreFailures, m.restoresPending, m.saveSeconds, m.saveUpdates)
	}
	return m
}
