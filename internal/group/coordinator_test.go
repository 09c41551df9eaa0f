package group

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tests drive the pure Coordinator with a fake time: h.now only moves when a test says so.

const (
	testSession   = 10 * time.Second
	testRebalance = 30 * time.Second
	testNS        = "ns1"
	testGroup     = "g1"
)

type harness struct {
	t   *testing.T
	c   *Coordinator
	now time.Time
	ns  string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	n := 0
	c := NewCoordinator(Config{NewMemberID: func(clientID string) string {
		n++
		return fmt.Sprintf("%s-%d", clientID, n)
	}})
	return &harness{t: t, c: c, now: time.Unix(1_000_000, 0), ns: testNS}
}

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d); h.c.Tick(h.now) }

// joinWait records the answer to one JoinGroup; it fails the test if answered twice.
type joinWait struct {
	t    *testing.T
	resp *kmsg.JoinGroupResponse
}

func (w *joinWait) reply(r *kmsg.JoinGroupResponse) {
	w.t.Helper()
	if w.resp != nil {
		w.t.Fatalf("JoinGroup answered twice: %+v then %+v", w.resp, r)
	}
	w.resp = r
}

func (w *joinWait) done() bool { return w.resp != nil }

type syncWait struct {
	t    *testing.T
	resp *kmsg.SyncGroupResponse
}

func (w *syncWait) reply(r *kmsg.SyncGroupResponse) {
	w.t.Helper()
	if w.resp != nil {
		w.t.Fatalf("SyncGroup answered twice")
	}
	w.resp = r
}

func joinReq(version int16, memberID string, protocols ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = version
	req.Group = testGroup
	req.MemberID = memberID
	req.SessionTimeoutMillis = int32(testSession / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(testRebalance / time.Millisecond)
	req.ProtocolType = "consumer"
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	for _, p := range protocols {
		rp := kmsg.NewJoinGroupRequestProtocol()
		rp.Name = p
		rp.Metadata = []byte(p + "/" + memberID)
		req.Protocols = append(req.Protocols, rp)
	}
	return req
}

func (h *harness) joinWith(req *kmsg.JoinGroupRequest) *joinWait {
	w := &joinWait{t: h.t}
	h.c.Join(h.now, h.ns, Client{ID: "client", Host: "10.0.0.1"}, req, w.reply)
	return w
}

func (h *harness) join(memberID string, protocols ...string) *joinWait {
	return h.joinWith(joinReq(9, memberID, protocols...))
}

// newMember does the KIP-394 dance's first step and returns the member id handed out.
func (h *harness) newMember() string {
	h.t.Helper()
	w := h.join("")
	if !w.done() || w.resp.ErrorCode != kerr.MemberIDRequired.Code || w.resp.MemberID == "" {
		h.t.Fatalf("first join: want MEMBER_ID_REQUIRED with a member id, got %+v", w.resp)
	}
	return w.resp.MemberID
}

func (h *harness) sync(memberID string, gen int32, assign map[string]string) *syncWait {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group = testGroup
	req.MemberID = memberID
	req.Generation = gen
	for id, a := range assign {
		ra := kmsg.NewSyncGroupRequestGroupAssignment()
		ra.MemberID = id
		ra.MemberAssignment = []byte(a)
		req.GroupAssignment = append(req.GroupAssignment, ra)
	}
	w := &syncWait{t: h.t}
	h.c.Sync(h.now, h.ns, Client{}, req, w.reply)
	return w
}

func (h *harness) heartbeat(memberID string, gen int32) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group = testGroup
	req.MemberID = memberID
	req.Generation = gen
	return h.c.Heartbeat(h.now, h.ns, Client{}, req).ErrorCode
}

func (h *harness) leave(ids ...string) *kmsg.LeaveGroupResponse {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 5
	req.Group = testGroup
	for _, id := range ids {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		req.Members = append(req.Members, m)
	}
	return h.c.Leave(h.now, h.ns, Client{}, req)
}

