package meta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRaftStoreReplicates: commands proposed at the leader are applied by all three replicas at
// dense indexes with identical state and logs; a command that fails (at the leader's check or
// at apply) takes no index and changes nothing; a follower proposes through the leader.
func TestRaftStoreReplicates(t *testing.T) {
	c := newRaftCluster(t, -1, 0)
	ctx := testCtx(t)
	l := c.waitLeader()
	var want uint64
	for _, cmd := range baseCommands() {
		idx, err := c.propose(ctx, cmd)
		want++
		if err != nil || idx != want {
			t.Fatalf("propose %s: index %d (want %d), %v", cmd.Type(), idx, want, err)
		}
	}
	for i := range 20 {
		hub := fmt.Sprintf("h%d", i)
		for _, cmd := range []Command{
			CreateHub{Namespace: ns, Hub: hub, Time: t0},
			CreateGroup{Namespace: ns, Hub: hub, Group: "g", Time: t0},
			CommitOffsets{Namespace: ns, Group: "g", Hub: hub, Offsets: []PartitionOffset{{1, int64(i), ""}}, Time: t0},
		} {
			idx, err := c.propose(ctx, cmd)
			want++
			if err != nil || idx != want {
				t.Fatalf("propose %s: index %d (want %d), %v", cmd.Type(), idx, want, err)
			}
		}
	}
	// Refused by the leader's check: no raft entry, no index.
	if _, err := c.propose(ctx, CreateHub{Namespace: ns, Hub: "h1", Time: t0}); !errcode.Is(err, errcode.AlreadyExists) {
		t.Fatalf("duplicate hub: %v", err)
	}
	// The second command passes the leader's check (only the first of a batch is checked
	// there) but fails at apply, on every replica alike; the first stays applied.
	l = c.waitLeader()
	err := c.nodes[l].store.ProposeBatch(ctx, []Command{
		CreateHub{Namespace: ns, Hub: "twice", Time: t0}, CreateHub{Namespace: ns, Hub: "twice", Time: t1}})
	if !errcode.Is(err, errcode.AlreadyExists) {
		t.Fatalf("batch with a duplicate: %v", err)
	}
	want++
	if idx, err := c.propose(ctx, DeleteHub{Namespace: ns, Hub: "h0"}); err != nil || idx != want+1 {
		t.Fatalf("after the failed batch: index %d (want %d), %v", idx, want+1, err)
	}
	want++
	if got := c.converge(); got != want {
		t.Fatalf("converged at %d, want %d", got, want)
	}
	log := c.sameEverywhere(0)
	if uint64(len(log)) != want {
		t.Fatalf("log has %d entries, want %d", len(log), want)
	}
	c.nodes[l].store.View(func(s *State) {
		h, err := s.Hub(ns, "twice")
		if err != nil || !h.CreatedAt.Equal(t0) {
			t.Errorf("hub twice: %+v %v", h, err)
		}
	})
	// A follower proposes too (its raft forwards the entry): Propose returns once the follower
	// applied it, so its own state holds it at once; a command that does not apply fails there.
	l = c.waitLeader()
	f := c.peers[l%3]
	idx, err := c.nodes[f].store.Propose(ctx, CreateHub{Namespace: ns, Hub: "early", Time: t0})
	want++
	if err != nil || idx != want {
		t.Fatalf("propose at follower %d (leader %d): index %d (want %d), %v", f, l, idx, want, err)
	}
	c.nodes[f].store.View(func(s *State) {
		if _, err := s.Hub(ns, "early"); err != nil {
			t.Errorf("follower %d does not see its own write: %v", f, err)
		}
	})
	if _, err := c.nodes[f].store.Propose(ctx, CreateHub{Namespace: ns, Hub: "early", Time: t1}); !errcode.Is(err, errcode.AlreadyExists) {
		t.Fatalf("duplicate hub at a follower: %v", err)
	}
	// ProposeView on a follower sees the state right after its own command.
	var viewed uint64
	idx, err = c.nodes[f].store.ProposeView(ctx, CreateHub{Namespace: ns, Hub: "viewed", Time: t0}, func(s *State) {
		if _, err := s.Hub(ns, "viewed"); err == nil {
			viewed = s.Index()
		}
	})
	want++
	if err != nil || idx != want || viewed != want {
		t.Fatalf("ProposeView at follower %d: index %d, viewed at %d (want %d), %v", f, idx, viewed, want, err)
	}
	// Wait and ReadFrom on a follower see the leader's next command.
	done := make(chan error, 1)
	go func() { done <- c.nodes[f].store.Wait(ctx, want+1) }()
	if _, err := c.propose(ctx, CreateHub{Namespace: ns, Hub: "late", Time: t0}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if es, err := c.nodes[f].store.ReadFrom(want, 0); err != nil || len(es) != 1 || es[0].Command.(CreateHub).Hub != "late" {
		t.Fatalf("follower ReadFrom: %v %v", es, err)
	}
}

type raftAck struct {
	index uint64
	key   string
}

// TestRaftStoreLeaderChanges: proposers run while leadership is transferred and the leader is
// crashed and restarted. Every acknowledged proposal is in every replica's log exactly once, at
// its acknowledged index; the replicas end identical.
func TestRaftStoreLeaderChanges(t *testing.T) {
	c := newRaftCluster(t, -1, 0) // checkpoints only at Close: the whole log stays
	ctx := testCtx(t)
	c.waitLeader()
	for _, cmd := range baseCommands() {
		if _, err := c.propose(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var acks []raftAck
	var unknown int
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i)
				cmd := CommitOffsets{Namespace: ns, Group: "billing", Hub: "orders",
					Offsets: []PartitionOffset{{int32(w), int64(i), key}}, Time: t0}
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				idx, err := c.propose(pctx, cmd)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					t.Logf("proposal %s: %v; %s", key, err, c.statuses())
				}
				mu.Lock()
				if err == nil {
					acks = append(acks, raftAck{idx, key})
				} else {
					unknown++ // the outcome is unknown: not retried, so never applied twice
					if unknown <= 3 {
						t.Logf("unknown outcome: %v", err)
					}
				}
				mu.Unlock()
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
	progress := func(n int) { // let the proposers get n more acknowledgements
		mu.Lock()
		target := len(acks) + n
		mu.Unlock()
		eventually(t, "proposals acknowledged", func() bool { mu.Lock(); defer mu.Unlock(); return len(acks) >= target })
	}
	progress(20)
	for round := range 3 {
		l := c.waitLeader()
		to := c.peers[(int(l)+round)%3]
		if err := c.nodes[l].host.TransferLeader(metaGroup, to); err != nil {
			t.Fatal(err)
		}
		progress(20)
	}
	l := c.waitLeader()
	c.stop(l, true)
	progress(20)
	c.start(l)
	progress(20)
	close(stop)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	c.converge()
	log := c.sameEverywhere(0)
	seen := map[string]uint64{}
	for _, e := range log {
		if co, ok := e.Command.(CommitOffsets); ok && co.Offsets[0].Metadata != "m" {
			key := co.Offsets[0].Metadata
			if prev, dup := seen[key]; dup {
				t.Fatalf("proposal %s applied twice, at %d and %d", key, prev, e.Index)
			}
			seen[key] = e.Index
		}
	}
	for _, a := range acks {
		if seen[a.key] != a.index {
			t.Fatalf("acknowledged proposal %s at %d is in the log at %d", a.key, a.index, seen[a.key])
		}
	}
	t.Logf("%d acknowledged, %d with an unknown outcome, log of %d entries", len(acks), unknown, len(log))
}

// newestCheckpoint returns the raft index of the newest checkpoint file in dir.
func newestCheckpoint(t *testing.T, dir string) uint64 {
	t.Helper()
	files, err := listNumbered(dir, ckptPrefix, ckptSuffix)
	if err != nil || len(files) == 0 {
		t.Fatalf("no checkpoint in %s: %v", dir, err)
	}
	return files[len(files)-1].first
}

// TestRaftStoreRestart: a replica restarted after a crash recovers from its checkpoint and the
// raft log, replaying only the raft entries after the checkpoint, and ends identical; so does a
// whole cluster; after a clean close nothing is replayed.
func TestRaftStoreRestart(t *testing.T) {
	c := newRaftCluster(t, -1, 10)
	ctx := testCtx(t)
	c.waitLeader()
	proposeN := func(from, n int) {
		for i := from; i < from+n; i++ {
			if _, err := c.propose(ctx, CreateHub{Namespace: ns, Hub: fmt.Sprintf("h%d", i), Time: t0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, cmd := range baseCommands() {
		if _, err := c.propose(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	proposeN(0, 23)
	c.converge()
	f := c.peers[c.waitLeader()%3]
	c.stop(f, true)
	proposeN(23, 15)
	n := c.nodes[f]
	ckpt := newestCheckpoint(t, n.dir)
	c.start(f)
	c.converge()
	c.sameEverywhere(c.retainedFrom())
	n.store.apMu.Lock()
	applied, replayed := n.store.applied.Load(), n.store.replayed
	n.store.apMu.Unlock()
	if uint64(replayed) != applied-ckpt || ckpt == 0 {
		t.Fatalf("restarted node saw %d entries; want the %d after its checkpoint at raft index %d", replayed, applied-ckpt, ckpt)
	}

	// The whole cluster crashes and restarts.
	for _, id := range c.peers {
		c.stop(id, true)
	}
	for _, id := range c.peers {
		c.start(id)
	}
	c.waitLeader()
	proposeN(38, 3)
	if got, want := c.converge(), uint64(len(baseCommands())+41); got != want {
		t.Fatalf("converged at %d, want %d", got, want)
	}
	c.sameEverywhere(c.retainedFrom())

	// A clean close checkpoints: the next start replays no entry it had applied.
	c.converge()
	c.stop(f, false)
	ckpt = newestCheckpoint(t, n.dir)
	c.start(f)
	if got := n.store.StateMachine().Applied(); got != ckpt {
		t.Fatalf("reopened at raft index %d, want the closing checkpoint's %d", got, ckpt)
	}
	c.converge()
	c.sameEverywhere(c.retainedFrom())
	n.store.apMu.Lock()
	applied, replayed = n.store.applied.Load(), n.store.replayed
	n.store.apMu.Unlock()
	if uint64(replayed) != applied-ckpt {
		t.Fatalf("after a clean close the node saw %d entries; want the %d after %d", replayed, applied-ckpt, ckpt)
	}
}

// TestRaftStoreSnapshotCatchUp: a replica that was down while the others compacted their raft
// logs catches up by restoring a raft snapshot; its log then starts after the snapshot.
func TestRaftStoreSnapshotCatchUp(t *testing.T) {
	c := newRaftCluster(t, 8, 0)
	ctx := testCtx(t)
	l := c.waitLeader()
	for _, cmd := range baseCommands() {
		if _, err := c.propose(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	f := c.peers[l%3]
	c.stop(f, false)
	for i := range 30 {
		if _, err := c.propose(ctx, CreateHub{Namespace: ns, Hub: fmt.Sprintf("h%d", i), Time: t0}); err != nil {
			t.Fatal(err)
		}
	}
	c.start(f)
	idx := c.converge()
	st := c.nodes[f].store
	if _, err := st.ReadFrom(0, 0); !errcode.Is(err, errcode.OffsetOutOfRange) {
		t.Fatalf("ReadFrom before the restored snapshot: %v", err)
	}
	if _, err := c.propose(ctx, DeleteHub{Namespace: ns, Hub: "h0"}); err != nil {
		t.Fatal(err)
	}
	c.converge()
	c.sameEverywhere(idx) // state identical, and the log after the snapshot too
	c.stop(f, true)
	c.start(f)
	c.converge()
	c.sameEverywhere(idx)
}

func TestRaftStoreClosed(t *testing.T) {
	c := newRaftCluster(t, -1, 0)
	l := c.waitLeader()
	st := c.nodes[l].store
	c.stop(l, false)
	if _, err := st.Propose(context.Background(), DeleteHub{Namespace: ns, Hub: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Propose after Close: %v", err)
	}
	if err := st.Wait(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close: %v", err)
	}
}
