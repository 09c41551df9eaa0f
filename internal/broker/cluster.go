package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Cluster mode (Options.Cluster): the metadata is the raft group cluster.MetaGroup
// (meta.RaftStore), and every partition whose placement names this node is a
// ReplicatedPartition in its own raft group. The reconciler goroutine keeps the node's groups
// in step with the placement in metadata; clients are served by the confirmed leader of a
// partition only (others answer errcode.NotLeader).

// reconcileEvery bounds how long the reconciler sleeps without a metadata change: leadership
// of the metadata group (which bootstraps the member list) changes without one.
const reconcileEvery = 200 * time.Millisecond

// clusterMode is a broker's part in a region cluster.
type clusterMode struct {
	node   *cluster.Node
	self   uint64
	rs     *meta.RaftStore
	cancel context.CancelFunc // stops the reconciler

	mu        sync.Mutex
	reps      map[uint64]*replica // partition groups on this node, by group id
	endpoints *meta.Endpoints     // where clients reach this node (SetEndpoints); nil: not known yet

	lastBalance time.Time // of the last leader balancing round; the reconciler's own
}

// replica is one partition group held by this node.
type replica struct {
	group uint64
	ns    string
	hub   string
	id    int32
	dir   string
	peers []uint64
	rp    *ReplicatedPartition
}

// openClusterMeta opens the metadata group's store and starts the group with every member
// as a voter.
func openClusterMeta(opts Options) (*meta.RaftStore, error) {
	n := opts.Cluster
	if err := checkSingleNodeData(opts, len(n.Config().Nodes)); err != nil {
		return nil, err
	}
	rs, err := meta.OpenRaft(meta.RaftStoreOptions{Dir: filepath.Join(opts.DataDir, "meta-raft"),
		Group: cluster.MetaGroup, Raft: n.Host(), Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	ids := make([]uint64, 0, len(n.Config().Nodes))
	for _, m := range n.Config().Nodes {
		ids = append(ids, m.ID)
	}
	if err := n.AddGroup(cluster.MetaGroup, ids, rs.StateMachine(), false); err != nil {
		rs.Close()
		return nil, err
	}
	return rs, nil
}

// checkSingleNodeData handles a data directory a single node wrote (its metadata in
// <data>/meta) before the member has cluster metadata of its own: a one-node cluster upgrades
// it in place (cluster_upgrade.go); a member of a larger cluster refuses to start, since
// joining would hide that data behind the cluster's.
func checkSingleNodeData(opts Options, members int) error {
	storeDir, raftDir := filepath.Join(opts.DataDir, "meta"), filepath.Join(opts.DataDir, "meta-raft")
	if members == 1 {
		return upgradeSingleNode(opts)
	}
	if ok, err := meta.HoldsRaftStore(raftDir); err != nil || ok {
		return err
	}
	single, err := meta.HoldsStore(storeDir)
	if err != nil || !single {
		return err
	}
	return errcode.New(errcode.Conflict,
		"data directory %s was written by a single node (metadata in %s); a node with data cannot join a %d-member cluster: "+
			"start it as a one-node cluster first (--cluster naming only this node), which upgrades the directory in place; "+
			"growing a cluster by adding members is not built yet, so move the event hubs into the cluster some other way (or start the member on an empty --data)",
		opts.DataDir, storeDir, members)
}

// startCluster starts the reconciler; the broker's Close stops it.
func (b *Broker) startCluster() {
	ctx, cancel := context.WithCancel(context.Background())
	b.cl.cancel = cancel
	b.wg.Add(1)
	go b.reconcileLoop(ctx)
}

// closeCluster stops the node (no more applies), then closes the partition replicas; the
// caller closes the metadata store afterwards.
func (b *Broker) closeCluster() error {
	b.cl.cancel()
	first := b.cl.node.Close()
	b.cl.mu.Lock()
	defer b.cl.mu.Unlock()
	for g, r := range b.cl.reps {
		if err := r.rp.Close(); err != nil && first == nil {
			first = err
		}
		delete(b.cl.reps, g)
	}
	return first
}

// reconcileLoop runs until ctx ends: after every metadata change (and every reconcileEvery)
// it refreshes the hub index, does the metadata leader's duties and reconciles the groups.
func (b *Broker) reconcileLoop(ctx context.Context) {
	defer b.wg.Done()
	for ctx.Err() == nil {
		idx := b.meta.Index()
		b.refreshHubs()
		b.metaLeaderDuties(ctx)
		b.recordEndpoints(ctx)
		b.reconcile()
		if ivl := b.opts.LeaderBalanceInterval; ivl > 0 && time.Since(b.cl.lastBalance) >= ivl {
			b.cl.lastBalance = time.Now()
			b.balanceLeaders()
		}
		wctx, cancel := context.WithTimeout(ctx, reconcileEvery)
		b.meta.Wait(wctx, idx+1)
		cancel()
	}
}

// metaLeaderDuties records the member list at first boot and creates the dev namespace, on
// the confirmed metadata leader only.
func (b *Broker) metaLeaderDuties(ctx context.Context) {
	if !b.cl.node.Confirmed(cluster.MetaGroup) {
		return
	}
	var cmd meta.Command
	var err error
	b.meta.View(func(s *meta.State) { cmd, err = meta.BootstrapMembers(s, b.cl.node.Config().Nodes) })
	if err != nil {
		b.log.Error("the recorded cluster member list differs from this node's --cluster; no hub is placed for it", "err", err)
		return
	}
	if cmd != nil {
		if _, err := b.meta.Propose(ctx, cmd); err != nil {
			b.log.Warn("recording the cluster member list", "err", err)
			return
		}
	}
	if b.opts.Dev {
		if _, err := b.Namespace(DevNamespace); errcode.Is(err, errcode.NotFound) {
			if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: DevNamespace, Tier: string(meta.Standard)}); err != nil {
				b.log.Warn("creating dev namespace", "err", err)
			}
		}
	}
}

