package e2e

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/faultproxy"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// raftLink is the directed raft link from one node to another: the connection from dials to
// carry its raft messages to to.
type raftLink struct{ from, to uint64 }

func (l raftLink) String() string { return fmt.Sprintf("%d→%d", l.from, l.to) }

// clusterRig is a region of real `tandem serve` nodes whose every raft link goes through its
// own faultproxy, so the nemesis can cut any directed link; and Kafka clients that ask each
// node what it knows (seed brokers, one per node).
type clusterRig struct {
	t     *testing.T
	c     *nodeproc.Cluster
	rng   *rand.Rand // the nemesis's choices; seeded, so a schedule replays
	links map[raftLink]*faultproxy.Proxy
	ask   *kgo.Client // seeded with every node: its seed brokers are the nodes, in id order
}

// startClusterRig starts n nodes (with args, such as --dev) behind per-link proxies and waits
// until each is ready.
func startClusterRig(t *testing.T, n int, seed uint64, args ...string) *clusterRig {
	t.Helper()
	r := &clusterRig{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), links: map[raftLink]*faultproxy.Proxy{}}
	var mu sync.Mutex
	link := func(from, to uint64, target string) (string, error) {
		p, err := faultproxy.New("127.0.0.1:0", target)
		if err != nil {
			return "", err
		}
		mu.Lock()
		r.links[raftLink{from, to}] = p
		mu.Unlock()
		return p.Addr(), nil
	}
	t.Cleanup(func() {
		for _, p := range r.links {
			p.Close()
		}
	})
	// The nodes' data and logs outlive a failed test, for the post-mortem.
	dir, err := os.MkdirTemp("", "tandem-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the nodes' data directories and logs are kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := nodeproc.StartCluster(ctx, nodeproc.ClusterSpec{Link: link,
		Region: nodeproc.Region{Name: "east", Exe: tandemBin, Nodes: n, Dir: dir, Args: args}})
	if err != nil {
		t.Fatalf("starting a cluster of %d: %v", n, err)
	}
	r.c = c
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c.Stop(ctx)
		if t.Failed() {
			r.dumpLogs()
		}
	})
	r.ask, err = kgo.NewClient(kgo.SeedBrokers(c.KafkaAddrs()...), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.ask.Close)
	// A node is ready before the metadata group has a leader (and, in --dev, before the dev
	// namespace exists) and before every member has recorded its endpoints: wait until every
	// node answers Kafka Metadata naming a controller and listing every node.
	waitFor(t, 60*time.Second, "every node answering Metadata with a metadata leader and every broker", func() (bool, string) {
		var errs []string
		for _, n := range c.Nodes() {
			resp, err := r.metadataOf(context.Background(), n.ID, "")
			switch {
			case err != nil:
				errs = append(errs, err.Error())
			case resp.ControllerID < 0:
				errs = append(errs, fmt.Sprintf("node %d names no controller", n.ID))
			case len(resp.Brokers) != len(c.Nodes()):
				var ids []int32
				for _, b := range resp.Brokers {
					ids = append(ids, b.NodeID)
				}
				errs = append(errs, fmt.Sprintf("node %d lists brokers %v", n.ID, ids))
			}
		}
		return len(errs) == 0, strings.Join(errs, "; ")
	})
	return r
}

// dumpLogs prints the tail of every node's logs, for a failed test.
func (r *clusterRig) dumpLogs() {
	for _, n := range r.c.Nodes() {
		if p := n.Process(); p != nil {
			r.t.Logf("node %d (%s) ends with:\n    %s", n.ID, p.Spec().Log, strings.Join(p.LogTail(30), "\n    "))
		}
	}
}

// seeds are client options that bootstrap with every node.
func (r *clusterRig) seeds() kgo.Opt { return kgo.SeedBrokers(r.c.KafkaAddrs()...) }

