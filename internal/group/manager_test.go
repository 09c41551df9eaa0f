package group

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestManager returns a Manager on a fake clock with its ticker off: time moves only through
// clock.Advance and m.Tick.
func newTestManager(t *testing.T) (*Manager, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	m := NewManager(Options{Now: clock.Now, TickInterval: -1})
	t.Cleanup(m.Close)
	return m, clock
}

// waitState spins (yielding, not sleeping) until the group reaches want: the way to know that a
// blocked Join has reached the Manager's goroutine.
func waitState(t *testing.T, m *Manager, ns string, want State) {
	t.Helper()
	for range 100_000 {
		if m.State(context.Background(), ns, testGroup) == want {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("group never reached %v", want)
}

func pendingID(t *testing.T, m *Manager, ctx context.Context) string {
	t.Helper()
	r := m.Join(ctx, testNS, joinReq(9, ""))
	wantCode(t, "first join", r.ErrorCode, kerr.MemberIDRequired.Code)
	return r.MemberID
}

// managerStableGroup brings two concurrent members to a Stable group through the Manager.
func managerStableGroup(t *testing.T, m *Manager, ctx context.Context) []string {
	t.Helper()
	ids := []string{pendingID(t, m, ctx), pendingID(t, m, ctx)}

	joins := make([]*kmsg.JoinGroupResponse, 2)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { joins[i] = m.Join(ctx, testNS, joinReq(9, id)) })
	}
	wg.Wait()
	leader := joins[0].LeaderID
	for _, r := range joins {
		if r.ErrorCode != 0 || r.Generation != 1 || r.LeaderID != leader {
			t.Fatalf("join: %+v", r)
		}
	}

	syncs := make([]*kmsg.SyncGroupResponse, 2)
	for i, id := range ids {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Version = 5
		req.Group, req.MemberID, req.Generation = testGroup, id, 1
		if id == leader {
			for _, o := range ids {
				a := kmsg.NewSyncGroupRequestGroupAssignment()
				a.MemberID, a.MemberAssignment = o, []byte("for-"+o)
				req.GroupAssignment = append(req.GroupAssignment, a)
			}
		}
		wg.Go(func() { syncs[i] = m.Sync(ctx, testNS, req) })
	}
	wg.Wait()
	for i, r := range syncs {
		if r.ErrorCode != 0 || string(r.MemberAssignment) != "for-"+ids[i] {
			t.Fatalf("sync %d: %+v", i, r)
		}
	}
	return ids
}

func TestManagerJoinSyncHeartbeat(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := WithClient(context.Background(), Client{ID: "c", Host: "192.0.2.7"})
	ids := managerStableGroup(t, m, ctx)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = testGroup, ids[0], 1
	wantCode(t, "heartbeat", m.Heartbeat(ctx, testNS, hb).ErrorCode, 0)
	wantCode(t, "commit", m.ValidateCommit(ctx, testNS, testGroup, ids[1], 1), 0)
	wantCode(t, "commit other ns", m.ValidateCommit(ctx, "ns2", testGroup, ids[1], 1), kerr.IllegalGeneration.Code)
}

func TestManagerDescribeListLeaveDelete(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := WithClient(context.Background(), Client{ID: "c", Host: "192.0.2.7"})
	ids := managerStableGroup(t, m, ctx)
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Version = 6
	dreq.Groups = []string{testGroup, "missing"}
	d := m.Describe(ctx, testNS, dreq)
	if d.Version != 6 || d.Groups[0].State != "Stable" || len(d.Groups[0].Members) != 2 ||
		d.Groups[0].Members[0].ClientHost != "192.0.2.7" || d.Groups[0].Protocol != "range" {
		t.Fatalf("describe: %+v", d)
	}
	if g := d.Groups[1]; g.State != "Dead" || g.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe missing: %+v", g)
	}

	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.Version = 5
	l := m.List(ctx, testNS, lreq)
	if len(l.Groups) != 1 || l.Groups[0].GroupState != "Stable" || l.Groups[0].GroupType != "classic" || l.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("list: %+v", l)
	}
	lreq.StatesFilter = []string{"empty"}
	if l := m.List(ctx, testNS, lreq); len(l.Groups) != 0 {
		t.Fatalf("state filter: %+v", l)
	}
	lreq.StatesFilter, lreq.TypesFilter = nil, []string{"consumer"}
	if l := m.List(ctx, testNS, lreq); len(l.Groups) != 0 {
		t.Fatalf("type filter: %+v", l)
	}

	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version = 3
	lv.Group = testGroup
	for _, id := range ids {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = id
		lv.Members = append(lv.Members, lm)
	}
	if r := m.Leave(ctx, testNS, lv); r.ErrorCode != 0 || len(r.Members) != 2 {
		t.Fatalf("leave: %+v", r)
	}
	if s := m.State(ctx, testNS, testGroup); s != StateEmpty {
		t.Fatalf("state after leave: %v", s)
	}
	wantCode(t, "delete", m.Delete(ctx, testNS, testGroup), 0)
}

