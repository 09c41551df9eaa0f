package meta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"go.etcd.io/raft/v3/raftpb"
)

// store returns node id's running store (nil while it is stopped).
func (c *raftCluster) store(id uint64) *RaftStore {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id].store
}

// raceCreate is one proposer's attempt to create a hub or a namespace. The proposer is told
// apart by the command's Time (t0 + who seconds).
type raceCreate struct {
	name string
	who  int
	node uint64
	idx  uint64
	err  error
}

func raceCommand(name string, who int) Command {
	tm := t0.Add(time.Duration(who) * time.Second)
	if len(name) > 0 && name[0] == 'n' {
		return CreateNamespace{Namespace: name, RootPrimaryKey: key1, RootSecondaryKey: key2, Time: tm}
	}
	return CreateHub{Namespace: ns, Hub: name, Time: tm}
}

// createdBy returns the name an entry creates and its proposer (ok false: not a create).
func createdBy(e Entry) (string, int, bool) {
	switch c := e.Command.(type) {
	case CreateHub:
		return c.Hub, int(c.Time.Sub(t0) / time.Second), true
	case CreateNamespace:
		return c.Namespace, int(c.Time.Sub(t0) / time.Second), true
	}
	return "", 0, false
}

// outcome classifies a RaftStore proposal error by its documented meaning.
func outcome(err error) string {
	var nl *NotLeaderError
	switch {
	case err == nil:
		return "applied"
	case errcode.Is(err, errcode.AlreadyExists):
		return "exists"
	case errors.Is(err, ErrClosed), errors.Is(err, ErrProposalDropped), errors.As(err, &nl):
		return "not proposed"
	case errcode.Is(err, errcode.Unavailable), errors.Is(err, context.DeadlineExceeded):
		return "unknown"
	}
	return "unexpected"
}

