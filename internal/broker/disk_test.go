package broker

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

func openDiskBroker(t *testing.T, opts Options) *Broker {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("counting open files needs /proc: %v", err)
	}
	return len(ents)
}

// TestAuditH2c_PartitionsBeyondBudget reproduces H2(c) at a small scale: one tenant uses more
// partitions than the node's budget of open log files. The open fds stay within the budget
// (plus slack), and every partition still reads, appends and de-duplicates its idempotent
// producers after its files were closed and reopened.
func TestAuditH2c_PartitionsBeyondBudget(t *testing.T) {
	const budget, hubs, parts = 16, 4, 16 // 64 partitions, 4 times the budget
	b := openDiskBroker(t, Options{DataDir: t.TempDir(), MaxOpenLogFiles: budget})
	ctx := context.Background()
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "tenant"}); err != nil {
		t.Fatal(err)
	}
	for h := range hubs {
		if err := b.CreateHub(ctx, "tenant", HubSpec{Name: fmt.Sprintf("h%d", h), Partitions: parts}); err != nil {
			t.Fatal(err)
		}
	}
	pid, err := b.InitProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := openFDs(t)
	const slack = 8 // the Go runtime, the test binary and transient index writes
	var mu sync.Mutex
	maxFDs := base
	observe := func() {
		n := openFDs(t)
		mu.Lock()
		maxFDs = max(maxFDs, n)
		mu.Unlock()
	}
	record := func(h, p int, seq int32) []byte {
		return batch.Build([]batch.Record{{Value: fmt.Appendf(nil, "h%d/%d/%d", h, p, seq)}},
			batch.BuildOptions{ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq})
	}
	// Each hub is used by its own goroutine, so eviction races with appends and reads.
	round := func(seq int32) {
		var wg sync.WaitGroup
		errc := make(chan error, hubs)
		for h := range hubs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hub := fmt.Sprintf("h%d", h)
				for p := range parts {
					res, part, err := b.Append("tenant", hub, int32(p), record(h, p, seq))
					if err == nil && res.Duplicate {
						err = fmt.Errorf("a new sequence was taken for a duplicate")
					}
					if err == nil {
						err = part.WaitDurable(ctx, res.LastOffset+1)
					}
					if err == nil {
						_, err = b.Read(nil, part, 0, 1<<20)
					}
					if err != nil {
						errc <- fmt.Errorf("%s/%d: %w", hub, p, err)
						return
					}
					observe()
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
	}
	round(0)
	round(1)
	if open, _ := b.OpenLogFiles(); open > budget {
		t.Fatalf("%d partition files open with a budget of %d", open, budget)
	}
	if maxFDs > base+budget+slack {
		t.Fatalf("open fds reached %d; %d before the partitions were used, budget %d", maxFDs, base, budget)
	}
	for h := range hubs {
		for p := range parts {
			hub := fmt.Sprintf("h%d", h)
			// The producer state survived the close: a retry of sequence 1 is a duplicate.
			res, part, err := b.Append("tenant", hub, int32(p), record(h, p, 1))
			if err != nil || !res.Duplicate || res.BaseOffset != 1 {
				t.Fatalf("%s/%d: retry after eviction: %+v %v, want a duplicate of offset 1", hub, p, res, err)
			}
			out, err := b.Read(nil, part, 0, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			bs, err := batch.SplitComplete(out)
			if err != nil || len(bs) != 2 {
				t.Fatalf("%s/%d: %d batches (%v), want 2", hub, p, len(bs), err)
			}
			for seq, one := range bs {
				recs, err := batch.Records(one)
				if err != nil || string(recs[0].Value) != fmt.Sprintf("h%d/%d/%d", h, p, seq) {
					t.Fatalf("%s/%d batch %d: %q %v", hub, p, seq, recs[0].Value, err)
				}
			}
		}
	}
	if b.files.Evictions() == 0 {
		t.Fatal("no partition was closed to stay within the budget")
	}
}

// TestAuditM5_FreshNodeFilesPrivate: after a fresh node ran (admin key, metadata, producer ids,
// partition segments and indexes), the data directory and everything in it is private to the
// node's user: directories 0700, files 0600.
func TestAuditM5_FreshNodeFilesPrivate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	b := openDiskBroker(t, Options{DataDir: data, SegmentBytes: 256})
	ctx := context.Background()
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "shop-eu1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutPolicy(ctx, "shop-eu1", "", "sender", []string{"Send"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "shop-eu1", HubSpec{Name: "orders", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.InitProducerID(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 6 { // 256-byte segments: several segments and their indexes
		rec := batch.Build([]batch.Record{{Value: make([]byte, 100)}}, batch.BuildOptions{ProducerID: -1})
		if _, _, err := b.Append("shop-eu1", "orders", int32(i%2), rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %#o, want %#o", strings.TrimPrefix(path, data), info.Mode().Perm(), want)
		}
		kinds[filepath.Ext(path)]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kinds[".log"] < 4 || kinds[".index"] == 0 {
		t.Fatalf("files by extension %v: the test needs partition segments, their indexes and the metadata log", kinds)
	}
	for _, name := range []string{"admin-key", "producer-ids"} {
		if _, err := os.Stat(filepath.Join(data, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditM5_AdminKeyReadableByOthersRefused: a node whose admin-key file is readable by group
// or others does not start, and says how to fix it.
func TestAuditM5_AdminKeyReadableByOthersRefused(t *testing.T) {
	data := t.TempDir()
	b := openDiskBroker(t, Options{DataDir: data})
	key := b.adminKey
	b.Close()
	path := filepath.Join(data, "admin-key")
	for _, mode := range []fs.FileMode{0o644, 0o640, 0o604} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Open(context.Background(), Options{DataDir: data, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Fatalf("start with the admin key at mode %#o: %v; want a refusal naming chmod 600 %s", mode, err, path)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	b = openDiskBroker(t, Options{DataDir: data})
	if b.adminKey != key {
		t.Fatal("the admin key changed across the refused starts")
	}
}

// TestAuditM5_OlderDataDirTightened: a data directory written by an older version (metadata
// log, producer ids and partition files 0644 in 0755 directories) is made private at start,
// and still works. The data directory itself is only warned about (it may be shared on
// purpose); what is in it is private.
func TestAuditM5_OlderDataDirTightened(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	b := openDiskBroker(t, Options{DataDir: data})
	ctx := context.Background()
	if _, err := b.CreateNamespace(ctx, NamespaceSpec{Name: "shop-eu1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHub(ctx, "shop-eu1", HubSpec{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	rec := batch.Build([]batch.Record{{Value: []byte("x")}}, batch.BuildOptions{ProducerID: -1})
	if _, _, err := b.Append("shop-eu1", "orders", 0, rec); err != nil {
		t.Fatal(err)
	}
	b.Close()
	loosened := 0
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || filepath.Base(path) == "admin-key" {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		loosened++
		return os.Chmod(path, mode)
	})
	if err != nil || loosened < 6 {
		t.Fatalf("loosening %d entries: %v", loosened, err)
	}
	b = openDiskBroker(t, Options{DataDir: data})
	err = filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err == nil && path != data && info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s still has mode %#o", path, info.Mode().Perm())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Partition("shop-eu1", "orders", 0)
	if err != nil || p.EndOffset() != 1 {
		t.Fatalf("partition after the restart: %v", err)
	}
}