func (h *harness) state() State { return h.c.State(GroupKey{h.ns, testGroup}) }

func (h *harness) wantState(want State) {
	h.t.Helper()
	if got := h.state(); got != want {
		h.t.Fatalf("group state = %v, want %v", got, want)
	}
}

func wantCode(t *testing.T, what string, got, want int16) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: error code %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
	}
}

// stableGroup brings members up to a Stable group (the first is the leader) and returns their
// ids and the generation.
func (h *harness) stableGroup(n int) ([]string, int32) {
	h.t.Helper()
	ids := make([]string, n)
	waits := make([]*joinWait, n)
	for i := range ids {
		ids[i] = h.newMember()
	}
	for i, id := range ids {
		waits[i] = h.join(id)
	}
	// The first join completed generation g alone; the others' joins started a rebalance the
	// older members learn of by heartbeat, and rejoin.
	for waits[0].resp.Generation != waits[n-1].resp.Generation || !waits[n-1].done() {
		for i, w := range waits {
			if w.done() && h.heartbeat(ids[i], w.resp.Generation) == kerr.RebalanceInProgress.Code {
				waits[i] = h.join(ids[i])
			}
		}
	}
	gen := waits[0].resp.Generation
	assign := map[string]string{}
	for _, id := range ids {
		assign[id] = "assignment-of-" + id
	}
	syncs := make([]*syncWait, n)
	for i := n - 1; i >= 0; i-- { // followers first, so they wait on the leader
		syncs[i] = h.sync(ids[i], gen, assign)
	}
	for i, s := range syncs {
		if s.resp == nil || s.resp.ErrorCode != 0 || string(s.resp.MemberAssignment) != assign[ids[i]] {
			h.t.Fatalf("sync of %s: %+v", ids[i], s.resp)
		}
	}
	h.wantState(StateStable)
	return ids, gen
}

func TestSingleMemberJoinSyncStable(t *testing.T) {
	h := newHarness(t)
	h.wantState(StateDead)
	id := h.newMember()
	h.wantState(StateEmpty) // the group exists, its member id is pending

	j := h.join(id)
	if !j.done() {
		t.Fatal("a lone member's join should complete at once")
	}
	r := j.resp
	wantCode(t, "join", r.ErrorCode, 0)
	if r.Generation != 1 || r.LeaderID != id || r.MemberID != id || *r.Protocol != "range" || *r.ProtocolType != "consumer" {
		t.Fatalf("join response: %+v", r)
	}
	if len(r.Members) != 1 || r.Members[0].MemberID != id || string(r.Members[0].ProtocolMetadata) != "range/"+id {
		t.Fatalf("leader should get its own metadata: %+v", r.Members)
	}
	h.wantState(StateCompletingRebalance)

	s := h.sync(id, 1, map[string]string{id: "all"})
	if s.resp == nil || s.resp.ErrorCode != 0 || string(s.resp.MemberAssignment) != "all" || *s.resp.Protocol != "range" {
		t.Fatalf("sync: %+v", s.resp)
	}
	h.wantState(StateStable)
	wantCode(t, "heartbeat", h.heartbeat(id, 1), 0)
}

