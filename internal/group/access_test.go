package group

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests of access.go: who may act on a group's members, who may see and join a group, and
// the bounds on what members hold.

// scoped is a client that may read only topic (like a hub-scoped Listen credential).
func scoped(principal, topic string) Client {
	return Client{ID: principal, Host: "10.0.0.9", Principal: principal,
		CanRead: func(t string) bool { return t == topic }}
}

// consumerJoin is a JoinGroup v3 (no MEMBER_ID_REQUIRED) subscribing to topics.
func consumerJoin(group, member string, extra int, topics ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 3
	req.Group, req.MemberID = group, member
	req.SessionTimeoutMillis = int32(testSession / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(testRebalance / time.Millisecond)
	req.ProtocolType = "consumer"
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", append(md.AppendTo(nil), bytes.Repeat([]byte{'x'}, extra)...)
	req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
	return req
}

func (h *harness) joinAs(c Client, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	h.t.Helper()
	w := &joinWait{t: h.t}
	h.c.Join(h.now, h.ns, c, req, w.reply)
	if !w.done() {
		h.t.Fatalf("join of %s by %s not answered at once", req.Group, c.Principal)
	}
	return w.resp
}

func TestOnlyTheJoiningPrincipalActsForAMember(t *testing.T) {
	h := newHarness(t)
	victim, other := scoped("victim", "orders"), scoped("other", "orders")
	r := h.joinAs(victim, consumerJoin(testGroup, "", 0, "orders"))
	if r.ErrorCode != 0 {
		t.Fatalf("victim's join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	id, gen := r.MemberID, r.Generation

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = testGroup, id, gen
	wantCode(t, "heartbeat by another principal", h.c.Heartbeat(h.now, h.ns, other, hb).ErrorCode, kerr.UnknownMemberID.Code)
	wantCode(t, "heartbeat by the member's principal", h.c.Heartbeat(h.now, h.ns, victim, hb).ErrorCode, 0)

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = testGroup, id, gen
	var got *kmsg.SyncGroupResponse
	h.c.Sync(h.now, h.ns, other, sync, func(r *kmsg.SyncGroupResponse) { got = r })
	wantCode(t, "sync by another principal", got.ErrorCode, kerr.UnknownMemberID.Code)

	wantCode(t, "commit by another principal", h.c.ValidateCommit(h.now, GroupKey{h.ns, testGroup}, other, id, gen), kerr.UnknownMemberID.Code)
	wantCode(t, "rejoin by another principal", h.joinAs(other, consumerJoin(testGroup, id, 0, "orders")).ErrorCode, kerr.UnknownMemberID.Code)

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 3
	leave.Group = testGroup
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = id
	leave.Members = []kmsg.LeaveGroupRequestMember{m}
	lr := h.c.Leave(h.now, h.ns, other, leave)
	wantCode(t, "leave by another principal", lr.Members[0].ErrorCode, kerr.UnknownMemberID.Code)
	if d := h.c.Describe(GroupKey{h.ns, testGroup})[0]; len(d.Members) != 1 {
		t.Fatalf("after another principal's leave the group has %d members", len(d.Members))
	}
	lr = h.c.Leave(h.now, h.ns, victim, leave)
	wantCode(t, "leave by the member's principal", lr.Members[0].ErrorCode, 0)
}

func TestJoinAndSeeOnlyWhatYouMayRead(t *testing.T) {
	h := newHarness(t)
	root := Client{Principal: "root"} // reads everything
	payments := scoped("payments-listener", "payments")
	if r := h.joinAs(root, consumerJoin("billing", "", 0, "orders")); r.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(r.ErrorCode))
	}
	for _, tc := range []struct {
		name   string
		req    *kmsg.JoinGroupRequest
		client Client
		want   int16
	}{
		{"subscribing to a topic it may not read", consumerJoin("fresh", "", 0, "orders"), payments, kerr.GroupAuthorizationFailed.Code},
		{"into a group that reads other topics", consumerJoin("billing", "", 0, "payments"), payments, kerr.GroupAuthorizationFailed.Code},
		{"its own topic in a new group", consumerJoin("pay", "", 0, "payments"), payments, 0},
	} {
		wantCode(t, tc.name, h.joinAs(tc.client, tc.req).ErrorCode, tc.want)
	}
	other := consumerJoin("connect", "", 0)
	other.ProtocolType = "connect" // topics unknown: needs every topic
	wantCode(t, "a non-consumer protocol by a scoped client", h.joinAs(payments, other).ErrorCode, kerr.GroupAuthorizationFailed.Code)

	if h.c.VisibleTo(GroupKey{h.ns, "billing"}, payments) || !h.c.VisibleTo(GroupKey{h.ns, "billing"}, root) {
		t.Error("billing (orders) must be visible to root and not to the payments listener")
	}
	if !h.c.VisibleTo(GroupKey{h.ns, "pay"}, payments) {
		t.Error("the payments listener must see its own group")
	}
	// An Empty group is judged by its last member's subscription.
	h.c.Tick(h.now.Add(time.Hour))
	if h.c.State(GroupKey{h.ns, "billing"}) != StateEmpty || h.c.VisibleTo(GroupKey{h.ns, "billing"}, payments) {
		t.Error("billing, empty now, must stay hidden from the payments listener")
	}
}

func TestMemberMetadataAndNamespaceBudget(t *testing.T) {
	c := NewCoordinator(Config{MaxMemberMetadata: 4 << 10, MaxBytesPerNamespace: 16 << 10})
	now := time.Unix(1_000_000, 0)
	join := func(ns, group string, extra int) int16 {
		var got *kmsg.JoinGroupResponse
		c.Join(now, ns, Client{ID: "c"}, consumerJoin(group, "", extra, "orders"), func(r *kmsg.JoinGroupResponse) { got = r })
		return got.ErrorCode
	}
	wantCode(t, "5 KiB of metadata (cap 4 KiB)", join("ns1", "big", 5<<10), kerr.PolicyViolation.Code)
	if c.State(GroupKey{"ns1", "big"}) != StateDead {
		t.Fatal("a refused join left its group behind")
	}
	n := 0
	for join("ns1", string(rune('a'+n)), 3<<10) == 0 {
		n++
		if n > 10 {
			t.Fatal("the 16 KiB budget took more than 10 members of 3 KiB")
		}
	}
	if n < 3 {
		t.Fatalf("the 16 KiB budget took %d members of 3 KiB", n)
	}
	wantCode(t, "another namespace", join("ns2", "a", 3<<10), 0)
	// Members that time out give their bytes back.
	c.Tick(now.Add(time.Hour))
	for k := range c.groups {
		if k.Namespace == "ns1" {
			if code := c.Delete(k); code != 0 {
				t.Fatalf("delete %v: %v", k, kerr.ErrorForCode(code))
			}
		}
	}
	if u := *c.usage["ns1"]; u != 0 {
		t.Fatalf("ns1 still counts %d bytes with no groups", u)
	}
	wantCode(t, "join after the budget is free again", join("ns1", "z", 3<<10), 0)
}

func TestAssignmentBounded(t *testing.T) {
	h := newHarness(t)
	h.c.cfg.MaxMemberMetadata = 1 << 10
	r := h.joinAs(Client{}, consumerJoin(testGroup, "", 0, "orders"))
	var got *kmsg.SyncGroupResponse
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = testGroup, r.MemberID, r.Generation
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = r.MemberID, bytes.Repeat([]byte{1}, 2<<10)
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{a}
	h.c.Sync(h.now, h.ns, Client{}, sync, func(r *kmsg.SyncGroupResponse) { got = r })
	wantCode(t, "2 KiB assignment (cap 1 KiB)", got.ErrorCode, kerr.PolicyViolation.Code)
	if h.state() == StateStable {
		t.Fatal("the refused assignment completed the sync")
	}
}

func TestForgetNamespace(t *testing.T) {
	h := newHarness(t)
	r := h.joinAs(Client{Principal: "old"}, consumerJoin(testGroup, "", 0, "orders"))
	h.c.ForgetNamespace(h.ns)
	if h.state() != StateDead || len(h.c.List(h.ns)) != 0 {
		t.Fatal("a forgotten namespace still has its groups")
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = testGroup, r.MemberID, r.Generation
	wantCode(t, "heartbeat after the namespace was forgotten", h.c.Heartbeat(h.now, h.ns, Client{Principal: "old"}, hb).ErrorCode, kerr.UnknownMemberID.Code)
}

func TestEmptyGroupsAreForgotten(t *testing.T) {
	h := newHarness(t)
	h.joinAs(Client{}, consumerJoin("once", "", 0, "orders"))
	h.join("") // a member id handed out and never used
	for _, d := range []time.Duration{time.Minute, EmptyGroupRetention / 2} {
		h.advance(d)
		if len(h.c.List(h.ns)) != 2 {
			t.Fatalf("after %v the groups are %v, want both kept", d, h.c.List(h.ns))
		}
	}
	h.advance(EmptyGroupRetention)
	if l := h.c.List(h.ns); len(l) != 0 {
		t.Fatalf("groups empty for longer than EmptyGroupRetention are kept: %v", l)
	}
	if u := *h.c.usage[h.ns]; u != 0 {
		t.Fatalf("forgotten groups still count %d bytes", u)
	}
}