// metadataOf asks node id (its seed broker) for the metadata of topic (none when "").
func (r *clusterRig) metadataOf(ctx context.Context, id uint64, topic string) (*kmsg.MetadataResponse, error) {
	seeds := r.ask.SeedBrokers()
	if id < 1 || int(id) > len(seeds) {
		return nil, fmt.Errorf("no node %d", id)
	}
	req := kmsg.NewPtrMetadataRequest()
	if topic != "" {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := seeds[id-1].Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("metadata from node %d: %w", id, err)
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// partitionLeaders asks every node that answers for the leaders of topic's partitions and
// keeps, per partition, the answer with the highest leader epoch (a node cut off may still
// name an old leader). A partition no node gives a leader is absent.
func (r *clusterRig) partitionLeaders(ctx context.Context, topic string) map[int32]uint64 {
	type view struct {
		leader uint64
		epoch  int32
	}
	best := map[int32]view{}
	for _, n := range r.c.Nodes() {
		resp, err := r.metadataOf(ctx, n.ID, topic)
		if err != nil {
			continue
		}
		for _, rt := range resp.Topics {
			if rt.Topic == nil || *rt.Topic != topic || rt.ErrorCode != 0 {
				continue
			}
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 || rp.Leader < 0 {
					continue
				}
				if b, ok := best[rp.Partition]; !ok || rp.LeaderEpoch > b.epoch {
					best[rp.Partition] = view{uint64(rp.Leader), rp.LeaderEpoch}
				}
			}
		}
	}
	out := map[int32]uint64{}
	for p, v := range best {
		out[p] = v.leader
	}
	return out
}

// metadataLeader is the metadata group's leader as most answering nodes name it (Metadata's
// ControllerID), and false when none names one.
func (r *clusterRig) metadataLeader(ctx context.Context) (uint64, bool) {
	votes := map[int32]int{}
	for _, n := range r.c.Nodes() {
		if resp, err := r.metadataOf(ctx, n.ID, ""); err == nil && resp.ControllerID >= 0 {
			votes[resp.ControllerID]++
		}
	}
	var best int32 = -1
	for id, v := range votes {
		if best < 0 || v > votes[best] || (v == votes[best] && id < best) {
			best = id
		}
	}
	return uint64(max(best, 0)), best >= 0
}

// leaderOf is the leader of partition p, waiting up to 30 s for one.
func (r *clusterRig) leaderOf(t *testing.T, topic string, p int32) uint64 {
	t.Helper()
	var id uint64
	waitFor(t, 30*time.Second, fmt.Sprintf("a leader of %s/%d", topic, p), func() (bool, string) {
		ls := r.partitionLeaders(context.Background(), topic)
		l, ok := ls[p]
		id = l
		return ok, fmt.Sprintf("leaders %v", ls)
	})
	return id
}

// randomNode is a node picked with the rig's seeded rng.
func (r *clusterRig) randomNode() *nodeproc.ClusterNode {
	ns := r.c.Nodes()
	return ns[r.rng.IntN(len(ns))]
}

// others are the ids of every node but id.
func (r *clusterRig) others(id uint64) []uint64 {
	var out []uint64
	for _, n := range r.c.Nodes() {
		if n.ID != id {
			out = append(out, n.ID)
		}
	}
	return out
}

// The cluster's faults. Each picks its target when it starts (the leader at that moment, or a
// node drawn from the rig's seeded rng) and logs it.

// killNodeFault kills the node pick names with kill -9; its heal restarts it on its data,
// flags and ports and waits until it is ready.
func (r *clusterRig) killNodeFault(name string, pick func(t *testing.T) uint64) fault {
	var id uint64
	return fault{name: "kill -9 " + name,
		start: func(t *testing.T) {
			id = pick(t)
			t.Logf("nemesis: kill -9 node %d (%s)", id, name)
			if err := r.c.Node(id).Kill(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
		heal: func(t *testing.T) { r.restart(t, id) }}
}

func (r *clusterRig) restart(t *testing.T, id uint64) {
	t.Helper()
	n := r.c.Node(id)
	if n.Running() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := n.Restart(ctx); err != nil {
		t.Fatalf("restarting node %d: %v", id, err)
	}
}

// pauseNodeFault stops the node pick names with SIGSTOP; its heal sends SIGCONT. A node that
// is down (killed by another fault of the step) is left alone.
func (r *clusterRig) pauseNodeFault(name string, pick func(t *testing.T) uint64) fault {
	var id uint64
	return fault{name: "pause " + name,
		start: func(t *testing.T) {
			id = pick(t)
			t.Logf("nemesis: SIGSTOP node %d (%s)", id, name)
			if err := r.c.Node(id).Pause(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
		},
		heal: func(t *testing.T) {
			if err := r.c.Node(id).Resume(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
		}}
}

// isolateFault cuts every raft link to and from the node pick names (both ways: connections
// closed, new ones refused); clients still reach it over Kafka.
func (r *clusterRig) isolateFault(name string, pick func(t *testing.T) uint64) fault {
	var cut []*faultproxy.Proxy
	return fault{name: "isolate " + name,
		start: func(t *testing.T) {
			id := pick(t)
			t.Logf("nemesis: isolate node %d (%s) from its peers", id, name)
			cut = cut[:0]
			for _, o := range r.others(id) {
				cut = append(cut, r.links[raftLink{id, o}], r.links[raftLink{o, id}])
			}
			for _, p := range cut {
				p.Cut()
			}
		},
		heal: func(t *testing.T) {
			for _, p := range cut {
				p.Heal()
			}
		}}
}

// oneWayFault cuts one direction of one raft link: from the node pick names to a peer drawn
// from the rng, the messages from the node stop (held, connections open) while the peer's
// messages to it flow.
func (r *clusterRig) oneWayFault(name string, pick func(t *testing.T) uint64) fault {
	var p *faultproxy.Proxy
	return fault{name: "one-way cut from " + name,
		start: func(t *testing.T) {
			from := pick(t)
			others := r.others(from)
			l := raftLink{from, others[r.rng.IntN(len(others))]}
			t.Logf("nemesis: cut raft link %v one way (%s's messages stop; the reverse link flows)", l, name)
			p = r.links[l]
			p.CutOneWay(faultproxy.Up)
		},
		heal: func(t *testing.T) { p.HealOneWay(faultproxy.Up) }}
}

// healAll undoes every fault that may be left: links healed, nodes resumed and restarted.
func (r *clusterRig) healAll(t *testing.T) {
	t.Helper()
	for _, p := range r.links {
		p.Heal()
	}
	for _, n := range r.c.Nodes() {
		if n.Running() {
			if err := n.Resume(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Error(err)
			}
		}
	}
	for _, n := range r.c.Nodes() {
		r.restart(t, n.ID)
	}
}

// partitionDigest is one replica of a partition on disk: the SHA-256 of its segment files'
// bytes concatenated in offset order (the data), and the files' names and sizes (the layout).
type partitionDigest struct{ content, layout string }

// partitionDigests is, for each partition directory under a node's data directory
// (hubs/<namespace>/<hub>.<incarnation>/<partition>, relative), the digest of its segment
// files (*.log, named by base offset, so name order is offset order).
func partitionDigests(dataDir string) (map[string]partitionDigest, error) {
	files := map[string][]string{}
	root := filepath.Join(dataDir, "hubs")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".log") {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			files[rel] = append(files[rel], path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]partitionDigest{}
	for dir, segs := range files {
		slices.Sort(segs)
		h := sha256.New()
		var layout []string
		for _, f := range segs {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			base := cmp.Or(strings.TrimLeft(strings.TrimSuffix(filepath.Base(f), ".log"), "0"), "0")
			layout = append(layout, fmt.Sprintf("%s:%d", base, len(b)))
			h.Write(b)
		}
		out[dir] = partitionDigest{content: hex.EncodeToString(h.Sum(nil))[:16], layout: strings.Join(layout, " ")}
	}
	return out, nil
}

// replicasDiffer compares the partitions of every node. content is "" when every node holds
// every partition directory and the bytes of its segment files, in offset order, are
// identical; else it says what differs. layout is "" when, besides, the segment files
// themselves are byte-identical (the same files, split at the same offsets); else it says
// where they are split differently.
func replicasDiffer(dataDirs []string) (content, layout string) {
	var all []map[string]partitionDigest
	dirs := map[string]bool{}
	for _, d := range dataDirs {
		m, err := partitionDigests(d)
		if err != nil {
			return err.Error(), ""
		}
		all = append(all, m)
		for k := range m {
			dirs[k] = true
		}
	}
	if len(dirs) == 0 {
		return "no partition segment files on any node", ""
	}
	var cs, ls []string
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		var cd, ld []string
		sameContent, sameLayout := true, true
		for i, m := range all {
			d, ok := m[dir]
			cd = append(cd, fmt.Sprintf("node %d %s", i+1, cmp.Or(d.content, "missing")))
			ld = append(ld, fmt.Sprintf("node %d [%s]", i+1, d.layout))
			sameContent = sameContent && ok && d.content == all[0][dir].content
			sameLayout = sameLayout && d.layout == all[0][dir].layout
		}
		if !sameContent {
			cs = append(cs, dir+": "+strings.Join(cd, ", "))
		}
		if !sameLayout {
			ls = append(ls, dir+" segments (base offset:bytes): "+strings.Join(ld, ", "))
		}
	}
	return strings.Join(cs, "; "), strings.Join(ls, "; ")
}

// TestReplicasDiffer: the byte-identity check sees a changed byte, a missing segment file and
// a missing partition, tells replicas whose data is identical but split into segments at other
// offsets, and passes identical replicas.
func TestReplicasDiffer(t *testing.T) {
	write := func(dir, rel, body string) {
		path := filepath.Join(dir, "hubs", rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	replicas := func(mutate func(dirs []string)) []string {
		dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
		for _, d := range dirs {
			write(d, "dev/h.1/0/00000000000000000000.log", "batch one")
			write(d, "dev/h.1/0/00000000000000000009.log", "batch two")
			write(d, "dev/h.1/0/00000000000000000000.index", "index "+d) // not a segment: ignored
			write(d, "dev/h.1/1/00000000000000000000.log", "other partition")
		}
		mutate(dirs)
		return dirs
	}
	if c, l := replicasDiffer(replicas(func([]string) {})); c != "" || l != "" {
		t.Errorf("identical replicas differ: %s %s", c, l)
	}
	for name, mutate := range map[string]func([]string){
		"a changed byte":   func(ds []string) { write(ds[2], "dev/h.1/0/00000000000000000009.log", "batch twO") },
		"a missing file":   func(ds []string) { os.Remove(filepath.Join(ds[1], "hubs/dev/h.1/0/00000000000000000009.log")) },
		"a missing dir":    func(ds []string) { os.RemoveAll(filepath.Join(ds[0], "hubs/dev/h.1/1")) },
		"a longer replica": func(ds []string) { write(ds[1], "dev/h.1/1/00000000000000000000.log", "other partition+") },
	} {
		if c, _ := replicasDiffer(replicas(mutate)); c == "" {
			t.Errorf("replicas with %s do not differ", name)
		}
	}
	// The same bytes split at another offset (a replica that installed shipped segments).
	split := replicas(func(ds []string) {
		write(ds[1], "dev/h.1/1/00000000000000000000.log", "other ")
		write(ds[1], "dev/h.1/1/00000000000000000006.log", "partition")
	})
	if c, l := replicasDiffer(split); c != "" || !strings.Contains(l, "dev/h.1/1") || strings.Contains(l, "dev/h.1/0") {
		t.Errorf("replicas split at other offsets: content diff %q (want none), layout diff %q (want partition 1 only)", c, l)
	}
	if c, _ := replicasDiffer([]string{t.TempDir(), t.TempDir()}); c == "" {
		t.Error("replicas without segment files pass; the check must not pass vacuously")
	}
}