func TestThreeMembersLeaderGetsAllMetadata(t *testing.T) {
	h := newHarness(t)
	a, b, c := h.newMember(), h.newMember(), h.newMember()

	// Two member ids are pending, so a's join waits for them (Kafka's hasAllMembersJoined).
	ja := h.join(a)
	jb := h.join(b)
	if ja.done() || jb.done() {
		t.Fatal("the rebalance must wait for the pending member c")
	}
	h.wantState(StatePreparingRebalance)
	jc := h.join(c)
	for _, w := range []*joinWait{ja, jb, jc} {
		if !w.done() || w.resp.ErrorCode != 0 || w.resp.Generation != 1 || w.resp.LeaderID != a {
			t.Fatalf("join: %+v", w.resp)
		}
	}
	if len(ja.resp.Members) != 3 {
		t.Fatalf("leader should get 3 members, got %+v", ja.resp.Members)
	}
	for i, id := range []string{a, b, c} {
		if m := ja.resp.Members[i]; m.MemberID != id || string(m.ProtocolMetadata) != "range/"+id {
			t.Fatalf("member %d: %+v", i, m)
		}
	}
	if len(jb.resp.Members) != 0 || len(jc.resp.Members) != 0 {
		t.Fatal("followers must not get the members")
	}

	// Followers' SyncGroup waits for the leader's.
	sb, sc := h.sync(b, 1, nil), h.sync(c, 1, nil)
	if sb.resp != nil || sc.resp != nil {
		t.Fatal("follower sync answered before the leader's")
	}
	wantCode(t, "heartbeat while completing", h.heartbeat(b, 1), 0)
	sa := h.sync(a, 1, map[string]string{a: "p0", b: "p1", c: "p2"})
	for want, s := range map[string]*syncWait{"p0": sa, "p1": sb, "p2": sc} {
		if s.resp == nil || s.resp.ErrorCode != 0 || string(s.resp.MemberAssignment) != want {
			t.Fatalf("sync want %s: %+v", want, s.resp)
		}
	}
	h.wantState(StateStable)
	// A late follower sync in Stable is answered at once.
	if s := h.sync(b, 1, nil); s.resp == nil || string(s.resp.MemberAssignment) != "p1" {
		t.Fatalf("late sync: %+v", s.resp)
	}
}

func TestLeaveTriggersRebalance(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(3)
	a, b, c := ids[0], ids[1], ids[2]

	r := h.leave(c, "nobody")
	wantCode(t, "leave c", r.Members[0].ErrorCode, 0)
	wantCode(t, "leave unknown", r.Members[1].ErrorCode, kerr.UnknownMemberID.Code)
	h.wantState(StatePreparingRebalance)
	wantCode(t, "heartbeat a", h.heartbeat(a, gen), kerr.RebalanceInProgress.Code)
	wantCode(t, "heartbeat c", h.heartbeat(c, gen), kerr.UnknownMemberID.Code)

	ja := h.join(a)
	if ja.done() {
		t.Fatal("must wait for b")
	}
	jb := h.join(b)
	if !ja.done() || !jb.done() || ja.resp.Generation != gen+1 || len(ja.resp.Members) != 2 {
		t.Fatalf("rejoin: %+v / %+v", ja.resp, jb.resp)
	}
	wantCode(t, "old generation", h.heartbeat(a, gen), kerr.IllegalGeneration.Code)
}

func TestLeaveOldVersionAndUnknownGroup(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.stableGroup(1)
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 1
	req.Group = testGroup
	req.MemberID = ids[0]
	r := h.c.Leave(h.now, h.ns, Client{}, req)
	wantCode(t, "v1 leave", r.ErrorCode, 0)
	h.wantState(StateEmpty)

	req.Group = "nope"
	wantCode(t, "unknown group", h.c.Leave(h.now, h.ns, Client{}, req).ErrorCode, kerr.UnknownMemberID.Code)
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(2)
	a, b := ids[0], ids[1]

	for range 2 { // a heartbeats every 4s, b is silent
		h.advance(4 * time.Second)
		wantCode(t, "heartbeat a", h.heartbeat(a, gen), 0)
	}
	h.advance(4 * time.Second)
	h.wantState(StatePreparingRebalance) // b's 10s session passed at t=12s
	wantCode(t, "heartbeat a", h.heartbeat(a, gen), kerr.RebalanceInProgress.Code)
	wantCode(t, "b after expiry", h.heartbeat(b, gen), kerr.UnknownMemberID.Code)
	ja := h.join(a)
	if !ja.done() || ja.resp.Generation != gen+1 || len(ja.resp.Members) != 1 {
		t.Fatalf("rejoin alone: %+v", ja.resp)
	}
}

