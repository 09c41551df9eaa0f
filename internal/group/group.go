package group

import (
	"bytes"
	"cmp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state, named as Kafka names it in DescribeGroups and ListGroups.
type State int8

// The states of a classic group (Kafka's GroupState).
const (
	// StateEmpty: no members. A group is created Empty and returns to it when its last member
	// leaves or times out.
	StateEmpty State = iota
	// StatePreparingRebalance: waiting for every known member to (re)send JoinGroup, until the
	// rebalance timeout.
	StatePreparingRebalance
	// StateCompletingRebalance: JoinGroup answered; waiting for the leader's SyncGroup.
	StateCompletingRebalance
	// StateStable: the leader's assignment was delivered; members heartbeat.
	StateStable
	// StateDead: the group does not exist (unknown or deleted).
	StateDead
)

func (s State) String() string {
	switch s {
	case StateEmpty:
		return "Empty"
	case StatePreparingRebalance:
		return "PreparingRebalance"
	case StateCompletingRebalance:
		return "CompletingRebalance"
	case StateStable:
		return "Stable"
	case StateDead:
		return "Dead"
	}
	return "Unknown"
}

// member is one member of a group. A member is "awaiting join" while joinReply is set and
// "awaiting sync" while syncReply is set; in both cases its session does not expire (Kafka's
// shouldKeepAlive), the rebalance timeout bounds the wait instead.
type member struct {
	id         string
	instanceID *string
	client     Client
	principal  string // the credential it joined under: only it may act for the member
	seq        uint64 // join order; the leader is the oldest member, lists are in this order

	// topics is the subscription decoded from the protocol metadata; topicsKnown is false
	// when it could not be decoded (then it counts as every topic).
	topics      []string
	topicsKnown bool
	// charged is what the member is counted for in its namespace's budget.
	charged int64

	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	expires          time.Time // session deadline, moved by heartbeats

	join      *kmsg.JoinGroupRequest // the waiting JoinGroup, for its version
	joinReply func(*kmsg.JoinGroupResponse)
	sync      *kmsg.SyncGroupRequest // the waiting SyncGroup, for its version
	syncReply func(*kmsg.SyncGroupResponse)

	assignment []byte
}

// group is one classic group. Its methods are the transitions of Kafka's GroupCoordinator.
type group struct {
	key          GroupKey
	state        State
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	nextSeq      uint64

	// pending are member ids handed out with MEMBER_ID_REQUIRED (JoinGroup v4+) whose owners
	// have not joined yet, with the time they are forgotten. A rebalance waits for them.
	pending map[string]pendingMember

	// joinDeadline ends PreparingRebalance: members that have not rejoined by then are removed.
	joinDeadline time.Time
	// pendingSync are members that got their JoinGroup answer but have not sent SyncGroup;
	// those still pending at syncDeadline are removed and the group rebalances again.
	pendingSync  map[string]struct{}
	syncDeadline time.Time

	// lastTopics and lastKnown are the subscription of the last member that left, by which
	// an Empty group is shown (see visibleTo).
	lastTopics []string
	lastKnown  bool
	// emptySince is when the group last became Empty; an Empty group is forgotten
	// EmptyGroupRetention later (its offsets live in the metadata log, not here).
	emptySince time.Time
	// usage is the memory budget counter of the group's namespace, shared by its groups; nil
	// for throwaway groups.
	usage *int64
}

// pendingMember is a member id handed out and not yet used: when it is forgotten, and the
// principal it was handed to.
type pendingMember struct {
	expires   time.Time
	principal string
}

func newGroup(key GroupKey) *group {
	return &group{
		key:     key,
		state:   StateEmpty,
		members: make(map[string]*member),
		pending: make(map[string]pendingMember),
		// A group that never had a member subscribes to nothing: anyone may see it.
		lastKnown: true,
	}
}

// ordered returns the members in join order, so that every answer is deterministic.
func (g *group) ordered() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, bySeq)
	return ms
}

func bySeq(a, b *member) int { return cmp.Compare(a.seq, b.seq) }

func (g *group) touch(now time.Time, m *member) { m.expires = now.Add(m.sessionTimeout) }

// supports reports whether a member offering protocolType and protocols can be in the group:
// the type must match and one of its protocols must be offered by every other member.
// exclude is the joining member itself when it is already a member (its old offer does not count).
func (g *group) supports(protocolType string, protocols []kmsg.JoinGroupRequestProtocol, exclude string) bool {
	others := 0
	for id := range g.members {
		if id != exclude {
			others++
		}
	}
	if others == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		n := 0
		for id, m := range g.members {
			if id != exclude && m.offers(p.Name) {
				n++
			}
		}
		if n == others {
			return true
		}
	}
	return false
}

