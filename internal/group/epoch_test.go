package group

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A call under a new coordinator epoch drops the groups of the old one: their members are
// unknown to the new coordinator and rejoin, as after a coordinator move in Kafka.
func TestManagerEpochDropsGroupsOfAnotherEpoch(t *testing.T) {
	m, _ := newTestManager(t)
	e1 := WithEpoch(WithClient(context.Background(), Client{ID: "c"}), 7)
	ids := managerStableGroup(t, m, e1)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = testGroup, ids[0], 1
	wantCode(t, "heartbeat, same epoch", m.Heartbeat(e1, testNS, hb).ErrorCode, 0)

	e2 := WithEpoch(context.Background(), 9)
	wantCode(t, "heartbeat, new epoch", m.Heartbeat(e2, testNS, hb).ErrorCode, kerr.UnknownMemberID.Code)
	wantCode(t, "commit, new epoch", m.ValidateCommit(e2, testNS, testGroup, ids[1], 1), kerr.IllegalGeneration.Code)
	if s := m.State(e2, testNS, testGroup); s != StateDead {
		t.Fatalf("state under the new epoch: %v", s)
	}
}

// The fence drops the groups (and answers waiting joins NOT_COORDINATOR) when this node
// stops coordinating, even if no request arrives.
func TestManagerFenceAnswersWaitersNotCoordinator(t *testing.T) {
	m, _ := newTestManager(t)
	var current atomic.Uint64
	current.Store(3)
	m.SetFence(func() uint64 { return current.Load() })
	m.SetFence(func() uint64 { return 99 }) // the first fence wins
	ctx := WithEpoch(context.Background(), 3)
	a, _ := pendingID(t, m, ctx), pendingID(t, m, ctx)
	done := make(chan *kmsg.JoinGroupResponse)
	go func() { done <- m.Join(ctx, testNS, joinReq(9, a)) }()
	waitState(t, m, testNS, StatePreparingRebalance) // a waits for the other member
	if err := m.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := m.State(context.Background(), testNS, testGroup); s != StatePreparingRebalance {
		t.Fatalf("state while the epoch holds: %v", s)
	}
	current.Store(0) // leadership lost
	if err := m.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		wantCode(t, "waiting join", r.ErrorCode, kerr.NotCoordinator.Code)
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting join was not answered when the fence moved")
	}
	if s := m.State(context.Background(), testNS, testGroup); s != StateDead {
		t.Fatalf("state after the fence: %v", s)
	}
}