func TestSessionExactBoundary(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(1)
	h.advance(testSession - time.Millisecond)
	h.wantState(StateStable)
	h.advance(time.Millisecond)
	h.wantState(StateEmpty) // the last member left: the rebalance completes with nobody
	wantCode(t, "expired", h.heartbeat(ids[0], gen), kerr.UnknownMemberID.Code)
}

func TestRebalanceTimeoutDropsMemberThatDoesNotRejoin(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(2)
	a, b := ids[0], ids[1]

	ja := h.join(a, "range", "roundrobin") // a changed offer: rebalance
	h.wantState(StatePreparingRebalance)
	// b keeps heartbeating (so its session lives) but never rejoins.
	for elapsed := time.Duration(0); elapsed < testRebalance-5*time.Second; elapsed += 5 * time.Second {
		h.advance(5 * time.Second)
		wantCode(t, "heartbeat b", h.heartbeat(b, gen), kerr.RebalanceInProgress.Code)
	}
	if ja.done() {
		t.Fatal("answered before the rebalance timeout")
	}
	h.advance(5 * time.Second) // 30s: the rebalance timeout
	if !ja.done() || ja.resp.ErrorCode != 0 || ja.resp.Generation != gen+1 || len(ja.resp.Members) != 1 {
		t.Fatalf("join after timeout: %+v", ja.resp)
	}
	wantCode(t, "dropped b", h.heartbeat(b, gen), kerr.UnknownMemberID.Code)
	wantCode(t, "dropped b rejoin", h.join(b).resp.ErrorCode, kerr.UnknownMemberID.Code)
}

func TestFollowerThatNeverSyncsIsRemoved(t *testing.T) {
	h := newHarness(t)
	a, b := h.newMember(), h.newMember()
	h.join(a)
	h.join(b)
	h.wantState(StateCompletingRebalance)
	sa := h.sync(a, 1, map[string]string{a: "x", b: "y"})
	if sa.resp == nil {
		t.Fatal("leader sync")
	}
	h.wantState(StateStable)
	for range 6 { // both heartbeat; b never syncs
		wantCode(t, "a", h.heartbeat(a, 1), 0)
		wantCode(t, "b", h.heartbeat(b, 1), 0)
		h.advance(5 * time.Second)
	}
	h.wantState(StatePreparingRebalance)
	wantCode(t, "b", h.heartbeat(b, 1), kerr.UnknownMemberID.Code)
}

func TestMemberIDRequiredFlow(t *testing.T) {
	h := newHarness(t)
	first := h.join("")
	wantCode(t, "first join", first.resp.ErrorCode, kerr.MemberIDRequired.Code)
	if first.resp.MemberID != "client-1" || first.resp.Generation != -1 {
		t.Fatalf("%+v", first.resp)
	}
	// The pending id is forgotten after a session timeout without the second join.
	h.advance(testSession)
	wantCode(t, "late second join", h.join("client-1").resp.ErrorCode, kerr.UnknownMemberID.Code)

	// JoinGroup v3 and older have no MEMBER_ID_REQUIRED: the member is admitted at once.
	old := h.joinWith(joinReq(3, ""))
	if !old.done() || old.resp.ErrorCode != 0 || old.resp.MemberID != "client-2" || old.resp.Generation != 1 {
		t.Fatalf("v3 join: %+v", old.resp)
	}
	// A known member id for an unknown group.
	h.ns = "other"
	wantCode(t, "unknown group", h.join("client-2").resp.ErrorCode, kerr.UnknownMemberID.Code)
}