func (m *member) offers(name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	return slices.EqualFunc(a, b, func(x, y kmsg.JoinGroupRequestProtocol) bool {
		return x.Name == y.Name && bytes.Equal(x.Metadata, y.Metadata)
	})
}

// update records a member's (re)join: its offer, timeouts and the waiting request. A JoinGroup
// already waiting for this member is answered REBALANCE_IN_PROGRESS; the newer one replaces it.
func (g *group) update(m *member, req *kmsg.JoinGroupRequest, reply func(*kmsg.JoinGroupResponse)) {
	if m.joinReply != nil {
		m.joinReply(joinError(m.join, kerr.RebalanceInProgress.Code))
	}
	m.protocolType = req.ProtocolType
	m.protocols = slices.Clone(req.Protocols)
	m.sessionTimeout = time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	m.rebalanceTimeout = m.sessionTimeout
	if req.Version >= 1 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	m.instanceID = req.InstanceID
	m.topics, m.topicsKnown = subscription(req.ProtocolType, req.Protocols)
	m.join, m.joinReply = req, reply
	g.recharge(m)
}

// recharge brings the namespace's budget up to date with what m holds now.
func (g *group) recharge(m *member) {
	c := m.cost()
	g.charge(c - m.charged)
	m.charged = c
}

// add makes id a member, waiting in JoinGroup, and starts or advances a rebalance.
func (g *group) add(now time.Time, id string, client Client, req *kmsg.JoinGroupRequest, reply func(*kmsg.JoinGroupResponse)) {
	delete(g.pending, id)
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.nextSeq++
	m := &member{id: id, client: client, principal: client.Principal, seq: g.nextSeq}
	g.members[id] = m
	g.update(m, req, reply)
	g.touch(now, m)
	g.rebalance(now)
}

// rebalance moves the group to PreparingRebalance (or, if already there, checks the barrier).
func (g *group) rebalance(now time.Time) {
	if g.state == StatePreparingRebalance {
		g.maybeCompleteJoin(now)
		return
	}
	if g.state == StateCompletingRebalance {
		// The leader's assignment is for a generation that will not be; members waiting in
		// SyncGroup learn it and rejoin.
		for _, m := range g.ordered() {
			m.assignment = nil
			g.recharge(m)
			if m.syncReply != nil {
				m.syncReply(syncError(m.sync, kerr.RebalanceInProgress.Code))
				m.sync, m.syncReply = nil, nil
			}
		}
	}
	g.state = StatePreparingRebalance
	g.pendingSync = nil
	g.joinDeadline = now.Add(g.rebalanceTimeout())
	g.maybeCompleteJoin(now)
}

// rebalanceTimeout is the longest rebalance timeout of the members, as in Kafka.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// maybeCompleteJoin completes the join barrier once every member (and every member id handed
// out with MEMBER_ID_REQUIRED) has joined.
func (g *group) maybeCompleteJoin(now time.Time) {
	if g.state != StatePreparingRebalance || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinReply == nil {
			return
		}
	}
	g.completeJoin(now)
}

// completeJoin ends PreparingRebalance: members that did not rejoin are removed, the generation
// advances, a protocol and a leader are chosen, and every waiting JoinGroup is answered.
func (g *group) completeJoin(now time.Time) {
	for _, m := range g.ordered() {
		if m.joinReply == nil {
			g.remove(m)
		}
	}
	g.generation++
	if g.generation < 0 { // wrapped; Kafka's generations are positive
		g.generation = 1
	}
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader = StateEmpty, "", ""
		g.emptySince = now
		return
	}
	ms := g.ordered()
	g.protocol = g.selectProtocol(ms)
	if _, ok := g.members[g.leader]; !ok {
		g.leader = ms[0].id
	}
	g.state = StateCompletingRebalance
	g.pendingSync = make(map[string]struct{}, len(ms))
	g.syncDeadline = now.Add(g.rebalanceTimeout())
	for _, m := range ms {
		g.pendingSync[m.id] = struct{}{}
		g.touch(now, m)
		reply, req := m.joinReply, m.join
		m.join, m.joinReply = nil, nil
		reply(g.joinResponse(req, m))
	}
}

