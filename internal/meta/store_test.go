package meta

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T, dir string, every int) *Store {
	t.Helper()
	s, err := Open(StoreOptions{Dir: dir, SnapshotEvery: every, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func storeSnap(t *testing.T, s *Store) []byte {
	t.Helper()
	b, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// proposeHubs creates the base namespace (if missing) and then hubs h0..h(n-1).
func proposeHubs(t *testing.T, s *Store, from, n int) {
	t.Helper()
	ctx := context.Background()
	if s.Index() == 0 {
		for _, c := range baseCommands() {
			if _, err := s.Propose(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := from; i < from+n; i++ {
		if _, err := s.Propose(ctx, CreateHub{Namespace: ns, Hub: fmt.Sprintf("h%d", i), Time: t0}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStoreRestartRecovers(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	proposeHubs(t, s, 0, 50)
	want, idx := storeSnap(t, s), s.Index()
	if idx != uint64(len(baseCommands())+50) {
		t.Fatalf("index %d", idx)
	}
	// A failing proposal writes nothing and does not use an index.
	if _, err := s.Propose(context.Background(), CreateHub{Namespace: ns, Hub: "h1"}); !errcode.Is(err, errcode.AlreadyExists) {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Propose(context.Background(), DeleteHub{Namespace: ns, Hub: "h1"}); err != ErrClosed {
		t.Fatalf("Propose after Close: %v", err)
	}
	s = openStore(t, dir, 0)
	defer s.Close()
	if s.Index() != idx || !bytes.Equal(want, storeSnap(t, s)) {
		t.Fatalf("reopened at %d with a different state", s.Index())
	}
	if i, err := s.Propose(context.Background(), DeleteHub{Namespace: ns, Hub: "h1"}); err != nil || i != idx+1 {
		t.Fatalf("Propose after reopen: %d %v", i, err)
	}
}

func TestStoreSnapshotAndReplay(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 10)
	proposeHubs(t, s, 0, 42) // 47 commands: snapshots at 10, 20, 30, 40
	want, idx := storeSnap(t, s), s.Index()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := listNumbered(dir, snapPrefix, snapSuffix)
	segs, _ := listNumbered(dir, segPrefix, segSuffix)
	if len(snaps) != 2 || snaps[0].first != 30 || snaps[1].first != 40 {
		t.Fatalf("snapshots %v; want the two newest, 30 and 40", snaps)
	}
	if len(segs) != 2 || segs[0].first != 31 || segs[1].first != 41 {
		t.Fatalf("segments %v; want the log after snapshot 30", segs)
	}
	s = openStore(t, dir, 10)
	if s.Index() != idx || !bytes.Equal(want, storeSnap(t, s)) {
		t.Fatal("snapshot + replay gave a different state")
	}
	s.Close()
	// A damaged newest snapshot falls back to the older one and the log after it.
	if err := os.WriteFile(snapshotPath(dir, 40), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, 10)
	defer s.Close()
	if s.Index() != idx || !bytes.Equal(want, storeSnap(t, s)) {
		t.Fatal("fallback to the older snapshot gave a different state")
	}
}

func TestStoreTornTail(t *testing.T) {
	for _, chop := range []int{1, 5, frameHeader, frameHeader + 3} {
		t.Run(fmt.Sprint(chop), func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, 0)
			proposeHubs(t, s, 0, 10)
			idx := s.Index()
			s.Close()
			segs, _ := listNumbered(dir, segPrefix, segSuffix)
			last := segs[len(segs)-1].path
			fi, _ := os.Stat(last)
			if err := os.Truncate(last, fi.Size()-int64(chop)); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, dir, 0)
			defer s.Close()
			if s.Index() != idx-1 {
				t.Fatalf("index %d after chopping the last entry; want %d", s.Index(), idx-1)
			}
			var err error
			s.View(func(st *State) { _, err = st.Hub(ns, "h8") })
			if err != nil {
				t.Fatalf("an earlier command was lost: %v", err)
			}
			// The log is writable again at the next index, and survives another restart.
			if i, err := s.Propose(context.Background(), CreateHub{Namespace: ns, Hub: "h9"}); err != nil || i != idx {
				t.Fatalf("Propose: %d %v", i, err)
			}
		})
	}
}

func TestStoreCorruptTailGarbage(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	proposeHubs(t, s, 0, 3)
	idx := s.Index()
	s.Close()
	segs, _ := listNumbered(dir, segPrefix, segSuffix)
	f, _ := os.OpenFile(segs[0].path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(appendFrame(nil, idx+1, []byte("x"))[:frameHeader]) // a frame header with no payload
	f.Write(make([]byte, 100))                                  // and zeros, as after a crash
	f.Close()
	s = openStore(t, dir, 0)
	defer s.Close()
	if s.Index() != idx {
		t.Fatalf("index %d, want %d", s.Index(), idx)
	}
	fi, _ := os.Stat(segs[0].path)
	if data, _ := os.ReadFile(segs[0].path); fi.Size() != int64(len(data)) || len(data) == 0 {
		t.Fatal("segment not truncated")
	}
}

func TestStoreConcurrentProposers(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 25)
	proposeHubs(t, s, 0, 0)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	idxs := make(chan uint64, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var c Command = CommitOffsets{Namespace: ns, Group: fmt.Sprintf("g%d", w), Hub: "orders",
					Offsets: []PartitionOffset{{int32(i % 4), int64(i), ""}}}
				if i%10 == 0 {
					c = CreateHub{Namespace: ns, Hub: fmt.Sprintf("w%d-%d", w, i)}
				}
				idx, err := s.Propose(context.Background(), c)
				if err != nil {
					t.Error(err)
					return
				}
				idxs <- idx
			}
		}()
	}
	readers := make(chan struct{})
	go func() { // readers run alongside the writers
		defer close(readers)
		for s.Index() < uint64(workers*each) {
			s.View(func(st *State) { _, _ = st.Namespace(ns) })
		}
	}()
	wg.Wait()
	<-readers
	close(idxs)
	seen := map[uint64]bool{}
	for i := range idxs {
		if seen[i] {
			t.Fatalf("index %d acknowledged twice", i)
		}
		seen[i] = true
	}
	want := storeSnap(t, s)
	s.Close()
	s = openStore(t, dir, 25)
	defer s.Close()
	if !bytes.Equal(want, storeSnap(t, s)) || s.Index() != uint64(len(baseCommands())+workers*each) {
		t.Fatalf("state after reopen differs (index %d)", s.Index())
	}
}

func TestStoreReadFromAndFollower(t *testing.T) {
	primary := openStore(t, t.TempDir(), 10)
	defer primary.Close()
	follower := openStore(t, t.TempDir(), 10)
	defer follower.Close()

	ctx, cancel := context.WithCancel(context.Background())
	shipped := make(chan error, 1)
	go func() { // a geo-DR shipper: long-poll the primary, apply on the follower
		var last uint64
		for {
			if err := primary.Wait(ctx, last+1); err != nil {
				shipped <- nil
				return
			}
			es, err := primary.ReadFrom(last, 7)
			if err == nil {
				err = follower.Apply(ctx, es)
			}
			if err != nil {
				if ctx.Err() != nil {
					err = nil // cancelled after the follower caught up; Apply may report it
				}
				shipped <- err
				return
			}
			last = es[len(es)-1].Index
		}
	}()
	proposeHubs(t, primary, 0, 30)
	if err := follower.Wait(ctx, primary.Index()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-shipped; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(storeSnap(t, primary), storeSnap(t, follower)) {
		t.Fatal("follower state differs from primary")
	}
	// Compacted entries are reported, and the follower refuses an out-of-order entry.
	if _, err := primary.ReadFrom(0, 0); !errcode.Is(err, errcode.OffsetOutOfRange) {
		t.Fatalf("ReadFrom(0) after compaction: %v", err)
	}
	if es, err := primary.ReadFrom(primary.Index()-3, 0); err != nil || len(es) != 3 || es[2].Index != primary.Index() {
		t.Fatalf("ReadFrom tail: %v %v", es, err)
	}
	err := follower.Apply(context.Background(), []Entry{{Index: 2, Command: DeleteHub{Namespace: ns, Hub: "h1"}}})
	if !errcode.Is(err, errcode.Conflict) {
		t.Fatalf("out-of-order Apply: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(StoreOptions{}); !errcode.Is(err, errcode.InvalidArgument) {
		t.Fatal(err)
	}
	// Corruption in a segment that is not the last one is not silently truncated.
	dir := t.TempDir()
	s := openStore(t, dir, 10)
	proposeHubs(t, s, 0, 10)
	s.Close()
	segs, _ := listNumbered(dir, segPrefix, segSuffix)
	os.Remove(filepath.Join(dir, "snap-00000000000000000010.json"))
	data, _ := os.ReadFile(segs[0].path)
	data[len(data)-1] ^= 0xff
	os.WriteFile(segs[0].path, data, 0o644)
	if _, err := Open(StoreOptions{Dir: dir, Logger: quietLogger()}); !errcode.Is(err, errcode.CorruptData) {
		t.Fatalf("Open with a corrupt middle segment: %v", err)
	}
}

// TestReadFromTailMatchesSegments checks that entries served from the in-memory tail are the
// ones a reopened store reads from its log segments.
func TestReadFromTailMatchesSegments(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	proposeHubs(t, s, 0, 40)
	live, err := s.ReadFrom(5, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := openStore(t, dir, 0)
	defer r.Close()
	disk, err := r.ReadFrom(5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) == 0 || !reflect.DeepEqual(live, disk) {
		t.Fatalf("tail and segments differ:\n tail %+v\n disk %+v", live, disk)
	}
	if page, _ := s.tail.read(5, s.Index(), 3); len(page) != 3 || page[0].Index != 6 {
		t.Fatalf("a page of 3 after 5 from the tail: %+v", page)
	}
}