func TestHeartbeatErrors(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(1)
	tests := []struct {
		name   string
		member string
		gen    int32
		want   int16
	}{
		{"current", ids[0], gen, 0},
		{"stale generation", ids[0], gen - 1, kerr.IllegalGeneration.Code},
		{"future generation", ids[0], gen + 1, kerr.IllegalGeneration.Code},
		{"unknown member", "ghost", gen, kerr.UnknownMemberID.Code},
		{"no member", "", gen, kerr.UnknownMemberID.Code},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.name, h.heartbeat(tc.member, tc.gen), tc.want) })
	}
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = "unknown"
	wantCode(t, "unknown group", h.c.Heartbeat(h.now, h.ns, Client{}, req).ErrorCode, kerr.UnknownMemberID.Code)
	req.Group = ""
	wantCode(t, "empty group id", h.c.Heartbeat(h.now, h.ns, Client{}, req).ErrorCode, kerr.InvalidGroupID.Code)
}

func TestJoinValidation(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.stableGroup(1)

	short := joinReq(9, "")
	short.SessionTimeoutMillis = 1000
	wantCode(t, "short session", h.joinWith(short).resp.ErrorCode, kerr.InvalidSessionTimeout.Code)

	noGroup := joinReq(9, "")
	noGroup.Group = ""
	wantCode(t, "no group id", h.joinWith(noGroup).resp.ErrorCode, kerr.InvalidGroupID.Code)

	otherType := joinReq(9, "")
	otherType.ProtocolType = "connect"
	wantCode(t, "other type", h.joinWith(otherType).resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)

	wantCode(t, "no common protocol", h.join("", "sticky").resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)

	// The only member may change its offer entirely: nobody else constrains it.
	j := h.join(ids[0], "sticky")
	if !j.done() || j.resp.ErrorCode != 0 || *j.resp.Protocol != "sticky" {
		t.Fatalf("lone member changing protocol: %+v", j.resp)
	}
}

func TestProtocolSelectionByPreference(t *testing.T) {
	h := newHarness(t)
	a, b, c := h.newMember(), h.newMember(), h.newMember()
	ja := h.join(a, "range", "sticky", "roundrobin")
	h.join(b, "sticky", "range")
	h.join(c, "sticky", "cooperative", "range")
	// Common: range, sticky. Votes: a→range, b→sticky, c→sticky.
	if !ja.done() || *ja.resp.Protocol != "sticky" {
		t.Fatalf("protocol: %+v", ja.resp)
	}
	for _, m := range ja.resp.Members {
		if string(m.ProtocolMetadata) != "sticky/"+m.MemberID {
			t.Fatalf("leader must get the chosen protocol's metadata: %q", m.ProtocolMetadata)
		}
	}
}

func TestFollowerRejoinInStableIsAnsweredWithoutRebalance(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(2)
	j := h.join(ids[1])
	if !j.done() || j.resp.Generation != gen || j.resp.LeaderID != ids[0] {
		t.Fatalf("%+v", j.resp)
	}
	h.wantState(StateStable)
	// The leader rejoining always rebalances (it may want to reassign).
	if h.join(ids[0]).done() {
		t.Fatal("leader rejoin should wait for the follower")
	}
	h.wantState(StatePreparingRebalance)
}

func TestRebalanceDuringSyncFailsWaitingFollowers(t *testing.T) {
	h := newHarness(t)
	a, b := h.newMember(), h.newMember()
	h.join(a)
	h.join(b)
	sb := h.sync(b, 1, nil)
	wantCode(t, "sync before join completes", h.sync(a, 0, nil).resp.ErrorCode, kerr.IllegalGeneration.Code)
	h.leave(a)
	if sb.resp == nil || sb.resp.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("waiting follower: %+v", sb.resp)
	}
}

func TestSyncErrors(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(1)
	wantCode(t, "unknown member", h.sync("ghost", gen, nil).resp.ErrorCode, kerr.UnknownMemberID.Code)
	wantCode(t, "bad generation", h.sync(ids[0], gen+1, nil).resp.ErrorCode, kerr.IllegalGeneration.Code)

	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group = testGroup
	req.MemberID = ids[0]
	req.Generation = gen
	req.Protocol = kmsg.StringPtr("roundrobin")
	var got *kmsg.SyncGroupResponse
	h.c.Sync(h.now, h.ns, Client{}, req, func(r *kmsg.SyncGroupResponse) { got = r })
	wantCode(t, "protocol mismatch", got.ErrorCode, kerr.InconsistentGroupProtocol.Code)

	h.join(ids[0]) // leader rejoins: PreparingRebalance completes at once (alone)
	h.join(ids[0], "sticky")
	h.wantState(StateCompletingRebalance)
}