// selectProtocol picks, among the protocols every member offers, the one most members prefer
// (each member votes for the first such protocol in its own order). Ties go to the oldest
// member's preference. ms is non-empty and in join order; admission (supports) guarantees a
// common protocol.
func (g *group) selectProtocol(ms []*member) string {
	var candidates []string
	for _, p := range ms[0].protocols {
		common := true
		for _, m := range ms[1:] {
			common = common && m.offers(p.Name)
		}
		if common && !slices.Contains(candidates, p.Name) {
			candidates = append(candidates, p.Name)
		}
	}
	votes := make(map[string]int, len(candidates))
	for _, m := range ms {
		for _, p := range m.protocols {
			if slices.Contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, c := range candidates { // in the oldest member's order, so ties are deterministic
		if best == "" || votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

// joinResponse is the answer to req for member m in the current generation. Only the leader
// receives the members and their metadata for the chosen protocol.
func (g *group) joinResponse(req *kmsg.JoinGroupRequest, m *member) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = g.generation
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	if m.id == g.leader {
		for _, o := range g.ordered() {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID = o.id
			rm.InstanceID = o.instanceID
			rm.ProtocolMetadata = o.metadata(g.protocol)
			resp.Members = append(resp.Members, rm)
		}
	}
	return resp
}

// completeSync stores the leader's assignment, makes the group Stable and answers every member
// waiting in SyncGroup. Assignments for unknown members are ignored.
func (g *group) completeSync(assignments []kmsg.SyncGroupRequestGroupAssignment) {
	for _, m := range g.members {
		m.assignment = nil
	}
	for _, a := range assignments {
		if m, ok := g.members[a.MemberID]; ok {
			m.assignment = a.MemberAssignment
		}
	}
	for _, m := range g.members {
		g.recharge(m)
	}
	g.state = StateStable
	for _, m := range g.ordered() {
		if m.syncReply != nil {
			reply, req := m.syncReply, m.sync
			m.sync, m.syncReply = nil, nil
			reply(g.syncResponse(req, m))
		}
	}
}

func (g *group) syncResponse(req *kmsg.SyncGroupRequest, m *member) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.MemberAssignment = m.assignment
	return resp
}

// remove drops a member without starting a rebalance; a request it still has waiting is
// answered UNKNOWN_MEMBER_ID.
func (g *group) remove(m *member) {
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	g.charge(-m.charged)
	m.charged = 0
	if len(g.members) == 0 {
		g.lastTopics, g.lastKnown = m.topics, m.topicsKnown
	}
	if m.joinReply != nil {
		m.joinReply(joinError(m.join, kerr.UnknownMemberID.Code))
	}
	if m.syncReply != nil {
		m.syncReply(syncError(m.sync, kerr.UnknownMemberID.Code))
	}
	m.join, m.joinReply, m.sync, m.syncReply = nil, nil, nil, nil
}

// removeAndRebalance drops members (leave, expiry) and rebalances once.
func (g *group) removeAndRebalance(now time.Time, ms []*member) {
	if len(ms) == 0 {
		return
	}
	for _, m := range ms {
		g.remove(m)
	}
	g.rebalance(now)
}

// tick expires what now has passed: pending member ids, sessions, the join barrier and the
// sync wait.
func (g *group) tick(now time.Time) {
	pendingExpired := false
	for id, p := range g.pending {
		if !now.Before(p.expires) {
			delete(g.pending, id)
			pendingExpired = true
		}
	}
	var expired []*member // ticks are frequent: look at the map, sort only what expired
	for _, m := range g.members {
		if m.joinReply == nil && m.syncReply == nil && !now.Before(m.expires) {
			expired = append(expired, m)
		}
	}
	slices.SortFunc(expired, bySeq)
	g.removeAndRebalance(now, expired)
	if pendingExpired {
		g.maybeCompleteJoin(now)
	}
	if g.state == StatePreparingRebalance && !now.Before(g.joinDeadline) {
		g.completeJoin(now)
	}
	if (g.state == StateCompletingRebalance || g.state == StateStable) &&
		len(g.pendingSync) > 0 && !now.Before(g.syncDeadline) {
		var late []*member
		for _, m := range g.ordered() {
			if _, ok := g.pendingSync[m.id]; ok {
				late = append(late, m)
			}
		}
		g.removeAndRebalance(now, late)
	}
}

// shutdown answers every waiting request with code.
func (g *group) shutdown(code int16) {
	for _, m := range g.ordered() {
		if m.joinReply != nil {
			m.joinReply(joinError(m.join, code))
		}
		if m.syncReply != nil {
			m.syncReply(syncError(m.sync, code))
		}
		m.join, m.joinReply, m.sync, m.syncReply = nil, nil, nil, nil
	}
}

func joinError(req *kmsg.JoinGroupRequest, code int16) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode = code
	if req.Version < 7 {
		resp.Protocol = kmsg.StringPtr("")
	}
	return resp
}

func syncError(req *kmsg.SyncGroupRequest, code int16) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.ErrorCode = code
	return resp
}