// wantedReplicas lists the partition groups whose placement names this node.
func (b *Broker) wantedReplicas() map[uint64]*replica {
	want := map[uint64]*replica{}
	b.meta.View(func(s *meta.State) {
		for _, ns := range s.Namespaces() {
			hubs, _ := s.Hubs(ns)
			for _, name := range hubs {
				h, err := s.Hub(ns, name)
				if err != nil {
					continue
				}
				inc, reps, err := s.HubPlacement(ns, name)
				if err != nil {
					continue
				}
				info := b.hubInfo(ns, h)
				for p, peers := range reps {
					if !slices.Contains(peers, b.cl.self) {
						continue
					}
					g, err := cluster.GroupID(inc, p)
					if err != nil {
						continue
					}
					want[g] = &replica{group: g, ns: ns, hub: name, id: int32(p),
						dir: b.partitionDir(info, int32(p)), peers: peers}
				}
			}
		}
	})
	return want
}

// reconcile starts the groups placement gives this node and stops (and deletes the files
// of) the groups of deleted hubs. Replicas open and close outside b.cl.mu, which produce and
// fetch requests to every other partition take: opening a large partition (log recovery)
// must not stall them. Only the reconciler adds and removes replicas (and Close, after it has
// stopped), so nothing else changes the set meanwhile.
func (b *Broker) reconcile() {
	want := b.wantedReplicas()
	b.cl.mu.Lock()
	var gone []*replica
	for g, r := range b.cl.reps {
		if _, ok := want[g]; !ok {
			gone = append(gone, r)
			delete(b.cl.reps, g)
		}
	}
	for g := range want {
		if _, ok := b.cl.reps[g]; ok {
			delete(want, g)
		}
	}
	b.cl.mu.Unlock()
	for _, r := range gone {
		if err := b.cl.node.Host().RemoveGroup(r.group); err != nil {
			b.log.Warn("removing a partition group", "group", r.group, "err", err)
		}
		r.rp.Close()
		if err := os.RemoveAll(r.dir); err != nil {
			b.log.Warn("removing partition files", "dir", r.dir, "err", err)
		}
		os.Remove(filepath.Dir(r.dir)) // the hub directory, once its last partition is gone
	}
	for g, r := range want {
		if err := b.startReplica(r); err != nil {
			b.log.Error("starting a partition replica", "namespace", r.ns, "eventhub", r.hub, "partition", r.id, "group", g, "err", err)
			continue
		}
		b.cl.mu.Lock()
		b.cl.reps[g] = r
		b.cl.mu.Unlock()
	}
}

func (b *Broker) startReplica(r *replica) error {
	rp, err := OpenReplicated(ReplicatedOptions{Namespace: r.ns, Hub: r.hub, ID: r.id,
		Group: r.group, Segments: b.segmentSource(), Log: seglog.Options{
			Dir:          r.dir,
			SegmentBytes: b.opts.SegmentBytes,
			Fsync:        b.opts.Fsync,
			Now:          b.opts.Now,
			Logger:       b.log.With("namespace", r.ns, "eventhub", r.hub, "partition", r.id),
			Name:         fmt.Sprintf("partition %d of %s/%s", r.id, r.ns, r.hub),
			FS:           b.opts.FS,
		}})
	if err != nil {
		return err
	}
	if err := b.cl.node.AddGroup(r.group, r.peers, rp, false); err != nil {
		rp.Close()
		return err
	}
	r.rp = rp
	return nil
}