// TestRaftStoreProposeFromEveryNode: six proposers, two on each node, race to create the same
// hubs and namespaces, while the leader is crashed and restarted and leadership moves. Every
// name is created at most once; a proposer told "applied" finds its own command at its index,
// one told AlreadyExists finds another's, one told "not proposed" finds none of its own; only
// an unknown outcome may go either way.
func TestRaftStoreProposeFromEveryNode(t *testing.T) {
	c := newRaftCluster(t, -1, 0) // the whole log stays
	ctx := testCtx(t)
	c.waitLeader()
	for _, cmd := range baseCommands()[:1] { // the namespace of the hubs
		if _, err := c.propose(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	const names = 60
	var mu sync.Mutex
	var results []raceCreate
	var wg sync.WaitGroup
	for _, node := range c.peers {
		for w := range 2 {
			who := int(node)*10 + w
			wg.Go(func() {
				for k := range names {
					i := k
					if w == 1 {
						i = names - 1 - k
					}
					name := fmt.Sprintf("race-%d", i)
					switch i % 3 {
					case 1:
						name = fmt.Sprintf("nsrace-%d", i)
					case 2: // a name of this proposer's own: nobody races it
						name = fmt.Sprintf("own-%d-%d", who, i)
					}
					st := c.store(node)
					for st == nil && ctx.Err() == nil { // the node is down: wait for its restart
						time.Sleep(5 * time.Millisecond)
						st = c.store(node)
					}
					pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					idx, err := st.Propose(pctx, raceCommand(name, who))
					cancel()
					mu.Lock()
					results = append(results, raceCreate{name: name, who: who, node: node, idx: idx, err: err})
					mu.Unlock()
				}
			})
		}
	}
	progress := func(n int) {
		eventually(t, fmt.Sprintf("%d results", n), func() bool { mu.Lock(); defer mu.Unlock(); return len(results) >= n })
	}
	progress(names)
	l := c.waitLeader()
	c.stop(l, true) // killed mid-run: its callers and the forwarded entries in flight get what they get
	progress(2 * names)
	c.start(l)
	l = c.waitLeader()
	if err := c.nodes[l].host.TransferLeader(metaGroup, c.peers[int(l)%3]); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	c.converge()
	log := c.sameEverywhere(0)
	creator := map[string]int{}
	at := map[uint64]Entry{}
	for _, e := range log {
		at[e.Index] = e
		if name, who, ok := createdBy(e); ok {
			if prev, dup := creator[name]; dup {
				t.Fatalf("%s created twice, by %d and by %d", name, prev, who)
			}
			creator[name] = who
		}
	}
	count := map[string]int{}
	perNode := map[uint64]int{}
	for _, r := range results {
		o := outcome(r.err)
		count[o]++
		own, created := creator[r.name]
		switch o {
		case "applied":
			perNode[r.node]++
			if name, who, ok := createdBy(at[r.idx]); !ok || name != r.name || who != r.who {
				t.Errorf("proposer %d (node %d) told %s applied at %d, where the log has %v", r.who, r.node, r.name, r.idx, at[r.idx].Command)
			}
		case "exists":
			if !created || own == r.who {
				t.Errorf("proposer %d (node %d) told %s exists; its creator is %d (created %v)", r.who, r.node, r.name, own, created)
			}
		case "not proposed":
			if created && own == r.who {
				t.Errorf("proposer %d (node %d) told %s was not proposed (%v), but its command is in the log", r.who, r.node, r.name, r.err)
			}
		case "unknown":
		default:
			t.Errorf("proposer %d (node %d), %s: unexpected error %v", r.who, r.node, r.name, r.err)
		}
	}
	t.Logf("%d attempts: %v; applied per node %v; %d names created", len(results), count, perNode, len(creator))
	if count["applied"] == 0 || count["exists"] == 0 || len(perNode) != 3 {
		t.Fatalf("the race did not happen: %v, applied per node %v", count, perNode)
	}
}

// lagging: a follower that has not received a write acknowledged through another node does
// not see it; Barrier there waits for the leader's answer and the entry, and then it does.
func lagging(ctx context.Context, t *testing.T, c *raftCluster) {
	t.Helper()
	l := c.waitLeader()
	b, a := c.peers[int(l)%3], c.peers[(int(l)+1)%3] // two followers
	c.net.hold(b)
	if _, err := c.store(a).Propose(ctx, CreateHub{Namespace: ns, Hub: "lagging", Time: t0}); err != nil {
		c.net.release(b)
		t.Fatalf("create on node %d: %v", a, err)
	}
	visible := func() bool {
		var err error
		c.store(b).View(func(s *State) { _, err = s.Hub(ns, "lagging") })
		return err == nil
	}
	if visible() {
		c.net.release(b)
		t.Fatalf("node %d sees a write it never received", b)
	}
	done := make(chan error, 1)
	go func() {
		err := c.store(b).Barrier(ctx)
		if err == nil && !visible() {
			err = fmt.Errorf("Barrier returned before the write was visible")
		}
		done <- err
	}()
	// The leader answered b's read request (the answer is held with the entry): release.
	eventually(t, "the leader's answer to the follower's read index", func() bool {
		return c.net.heldTypes(b)[raftpb.MsgReadIndexResp] > 0
	})
	c.net.release(b)
	if err := <-done; err != nil {
		t.Fatalf("node %d: %v", b, err)
	}
}

// TestRaftStoreBarrier: a write through one node is visible on another right after Barrier
// there, before and after the leader is crashed; a store without a quorum neither hangs nor
// claims success; a closed store refuses.
func TestRaftStoreBarrier(t *testing.T) {
	c := newRaftCluster(t, -1, 0)
	c.timeout = 2 * time.Second // for the nodes started from here on: the no-quorum check below
	ctx := testCtx(t)
	c.waitLeader()
	if _, err := c.propose(ctx, baseCommands()[0]); err != nil {
		t.Fatal(err)
	}
	check := func(round int) {
		a, b := c.peers[round%3], c.peers[(round+1)%3]
		if c.store(a) == nil || c.store(b) == nil {
			return
		}
		hub := fmt.Sprintf("barrier-%d", round)
		for {
			_, err := c.store(a).Propose(ctx, CreateHub{Namespace: ns, Hub: hub, Time: t0})
			if o := outcome(err); o == "applied" || o == "exists" { // exists: an unknown outcome applied
				break
			} else if o != "unknown" && o != "not proposed" {
				t.Fatalf("create %s on node %d: %v", hub, a, err)
			}
		}
		if err := c.store(b).Barrier(ctx); err != nil {
			t.Fatalf("Barrier on node %d: %v", b, err)
		}
		c.store(b).View(func(s *State) {
			if _, err := s.Hub(ns, hub); err != nil {
				t.Fatalf("node %d after Barrier does not see %s written on node %d: %v", b, hub, a, err)
			}
		})
	}
	for round := range 12 {
		check(round)
	}
	lagging(ctx, t, c)
	l := c.waitLeader()
	c.stop(l, true)
	for round := 12; round < 24; round++ {
		check(round)
	}
	c.start(l) // with the short ProposeTimeout

	// Without a quorum (two nodes down) a call without a deadline ends within ProposeTimeout with
	// an Unavailable error: not proposed, or unknown if a forwarded entry was in flight.
	c.waitLeader()
	others := []uint64{}
	for _, id := range c.peers {
		if id != l {
			others = append(others, id)
		}
	}
	for _, id := range others {
		c.stop(id, false)
	}
	alone := c.store(l)
	start := time.Now()
	_, err := alone.Propose(context.Background(), CreateHub{Namespace: ns, Hub: "alone", Time: t0})
	if o := outcome(err); o != "not proposed" && o != "unknown" || !errcode.Is(err, errcode.Unavailable) {
		t.Fatalf("Propose without a quorum: %v", err)
	}
	if err := alone.Barrier(context.Background()); !errcode.Is(err, errcode.Unavailable) {
		t.Fatalf("Barrier without a quorum: %v", err)
	}
	t.Logf("without a quorum Propose and Barrier gave up after %v: %v", time.Since(start).Round(time.Millisecond), err)
	for _, id := range others {
		c.start(id)
	}
	c.waitLeader()
	c.stop(l, false)
	if err := alone.Barrier(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Barrier after Close: %v", err)
	}
}

// TestStoreBarrier: a single node's Store is always current; after Close it refuses.
func TestStoreBarrier(t *testing.T) {
	s, err := Open(StoreOptions{Dir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Barrier(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Barrier after Close: %v", err)
	}
}

// ProposeOnLeader applies on the leader and is refused on a follower at once, with nothing
// proposed (a group coordinator that lost the leadership must not have its commit forwarded).
func TestRaftStoreProposeOnLeader(t *testing.T) {
	c := newRaftCluster(t, -1, 0)
	ctx := testCtx(t)
	leader := c.waitLeader()
	ns := baseCommands()[0]
	if _, err := c.store(leader).ProposeOnLeader(ctx, ns); err != nil {
		t.Fatalf("ProposeOnLeader on the leader: %v", err)
	}
	before := c.converge()
	for _, id := range c.peers {
		if id == leader {
			continue
		}
		_, err := c.store(id).ProposeOnLeader(ctx, baseCommands()[1])
		var nl *NotLeaderError
		if !errors.As(err, &nl) {
			t.Fatalf("ProposeOnLeader on follower %d: %v, want a NotLeaderError", id, err)
		}
	}
	if after := c.converge(); after != before {
		t.Fatalf("a refused ProposeOnLeader changed the metadata: index %d → %d", before, after)
	}
}