// A JoinGroup whose caller goes away is dropped: the caller returns, and the member, which will
// never sync, is removed by the sync timeout like any member that went away.
func TestManagerCancelledJoinIsDropped(t *testing.T) {
	m, clock := newTestManager(t)
	bg := context.Background()
	a, b := pendingID(t, m, bg), pendingID(t, m, bg)

	ctx, cancel := context.WithCancel(bg)
	done := make(chan *kmsg.JoinGroupResponse)
	go func() { done <- m.Join(ctx, testNS, joinReq(9, a)) }()
	waitState(t, m, testNS, StatePreparingRebalance) // a waits for b
	cancel()
	wantCode(t, "cancelled join", (<-done).ErrorCode, kerr.CoordinatorNotAvailable.Code)

	rb := m.Join(bg, testNS, joinReq(9, b))
	if rb.ErrorCode != 0 || rb.Generation != 1 {
		t.Fatalf("b: %+v", rb)
	}
	clock.Advance(testRebalance)
	if err := m.Tick(bg); err != nil {
		t.Fatal(err)
	}
	// Neither synced in time: both removed, the group rebalanced to Empty.
	if s := m.State(bg, testNS, testGroup); s != StateEmpty {
		t.Fatalf("state: %v", s)
	}
}

func TestManagerSessionExpiryWithFakeClock(t *testing.T) {
	m, clock := newTestManager(t)
	bg := context.Background()
	id := pendingID(t, m, bg)
	if r := m.Join(bg, testNS, joinReq(9, id)); r.ErrorCode != 0 {
		t.Fatalf("join: %+v", r)
	}
	clock.Advance(testSession - time.Millisecond)
	_ = m.Tick(bg)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = testGroup, id, 1
	wantCode(t, "alive", m.Heartbeat(bg, testNS, hb).ErrorCode, 0)
	clock.Advance(testSession)
	_ = m.Tick(bg)
	wantCode(t, "expired", m.Heartbeat(bg, testNS, hb).ErrorCode, kerr.UnknownMemberID.Code)
}

func TestManagerCloseAnswersWaitersAndLaterCalls(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	m := NewManager(Options{Now: clock.Now, TickInterval: -1})
	bg := context.Background()
	a, _ := pendingID(t, m, bg), pendingID(t, m, bg)

	done := make(chan *kmsg.JoinGroupResponse)
	go func() { done <- m.Join(bg, testNS, joinReq(9, a)) }()
	waitState(t, m, testNS, StatePreparingRebalance)
	m.Close()
	wantCode(t, "waiting join", (<-done).ErrorCode, kerr.CoordinatorNotAvailable.Code)
	m.Close() // idempotent

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group = testGroup
	wantCode(t, "heartbeat after close", m.Heartbeat(bg, testNS, hb).ErrorCode, kerr.CoordinatorNotAvailable.Code)
	wantCode(t, "join after close", m.Join(bg, testNS, joinReq(9, "")).ErrorCode, kerr.CoordinatorNotAvailable.Code)
	if err := m.Tick(bg); err != ErrClosed {
		t.Fatalf("tick after close: %v", err)
	}
}

// The real ticker runs and stops with the Manager (goleak checks it).
func TestManagerRealTicker(t *testing.T) {
	m := NewManager(Options{TickInterval: time.Millisecond})
	lreq := kmsg.NewPtrListGroupsRequest()
	if r := m.List(context.Background(), testNS, lreq); r.ErrorCode != 0 || len(r.Groups) != 0 {
		t.Fatalf("list: %+v", r)
	}
	m.Close()
}