func TestValidateCommit(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(2)
	key := GroupKey{testNS, testGroup}
	emptyKey := GroupKey{testNS, "empty"}
	h.c.groups[emptyKey] = newGroup(emptyKey)
	unknown := GroupKey{testNS, "unknown"}

	check := func(name string, key GroupKey, member string, g int32, want int16) {
		t.Helper()
		wantCode(t, name, h.c.ValidateCommit(h.now, key, Client{}, member, g), want)
	}
	check("member at generation", key, ids[1], gen, 0)
	check("stale generation", key, ids[1], gen-1, kerr.IllegalGeneration.Code)
	check("unknown member", key, "ghost", gen, kerr.UnknownMemberID.Code)
	check("simple commit to active group", key, "", -1, kerr.UnknownMemberID.Code)
	check("simple commit to empty group", emptyKey, "", -1, 0)
	check("simple commit to unknown group", unknown, "", -1, 0)
	check("generation to unknown group", unknown, "m", 3, kerr.IllegalGeneration.Code)
	check("member, no generation, unknown group", unknown, "m", -1, kerr.UnknownMemberID.Code)

	h.join(ids[0], "range", "sticky") // leader rejoins: PreparingRebalance
	check("preparing: commit before rejoin", key, ids[1], gen, 0)
	h.join(ids[1])
	h.wantState(StateCompletingRebalance)
	check("completing", key, ids[1], gen+1, kerr.RebalanceInProgress.Code)
	check("completing, old generation", key, ids[1], gen, kerr.IllegalGeneration.Code)
}

func TestNamespacesAreIndependent(t *testing.T) {
	h := newHarness(t)
	idsA, genA := h.stableGroup(2)
	h.ns = "ns2"
	h.wantState(StateDead)
	wantCode(t, "ns1 member in ns2", h.heartbeat(idsA[0], genA), kerr.UnknownMemberID.Code)
	idsB, _ := h.stableGroup(1)
	if l := h.c.List("ns2"); len(l) != 1 || l[0].Group != testGroup || l[0].State != StateStable {
		t.Fatalf("list ns2: %+v", l)
	}
	h.leave(idsB[0])
	h.wantState(StateEmpty)
	h.ns = testNS
	h.wantState(StateStable)
	if d := h.c.Describe(GroupKey{testNS, testGroup})[0]; len(d.Members) != 2 {
		t.Fatalf("ns1 group changed: %+v", d)
	}
}

func TestDescribeListDelete(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup(2)
	key := GroupKey{testNS, testGroup}
	d := h.c.Describe(key, GroupKey{testNS, "nope"})
	if d[1].State != StateDead || len(d[1].Members) != 0 {
		t.Fatalf("unknown: %+v", d[1])
	}
	g := d[0]
	if g.State != StateStable || g.Protocol != "range" || g.ProtocolType != "consumer" || g.Generation != gen || g.Leader != ids[0] {
		t.Fatalf("describe: %+v", g)
	}
	m := g.Members[1]
	if m.MemberID != ids[1] || m.ClientID != "client" || m.ClientHost != "10.0.0.1" ||
		string(m.Metadata) != "range/"+ids[1] || string(m.Assignment) != "assignment-of-"+ids[1] {
		t.Fatalf("member: %+v", m)
	}
	wantCode(t, "delete active", h.c.Delete(key), kerr.NonEmptyGroup.Code)
	h.leave(ids...)
	if l := h.c.List(testNS); len(l) != 1 || l[0].State != StateEmpty || l[0].ProtocolType != "consumer" {
		t.Fatalf("list: %+v", l)
	}
	wantCode(t, "delete empty", h.c.Delete(key), 0)
	wantCode(t, "delete again", h.c.Delete(key), kerr.GroupIDNotFound.Code)
	h.wantState(StateDead)
}

