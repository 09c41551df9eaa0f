package broker

import (
	"slices"
	"time"

	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// Leader balancing: the placement names a preferred leader for every partition (its first
// replica; cluster.Place rotates it over nodes and zones), so leaders are spread when every
// node is up. When a node goes down its partitions elect leaders elsewhere, and when it comes
// back nothing moves them back: raft keeps a working leader. The balancer does what Kafka's
// auto.leader.rebalance.enable and Redpanda's leader balancer do: a node that leads a
// partition whose preferred leader is another node hands leadership back once that node is
// caught up.

// DefaultLeaderBalanceInterval is how often a node looks for leadership to hand back.
const DefaultLeaderBalanceInterval = 10 * time.Second

// maxTransfersPerRound bounds the leadership transfers one node starts per round, so a node
// that comes back does not take all its partitions in one burst of elections.
const maxTransfersPerRound = 16

// leaderView is what the balancer knows of one partition group this node holds.
type leaderView struct {
	group     uint64
	preferred uint64 // the placement's first replica
	status    multiraft.Status
}

// transfer is a leadership hand-over the balancer starts.
type transfer struct{ group, to uint64 }

// pickTransfers returns the hand-overs to start: for every group that self leads (confirmed,
// so its own term's entry is applied) whose preferred leader is another voter that is
// replicating, recently active and has every committed entry; at most max, in group order.
func pickTransfers(self uint64, views []leaderView, max int) []transfer {
	var out []transfer
	for _, v := range views {
		st := v.status
		if len(out) >= max {
			break
		}
		if !st.Confirmed || st.ID != self || v.preferred == self || v.preferred == 0 ||
			!slices.Contains(st.Voters, v.preferred) {
			continue
		}
		pr, ok := st.Progress[v.preferred]
		if !ok || !pr.RecentActive || pr.State != "StateReplicate" || pr.Match < st.Commit {
			continue
		}
		out = append(out, transfer{group: v.group, to: v.preferred})
	}
	return out
}

// balanceLeaders hands leadership of the partitions this node leads back to their preferred
// leaders (pickTransfers). Transfers are asynchronous: raft makes the target campaign once it
// has the leader's log, and the reconciler's next rounds see the result.
func (b *Broker) balanceLeaders() {
	b.cl.mu.Lock()
	views := make([]leaderView, 0, len(b.cl.reps))
	for g, r := range b.cl.reps {
		if len(r.peers) == 0 || !b.cl.node.Confirmed(g) {
			continue
		}
		st, err := b.cl.node.Status(g)
		if err != nil {
			continue
		}
		views = append(views, leaderView{group: g, preferred: r.peers[0], status: st})
	}
	b.cl.mu.Unlock()
	slices.SortFunc(views, func(a, b leaderView) int {
		switch {
		case a.group < b.group:
			return -1
		case a.group > b.group:
			return 1
		}
		return 0
	})
	for _, t := range pickTransfers(b.cl.self, views, maxTransfersPerRound) {
		if err := b.cl.node.TransferLeader(t.group, t.to); err != nil {
			b.log.Warn("handing partition leadership back to its preferred leader", "group", t.group, "to", t.to, "err", err)
			continue
		}
		b.log.Info("handing partition leadership back to its preferred leader", "group", t.group, "to", t.to)
		if b.metrics != nil {
			b.metrics.leaderTransfers.Inc()
		}
	}
}
