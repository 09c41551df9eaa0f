package broker

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/cluster"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// gateFS is the operating system's filesystem, except that while armed every OpenFile of a
// path containing match blocks until release is closed (the first one closes entered): a
// slow disk under one partition.
type gateFS struct {
	seglog.OSFS
	match   string
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	opens   atomic.Int32 // OpenFile calls of matching .log files while armed
}

func (g *gateFS) OpenFile(name string, flag int, perm fs.FileMode) (seglog.File, error) {
	if g.armed.Load() && strings.Contains(name, g.match) {
		if strings.HasSuffix(name, ".log") {
			g.opens.Add(1)
		}
		g.once.Do(func() { close(g.entered) })
		<-g.release
	}
	return g.OSFS.OpenFile(name, flag, perm)
}

// TestPartitionOpenDoesNotBlockOtherPartitions holds the first open of one partition after a
// restart back with a slow filesystem, and checks that produce and fetch requests to another
// hub are answered meanwhile, that a second user of the opening partition waits for the same
// open (the log is opened once), and that the open then replays no batch header: the clean
// close left a producer snapshot.
func TestPartitionOpenDoesNotBlockOtherPartitions(t *testing.T) {
	const deadline = 30 * time.Second
	dir := t.TempDir()
	ctx := context.Background()
	idem := func(pid int64, seq int32) []byte {
		return batch.Build([]batch.Record{{Value: []byte("v")}}, batch.BuildOptions{ProducerID: pid, BaseSequence: seq})
	}

	b1 := openDiskBroker(t, Options{DataDir: dir})
	if _, err := b1.CreateNamespace(ctx, NamespaceSpec{Name: "tenant"}); err != nil {
		t.Fatal(err)
	}
	for _, hub := range []string{"big", "small"} {
		if err := b1.CreateHub(ctx, "tenant", HubSpec{Name: hub, Partitions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	pid, err := b1.InitProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := range int32(50) {
		for _, hub := range []string{"big", "small"} {
			if _, _, err := b1.Append("tenant", hub, 0, idem(pid, seq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}

	gate := &gateFS{match: string(filepath.Separator) + "big.", entered: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(gate.release) }) }
	b2 := openDiskBroker(t, Options{DataDir: dir, FS: gate})
	t.Cleanup(release) // before b2's Close, which waits for the open in progress
	gate.armed.Store(true)

	type result struct {
		res AppendResult
		p   *Partition
		err error
	}
	first := make(chan result, 1)
	go func() {
		res, p, err := b2.Append("tenant", "big", 0, idem(pid, 49)) // a retry: a duplicate
		first <- result{res, p, err}
	}()
	select {
	case <-gate.entered:
	case <-time.After(deadline):
		t.Fatal("the first produce to the big partition never reached its filesystem")
	}
	second := make(chan result, 1)
	go func() {
		p, err := b2.Partition("tenant", "big", 0)
		second <- result{p: p, err: err}
	}()

	// The big partition is stuck opening: the small hub must still be served.
	other := make(chan error, 1)
	go func() {
		res, p, err := b2.Append("tenant", "small", 0, idem(pid, 50))
		if err == nil {
			_, err = b2.Read(nil, p, res.BaseOffset, 1<<20)
		}
		other <- err
	}()
	select {
	case err := <-other:
		if err != nil {
			t.Fatalf("produce and fetch on the small hub: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("a produce to another hub waited for the open of the big partition")
	}
	select {
	case r := <-first:
		t.Fatalf("the big partition was used before its open finished: %+v", r)
	case r := <-second:
		t.Fatalf("a second user got the big partition before its open finished: %+v", r)
	default:
	}

	release()
	r1, r2 := <-first, <-second
	if r1.err != nil || r2.err != nil {
		t.Fatalf("uses of the big partition after its open: %v, %v", r1.err, r2.err)
	}
	if !r1.res.Duplicate || r1.res.BaseOffset != 49 {
		t.Fatalf("retry of sequence 49 after the restart: %+v, want a duplicate at offset 49", r1.res)
	}
	if r1.p != r2.p {
		t.Fatal("two uses of the opening partition got different partitions")
	}
	if n := gate.opens.Load(); n != 1 {
		t.Fatalf("the big partition's segment was opened %d times, want once", n)
	}
	if r1.p.replayed != 0 {
		t.Fatalf("the open after a clean close replayed %d batch headers, want 0 (the close writes a producer snapshot)", r1.p.replayed)
	}
}

// TestPartitionOpenFailureIsRetried checks that a failed open is forgotten: the next use
// opens the partition again.
func TestPartitionOpenFailureIsRetried(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b := openDiskBroker(t, Options{DataDir: dir})
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "tenant"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "tenant", HubSpec{Name: "h", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	h, err := b.Hub("tenant", "h")
	if err != nil {
		t.Fatal(err)
	}
	// A file where the partition's directory belongs makes the open fail.
	pdir := b.partitionDir(h, 0)
	if err := os.MkdirAll(filepath.Dir(pdir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := seglog.WriteFileDurable(seglog.OSFS{}, pdir, []byte("not a directory")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Partition("tenant", "h", 0); err == nil {
		t.Fatal("a partition whose directory is a file opened")
	}
	if err := os.Remove(pdir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Append("tenant", "h", 0, batch.Build([]batch.Record{{Value: []byte("v")}}, batch.BuildOptions{ProducerID: -1})); err != nil {
		t.Fatalf("the open after the failure was not retried: %v", err)
	}
}

// TestClusterReplicaOpenDoesNotBlockOtherPartitions holds the open of a new hub's replica on
// a one-node cluster back with a slow filesystem, and checks that produces to another hub's
// partition are answered meanwhile: the reconciler opens replicas outside the lock that the
// produce path takes to find its replica.
func TestClusterReplicaOpenDoesNotBlockOtherPartitions(t *testing.T) {
	const deadline = 30 * time.Second
	cfg, _, err := cluster.ParseConfig(1, "", fmt.Sprintf("1=a@127.0.0.1:%d", freePort(t)), []byte("0123456789abcdef0123"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cn, err := cluster.Open(context.Background(), cluster.Options{Config: cfg, DataDir: dir,
		Logger: slog.New(slog.DiscardHandler), TickInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	gate := &gateFS{match: string(filepath.Separator) + "big.", entered: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(gate.release) }) }
	b, err := Open(context.Background(), Options{DataDir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler), Cluster: cn, FS: gate})
	if err != nil {
		cn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	t.Cleanup(release) // runs first: Close waits for the reconciler, which waits for the gate
	ctx := context.Background()
	rec := func() []byte {
		return batch.Build([]batch.Record{{Value: []byte("v")}}, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
	}
	pollUntil(t, "the dev namespace and hub small exist", func() bool {
		if _, err := b.Namespace(DevNamespace); err != nil {
			return false
		}
		err := b.CreateHub(ctx, DevNamespace, HubSpec{Name: "small", Partitions: 1})
		return err == nil || errcode.Is(err, errcode.AlreadyExists)
	})
	pollUntil(t, "a produce to hub small succeeds", func() bool {
		_, _, err := b.Append(DevNamespace, "small", 0, rec())
		return err == nil
	})
	gate.armed.Store(true)
	if err := b.CreateHub(ctx, DevNamespace, HubSpec{Name: "big", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate.entered:
	case <-time.After(deadline):
		t.Fatal("the replica of hub big never reached its filesystem")
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := b.Append(DevNamespace, "small", 0, rec())
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("produce to hub small while big's replica opens: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("a produce to another hub waited for the open of a new replica")
	}
	release()
	pollUntil(t, "a produce to hub big succeeds after its open", func() bool {
		_, _, err := b.Append(DevNamespace, "big", 0, rec())
		return err == nil
	})
}
