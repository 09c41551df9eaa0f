package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// openSingle runs a single node on dir with one event hub, and stops it.
func openSingle(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	b, err := Open(ctx, Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, DevNamespace, HubSpec{Name: "orders", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// openMember starts a cluster member on dir with the given --cluster list.
func openMember(t *testing.T, dir, members string) (*Broker, error) {
	t.Helper()
	cfg, _, err := cluster.ParseConfig(1, "", members, []byte("0123456789abcdef-secret"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler), Cluster: n})
	if err != nil {
		n.Close()
		return nil, err
	}
	return b, nil
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestClusterRefusesSingleNodeDataInAMultiMemberCluster(t *testing.T) {
	dir := t.TempDir()
	openSingle(t, dir)
	p := freePort(t)
	members := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.1:%d,3=c@127.0.0.1:%d", p, p+1, p+2)
	b, err := openMember(t, dir, members)
	if err == nil {
		b.Close()
		t.Fatal("a member of a 3-node cluster started on a single node's data directory")
	}
	if !errcode.Is(err, errcode.Conflict) || !strings.Contains(err.Error(), "start it as a one-node cluster") {
		t.Fatalf("the refusal does not say what to do: %v", err)
	}
	// The single node's data is untouched: it starts again as a single node with its hub.
	b, err = Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Hub(DevNamespace, "orders"); err != nil {
		t.Fatalf("the single node lost its hub after the refusal: %v", err)
	}
}

// singleNodeWithData runs a single node on dir with hub orders (2 partitions) holding batches
// of an idempotent producer, and returns the partitions' end offsets and the last batch sent
// to partition 0.
func singleNodeWithData(t *testing.T, dir string) (ends [2]int64, last []byte) {
	t.Helper()
	openSingle(t, dir)
	b, err := Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for p := range int32(2) {
		for i := range 5 {
			last = kgoBatch(7, 0, int32(i*3), 3, 1_700_000_000_000)
			if _, _, err := b.Append(DevNamespace, "orders", p, last); err != nil {
				t.Fatal(err)
			}
		}
		part, err := b.Partition(DevNamespace, "orders", p)
		if err != nil {
			t.Fatal(err)
		}
		ends[p] = part.EndOffset()
	}
	return ends, kgoBatch(7, 0, 12, 3, 1_700_000_000_000) // partition 1's last batch again: same producer, seq 12
}

// checkUpgraded opens dir as a one-node cluster and checks that hub orders kept its offsets
// and its producer state: a retried batch is a duplicate, a new one lands at the old end.
func checkUpgraded(t *testing.T, dir, members string, ends [2]int64, retry []byte) {
	t.Helper()
	b, err := openMember(t, dir, members)
	if err != nil {
		t.Fatalf("a one-node cluster did not start on a single node's data: %v", err)
	}
	defer b.Close()
	pollUntil(t, "the upgraded hub's partitions to be led here", func() bool {
		_, err0 := b.Partition(DevNamespace, "orders", 0)
		_, err1 := b.Partition(DevNamespace, "orders", 1)
		return err0 == nil && err1 == nil
	})
	for p := range int32(2) {
		part, err := b.Partition(DevNamespace, "orders", p)
		if err != nil {
			t.Fatal(err)
		}
		if part.EndOffset() != ends[p] {
			t.Fatalf("partition %d ends at %d after the upgrade, at %d before", p, part.EndOffset(), ends[p])
		}
	}
	res, _, err := b.Append(DevNamespace, "orders", 1, retry)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Duplicate {
		t.Fatalf("a producer's retried batch was appended again at %d: the producer state was lost in the upgrade", res.BaseOffset)
	}
	res, _, err = b.Append(DevNamespace, "orders", 1, kgoBatch(7, 0, 15, 3, 1_700_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseOffset != ends[1] || res.Duplicate {
		t.Fatalf("the first batch after the upgrade went to offset %d (duplicate %v), want %d", res.BaseOffset, res.Duplicate, ends[1])
	}
}

func oneNodeMembers(t *testing.T) string {
	return fmt.Sprintf("1=a@127.0.0.1:%d", freePort(t))
}

func TestClusterUpgradesSingleNodeDataInPlace(t *testing.T) {
	dir := t.TempDir()
	ends, retry := singleNodeWithData(t, dir)
	members := oneNodeMembers(t)
	checkUpgraded(t, dir, members, ends, retry)
	if _, err := os.Stat(filepath.Join(dir, "meta")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the single-node metadata is still in %s/meta after the upgrade: %v", dir, err)
	}
	// Restarted, the cluster member has everything, the batch written after the upgrade too.
	b, err := openMember(t, dir, members)
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "partition 1 to be led after a restart", func() bool {
		p, err := b.Partition(DevNamespace, "orders", 1)
		return err == nil && p.EndOffset() == ends[1]+3
	})
	b.Close()
	// A single node is refused on the member's directory, which it would misread.
	if b, err := Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler)}); err == nil {
		b.Close()
		t.Fatal("a single node started on a cluster member's data directory")
	} else if !strings.Contains(err.Error(), "--cluster") {
		t.Fatalf("the refusal does not say to start with --cluster: %v", err)
	}
}

// A crash in the middle of the upgrade leaves a usable directory: before the new metadata is in
// place, the single node's (which still runs on it) and the upgrade runs again; after, the
// cluster's, and the move of the old metadata is finished.
func TestClusterUpgradeSurvivesACrashMidway(t *testing.T) {
	t.Run("before the new metadata is in place", func(t *testing.T) {
		dir := t.TempDir()
		ends, retry := singleNodeWithData(t, dir)
		// The crash came after the partitions got their checkpoints and while the new
		// metadata directory was being written.
		opts := Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler)}
		errStop := errors.New("crash")
		err := meta.UpgradeToRaft(filepath.Join(dir, "meta"), filepath.Join(dir, "meta-raft"), opts.Logger, func(s *meta.State) error {
			b := &Broker{opts: opts}
			h, err := s.Hub(DevNamespace, "orders")
			if err != nil {
				return err
			}
			info := b.hubInfo(DevNamespace, h)
			for p := range h.PartitionCount {
				if err := checkpointSingleNodeLog(opts, info, p, b.partitionDir(info, p)); err != nil {
					return err
				}
			}
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "meta-raft.upgrading"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "meta-raft.upgrading", "ckpt-00000000000000000000.json.tmp"), []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
		// The single node still runs on it, and writes more.
		b, err := Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("the single node does not start after a crash in the upgrade: %v", err)
		}
		if _, _, err := b.Append(DevNamespace, "orders", 0, kgoBatch(8, 0, 0, 2, 1_700_000_000_000)); err != nil {
			t.Fatal(err)
		}
		p0, _ := b.Partition(DevNamespace, "orders", 0)
		if p0.EndOffset() != ends[0]+2 {
			t.Fatalf("partition 0 ends at %d, want %d", p0.EndOffset(), ends[0]+2)
		}
		ends[0] += 2
		b.Close()
		checkUpgraded(t, dir, oneNodeMembers(t), ends, retry)
	})
	t.Run("after the new metadata is in place", func(t *testing.T) {
		dir := t.TempDir()
		ends, retry := singleNodeWithData(t, dir)
		members := oneNodeMembers(t)
		if err := upgradeSingleNode(Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatal(err)
		}
		// The crash came before the old metadata was moved aside.
		if err := os.Rename(filepath.Join(dir, "meta"+meta.PreClusterSuffix), filepath.Join(dir, "meta")); err != nil {
			t.Fatal(err)
		}
		checkUpgraded(t, dir, members, ends, retry)
		if _, err := os.Stat(filepath.Join(dir, "meta"+meta.PreClusterSuffix)); err != nil {
			t.Fatalf("the move of the old metadata was not finished: %v", err)
		}
	})
}