// leaderReplica returns partition id of h if this node is its confirmed leader.
func (b *Broker) leaderReplica(h HubInfo, id int32) (*replica, error) {
	r, g, err := b.localReplica(h, id)
	if err != nil {
		return nil, err
	}
	if r == nil || !b.cl.node.Confirmed(g) {
		leader := uint64(0)
		if r != nil {
			if st, err := b.cl.node.Status(g); err == nil {
				leader = st.Leader
			}
		}
		return nil, notLeader(h, id, leader)
	}
	return r, nil
}

// localReplica returns this node's replica of partition id of h (nil if it holds none) and
// the partition's group.
func (b *Broker) localReplica(h HubInfo, id int32) (*replica, uint64, error) {
	var g uint64
	var err error
	b.meta.View(func(s *meta.State) { g, err = s.PartitionGroup(h.Namespace, h.Name, id) })
	if err != nil {
		return nil, 0, err
	}
	b.cl.mu.Lock()
	r := b.cl.reps[g]
	b.cl.mu.Unlock()
	return r, g, nil
}

func notLeader(h HubInfo, id int32, leader uint64) error {
	if leader == 0 {
		return errcode.New(errcode.NotLeader, "partition %d of %s/%s has no confirmed leader on this node (an election may be in progress); refresh metadata and retry", id, h.Namespace, h.Name)
	}
	return errcode.New(errcode.NotLeader, "partition %d of %s/%s is led by node %d; refresh metadata and send there", id, h.Namespace, h.Name, leader)
}

// clusterAppend proposes the validated batches through the partition's raft group, one entry
// per batch; each is acknowledged once applied here (a majority has it in its fsynced WAL).
func (b *Broker) clusterAppend(h HubInfo, id int32, batches [][]byte) (AppendResult, *Partition, error) {
	r, err := b.leaderReplica(h, id)
	if err != nil {
		return AppendResult{}, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res AppendResult
	for i, bb := range batches {
		rr, err := r.rp.Append(ctx, b.cl.node.Host(), r.group, bb, b.opts.Now(), int(h.MaxEventBytes))
		if err != nil {
			var ec *errcode.Error
			if errors.As(err, &ec) {
				return AppendResult{}, nil, err
			}
			// Not leader any more, leadership lost while waiting, or shutting down: the
			// outcome may be unknown, and the client retries (idempotent producers dedupe).
			return AppendResult{}, nil, errcode.New(errcode.NotLeader, "partition %d of %s/%s: %w; refresh metadata and retry", id, h.Namespace, h.Name, err)
		}
		if i == 0 {
			res = rr
		}
		res.LastOffset = rr.LastOffset
		res.Duplicate = res.Duplicate && rr.Duplicate
	}
	return res, r.rp.Partition(), nil
}

// segmentSource is where a replica whose raft log was compacted past it copies the batches a
// snapshot covers from: its peers' SegmentsPath, at the HTTP endpoints they recorded in the
// metadata, signed with the cluster secret.
func (b *Broker) segmentSource() SegmentSource {
	// The same clock signs requests as checks them (SegmentHandler), so a test clock works.
	return &HTTPSegmentSource{Client: b.opts.PeerHTTP, Secret: b.cl.node.Config().Secret, Peers: b.segmentPeers, Now: b.opts.Now}
}

// segmentPeers lists the base URLs of the other replicas of group, the leader first.
func (b *Broker) segmentPeers(group uint64) []string {
	var peers []uint64
	b.cl.mu.Lock()
	if r := b.cl.reps[group]; r != nil {
		peers = slices.Clone(r.peers)
	}
	b.cl.mu.Unlock()
	if st, err := b.cl.node.Status(group); err == nil && st.Leader != 0 {
		if i := slices.Index(peers, st.Leader); i > 0 {
			peers[0], peers[i] = peers[i], peers[0]
		}
	}
	var urls []string
	for _, id := range peers {
		if id == b.cl.self {
			continue
		}
		if e, ok := b.MemberEndpoints(id); ok && e.HTTP != "" {
			urls = append(urls, e.HTTP)
		}
	}
	return urls
}

// SegmentHandler serves SegmentsPath to the other nodes (requests signed with the cluster
// secret); nil on a single node and in a cluster without a secret (one node: nobody to serve,
// and an empty key would let anyone sign). Mount it on the HTTP listener at SegmentsPath.
func (b *Broker) SegmentHandler() http.Handler {
	if b.cl == nil || len(b.cl.node.Config().Secret) < cluster.MinSecretLen {
		return nil
	}
	return NewSegmentHandler(b.cl.node.Config().Secret, b.groupReplica, b.opts.Now)
}

// groupReplica is this node's replica of partition group g, or nil.
func (b *Broker) groupReplica(g uint64) *ReplicatedPartition {
	b.cl.mu.Lock()
	defer b.cl.mu.Unlock()
	if r := b.cl.reps[g]; r != nil {
		return r.rp
	}
	return nil
}