func TestShutdownAnswersWaiters(t *testing.T) {
	h := newHarness(t)
	a, b := h.newMember(), h.newMember()
	ja := h.join(a)
	h.c.Shutdown(kerr.NotCoordinator.Code)
	wantCode(t, "waiting join", ja.resp.ErrorCode, kerr.NotCoordinator.Code)
	h.wantState(StateDead)
	wantCode(t, "after shutdown", h.join(b).resp.ErrorCode, kerr.UnknownMemberID.Code)
}

func TestResponsesFollowRequestVersion(t *testing.T) {
	h := newHarness(t)
	for _, v := range []int16{0, 1, 3, 5, 6, 7, 9} {
		req := joinReq(v, "")
		req.Group = fmt.Sprintf("g-v%d", v)
		w := h.joinWith(req)
		if v >= 4 {
			req = joinReq(v, w.resp.MemberID)
			req.Group = fmt.Sprintf("g-v%d", v)
			w = h.joinWith(req)
		}
		r := w.resp
		if r.Version != v || r.ErrorCode != 0 || r.Generation != 1 {
			t.Fatalf("v%d: %+v", v, r)
		}
		// Encoding must not fail for the version, and must round-trip.
		back := kmsg.NewPtrJoinGroupResponse()
		back.Version = v
		if err := back.ReadFrom(r.AppendTo(nil)); err != nil || back.MemberID != r.MemberID || len(back.Members) != 1 {
			t.Fatalf("v%d round trip: %v %+v", v, err, back)
		}
	}
}

func TestLeaveByInstanceIDAndPendingID(t *testing.T) {
	h := newHarness(t)
	a, b, p := h.newMember(), h.newMember(), h.newMember()
	ra := joinReq(9, a)
	ra.InstanceID = kmsg.StringPtr("host-a") // recorded, but a is a dynamic member (no KIP-345)
	ja := h.joinWith(ra)
	h.join(b)
	if ja.done() {
		t.Fatal("must wait for the pending id p")
	}
	// Leaving with the pending id releases the barrier.
	wantCode(t, "leave pending", h.leave(p).Members[0].ErrorCode, 0)
	if !ja.done() || ja.resp.Members[0].InstanceID == nil || *ja.resp.Members[0].InstanceID != "host-a" {
		t.Fatalf("join: %+v", ja.resp)
	}

	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 4
	req.Group = testGroup
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.InstanceID = kmsg.StringPtr("host-a")
	req.Members = append(req.Members, lm)
	r := h.c.Leave(h.now, h.ns, Client{}, req)
	if r.Members[0].ErrorCode != 0 || r.Members[0].MemberID != a {
		t.Fatalf("leave by instance id: %+v", r.Members)
	}
	wantCode(t, "a gone", h.heartbeat(a, 1), kerr.UnknownMemberID.Code)
}

func TestMaxGroupSize(t *testing.T) {
	h := newHarness(t)
	h.c.cfg.MaxGroupSize = 1
	h.newMember()
	wantCode(t, "second", h.join("").resp.ErrorCode, kerr.GroupMaxSizeReached.Code)
}

func TestDuplicateJoinWhileWaitingAnswersTheOlder(t *testing.T) {
	h := newHarness(t)
	a, b := h.newMember(), h.newMember()
	first := h.join(a)
	second := h.join(a)
	wantCode(t, "older join", first.resp.ErrorCode, kerr.RebalanceInProgress.Code)
	h.join(b)
	if !second.done() || second.resp.ErrorCode != 0 {
		t.Fatalf("newer join: %+v", second.resp)
	}
}
