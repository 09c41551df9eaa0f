package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// segNode is an in-process cluster member serving the segment route on real TCP.
type segNode struct {
	b   *Broker
	srv *httptest.Server
}

func startSegCluster(t *testing.T, secret []byte) []*segNode {
	t.Helper()
	members := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.1:%d,3=c@127.0.0.1:%d", freePort(t), freePort(t), freePort(t))
	var nodes []*segNode
	for i := uint64(1); i <= 3; i++ {
		cfg, _, err := cluster.ParseConfig(i, "", members, secret)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cn, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir,
			Logger: slog.New(slog.DiscardHandler), TickInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler), Cluster: cn})
		if err != nil {
			cn.Close()
			t.Fatal(err)
		}
		h := b.SegmentHandler()
		if h == nil {
			t.Fatal("a cluster member with a secret has no segment handler")
		}
		n := &segNode{b: b, srv: httptest.NewServer(h)}
		b.SetEndpoints(meta.Endpoints{HTTP: n.srv.URL})
		t.Cleanup(func() { n.srv.Close(); n.b.Close() })
		nodes = append(nodes, n)
	}
	return nodes
}

// A replica fetches a partition's batches from a peer over the segment route: the peers come
// from the HTTP endpoints members recorded in the metadata, the request is signed with the
// cluster secret, and the bytes are the peer's segment bytes.
func TestClusterSegmentsFromAPeer(t *testing.T) {
	secret := []byte("0123456789abcdef-secret")
	nodes := startSegCluster(t, secret)
	ctx := context.Background()
	pollUntil(t, "the hub to be created through the metadata leader", func() bool {
		for _, n := range nodes {
			err := n.b.CreateHub(ctx, DevNamespace, HubSpec{Name: "orders", Partitions: 1})
			if err == nil || errcode.Is(err, errcode.AlreadyExists) {
				return true
			}
		}
		return false
	})
	var leader *segNode
	pollUntil(t, "a leader of partition 0", func() bool {
		for _, n := range nodes {
			if _, err := n.b.Partition(DevNamespace, "orders", 0); err == nil {
				leader = n
				return true
			}
		}
		return false
	})
	for i := range 20 {
		if _, _, err := leader.b.Append(DevNamespace, "orders", 0, kgoBatch(9, 0, int32(i*2), 2, 1_700_000_000_000)); err != nil {
			t.Fatal(err)
		}
	}
	const end = 40
	var g uint64
	leader.b.meta.View(func(s *meta.State) { g, _ = s.PartitionGroup(DevNamespace, "orders", 0) })
	metaLeader := uint64(0)
	pollUntil(t, "a metadata leader with recorded endpoints", func() bool {
		st, err := nodes[0].b.cl.node.Status(cluster.MetaGroup)
		if err != nil || st.Leader == 0 {
			return false
		}
		metaLeader = st.Leader
		_, ok := nodes[0].b.MemberEndpoints(metaLeader)
		return ok
	})
	// A member other than the metadata leader: its peers include the metadata leader, whose
	// endpoints are recorded whoever else's are.
	f := nodes[metaLeader%3]
	pollUntil(t, "every replica to apply every batch", func() bool {
		for _, n := range nodes {
			if rp := n.b.groupReplica(g); rp == nil || rp.Partition().EndOffset() != end {
				return false
			}
		}
		return true
	})
	if peers := f.b.segmentPeers(g); len(peers) == 0 || !strings.HasPrefix(peers[0], "http://127.0.0.1:") {
		t.Fatalf("segment peers of group %d: %v", g, peers)
	}
	rc, err := f.b.segmentSource().Fetch(ctx, g, 0, end)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	own, err := f.b.groupReplica(g).ReadRange(0, end)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(own)
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Fatalf("fetched %d bytes from a peer, the replica holds %d (equal: %v)", len(got), len(want), bytes.Equal(got, want))
	}
	// A replica that fell behind a snapshot (here: a new, empty one) installs the batches the
	// snapshot covers from a peer through this source, and ends up with the same bytes.
	lead := leader.b.groupReplica(g)
	data, err := lead.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	behindDir := t.TempDir()
	behind, err := OpenReplicated(ReplicatedOptions{Namespace: DevNamespace, Hub: "orders", ID: 0, Group: g,
		Segments: f.b.segmentSource(), Log: seglog.Options{Dir: behindDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer behind.Close()
	snap := &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(lead.Applied()), Term: proto.Uint64(1)}}
	if err := behind.Restore(snap); err != nil {
		t.Fatalf("installing a snapshot from a peer over the segment route: %v", err)
	}
	if behind.Partition().EndOffset() != end || behind.Applied() != lead.Applied() {
		t.Fatalf("after the install the replica ends at %d, applied %d; the leader at %d, applied %d",
			behind.Partition().EndOffset(), behind.Applied(), end, lead.Applied())
	}
	installed, err := behind.ReadRange(0, end)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(installed); !bytes.Equal(b, want) {
		t.Fatal("the installed batches differ from the peer's")
	}

	// Signed with another secret, the peers refuse.
	wrong := &HTTPSegmentSource{Secret: []byte("not-the-cluster-secret"), Peers: f.b.segmentPeers}
	if rc, err := wrong.Fetch(ctx, g, 0, end); err == nil || !strings.Contains(err.Error(), "401") {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("a fetch signed with the wrong secret: %v", err)
	}
}

// A single node serves no segment route.
func TestSingleNodeHasNoSegmentHandler(t *testing.T) {
	b, err := Open(context.Background(), Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.SegmentHandler() != nil {
		t.Fatal("a single node serves the segment route")
	}
}
