package group

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupKey names a group: groups of different namespaces are independent even when their ids
// are equal.
type GroupKey struct {
	Namespace string
	Group     string
}

// Client describes who sends a request: the connection a JoinGroup came from, as
// DescribeGroups reports it, and the credential it acts under (see access.go).
type Client struct {
	ID   string // the Kafka request header's client id
	Host string // the client's address
	// Principal identifies the credential; only the principal a member joined under may
	// heartbeat, sync, commit or leave for it. "" is a principal like any other.
	Principal string
	// CanRead reports whether the client may read topic ("" = every topic of the namespace);
	// nil reads everything.
	CanRead func(topic string) bool
}

// Config holds the coordinator's limits. The zero value takes Kafka's defaults.
type Config struct {
	// MinSessionTimeout and MaxSessionTimeout bound a member's session timeout (Kafka's
	// group.min.session.timeout.ms, default 6s, and group.max.session.timeout.ms, default 30m).
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// MaxGroupSize limits members per group (group.max.size); 0 means no limit.
	MaxGroupSize int
	// MaxMemberMetadata bounds the protocol metadata of one JoinGroup (names and metadata of
	// every protocol together) and the assignment of one member; 0 means no limit. Over it,
	// JoinGroup or the leader's SyncGroup answers POLICY_VIOLATION and nothing is kept.
	MaxMemberMetadata int
	// MaxBytesPerNamespace bounds what the groups and members of one namespace hold in
	// memory (see access.go for what counts); 0 means no limit. A JoinGroup or SyncGroup that
	// would go over answers POLICY_VIOLATION.
	MaxBytesPerNamespace int64
	// NewMemberID returns a fresh member id for a client. The default is
	// "<client id>-<random 128-bit hex>", like Kafka's; tests inject a deterministic one.
	NewMemberID func(clientID string) string
}

func (c Config) withDefaults() Config {
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.NewMemberID == nil {
		c.NewMemberID = randomMemberID
	}
	return c
}

func randomMemberID(clientID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return clientID + "-" + hex.EncodeToString(b[:])
}

// Coordinator is the pure state machine of all classic groups this node coordinates. It is not
// safe for concurrent use: one goroutine (the Manager's) drives it.
type Coordinator struct {
	cfg    Config
	groups map[GroupKey]*group
	// usage counts the bytes the groups of each namespace hold (MaxBytesPerNamespace).
	usage map[string]*int64
}

// NewCoordinator returns a Coordinator with no groups.
func NewCoordinator(cfg Config) *Coordinator {
	return &Coordinator{cfg: cfg.withDefaults(), groups: make(map[GroupKey]*group), usage: make(map[string]*int64)}
}

// newGroup creates a group counted in its namespace's budget.
func (c *Coordinator) newGroup(key GroupKey) *group {
	g := newGroup(key)
	u := c.usage[key.Namespace]
	if u == nil {
		u = new(int64)
		c.usage[key.Namespace] = u
	}
	g.usage = u
	g.charge(groupOverhead + int64(len(key.Group)))
	c.groups[key] = g
	return g
}

// forget removes a group and its count from the budget.
func (c *Coordinator) forget(key GroupKey) {
	if g := c.groups[key]; g != nil {
		for _, m := range g.members {
			g.charge(-m.charged)
		}
		g.charge(-(groupOverhead + int64(len(key.Group))))
		delete(c.groups, key)
	}
}

// ForgetNamespace answers the waiting requests of every group of namespace ns with
// UNKNOWN_MEMBER_ID and forgets those groups: the namespace was deleted, and one created
// again under its name must not find them.
func (c *Coordinator) ForgetNamespace(ns string) {
	for key, g := range c.groups {
		if key.Namespace == ns {
			g.shutdown(kerr.UnknownMemberID.Code)
			delete(c.groups, key)
		}
	}
	delete(c.usage, ns)
}

// Join handles a JoinGroup for the group req.Group of namespace ns. reply is called exactly once: at once for errors and for answers
// that need no barrier, or later, from Join, Sync, Leave, Tick or Shutdown, when the rebalance
// this join takes part in completes.
func (c *Coordinator) Join(now time.Time, ns string, client Client, req *kmsg.JoinGroupRequest, reply func(*kmsg.JoinGroupResponse)) {
	key := GroupKey{Namespace: ns, Group: req.Group}
	g := c.groups[key]
	if code := c.checkJoin(g, req); code != 0 {
		reply(joinError(req, code))
		return
	}
	if code := c.admitJoin(g, key, client, req); code != 0 {
		reply(joinError(req, code))
		return
	}
	if req.MemberID == "" {
		if g == nil {
			g = c.newGroup(key)
			g.emptySince = now
		}
		c.joinNew(now, g, client, req, reply)
		return
	}
	if _, ok := g.pending[req.MemberID]; ok {
		g.add(now, req.MemberID, client, req, reply)
		return
	}
	joinKnown(now, g, req, reply)
}

// checkJoin validates a JoinGroup against the group (nil if unknown), as Kafka does before
// touching the group.
func (c *Coordinator) checkJoin(g *group, req *kmsg.JoinGroupRequest) int16 {
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	switch {
	case req.Group == "":
		return kerr.InvalidGroupID.Code
	case session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout:
		return kerr.InvalidSessionTimeout.Code
	case req.MemberID != "" && g == nil:
		return kerr.UnknownMemberID.Code
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return kerr.InconsistentGroupProtocol.Code
	case g != nil && !g.supports(req.ProtocolType, req.Protocols, req.MemberID):
		return kerr.InconsistentGroupProtocol.Code
	}
	return 0
}

// admitJoin checks who joins and what it brings: the client must be allowed to read what the
// group reads (GROUP_AUTHORIZATION_FAILED), act for the member it names (UNKNOWN_MEMBER_ID),
// and offer no more metadata than MaxMemberMetadata nor go over its namespace's budget
// (POLICY_VIOLATION).
func (c *Coordinator) admitJoin(g *group, key GroupKey, client Client, req *kmsg.JoinGroupRequest) int16 {
	if code := mayJoin(g, client, req); code != 0 {
		return code
	}
	size := metadataBytes(req.Protocols)
	if c.cfg.MaxMemberMetadata > 0 && size > c.cfg.MaxMemberMetadata {
		return kerr.PolicyViolation.Code
	}
	more := int64(memberOverhead + size + len(client.ID) + len(client.Host) + len(client.Principal) + 64)
	if g == nil {
		more += groupOverhead + int64(len(key.Group))
		u := c.usage[key.Namespace]
		if c.cfg.MaxBytesPerNamespace > 0 && u != nil && *u+more > c.cfg.MaxBytesPerNamespace {
			return kerr.PolicyViolation.Code
		}
		return 0
	}
	if req.MemberID != "" {
		if m := g.members[req.MemberID]; m != nil {
			if !m.ownedBy(client) {
				return kerr.UnknownMemberID.Code
			}
			more -= m.charged
		} else if p, ok := g.pending[req.MemberID]; ok && p.principal != client.Principal {
			return kerr.UnknownMemberID.Code
		}
	}
	if !g.admits(more, c.cfg.MaxBytesPerNamespace) {
		return kerr.PolicyViolation.Code
	}
	return 0
}

// joinNew handles a JoinGroup with no member id: v4+ gets MEMBER_ID_REQUIRED and a member id to
// rejoin with (KIP-394), older versions become members at once.
func (c *Coordinator) joinNew(now time.Time, g *group, client Client, req *kmsg.JoinGroupRequest, reply func(*kmsg.JoinGroupResponse)) {
	if c.cfg.MaxGroupSize > 0 && len(g.members)+len(g.pending) >= c.cfg.MaxGroupSize {
		reply(joinError(req, kerr.GroupMaxSizeReached.Code))
		return
	}
	id := c.cfg.NewMemberID(client.ID)
	if req.Version < 4 {
		g.add(now, id, client, req, reply)
		return
	}
	g.pending[id] = pendingMember{expires: now.Add(time.Duration(req.SessionTimeoutMillis) * time.Millisecond), principal: client.Principal}
	resp := joinError(req, kerr.MemberIDRequired.Code)
	resp.MemberID = id
	reply(resp)
}

// joinKnown handles a JoinGroup from a current member.
func joinKnown(now time.Time, g *group, req *kmsg.JoinGroupRequest, reply func(*kmsg.JoinGroupResponse)) {
	m, ok := g.members[req.MemberID]
	if !ok {
		reply(joinError(req, kerr.UnknownMemberID.Code))
		return
	}
	switch g.state {
	case StatePreparingRebalance:
		g.update(m, req, reply)
		g.maybeCompleteJoin(now)
	case StateCompletingRebalance, StateStable:
		// A follower that lost its answer and rejoins with the same offer gets the current
		// generation again; the leader rejoining, or a changed offer, starts a rebalance.
		unchanged := req.ProtocolType == m.protocolType && sameProtocols(req.Protocols, m.protocols)
		if unchanged && (g.state == StateCompletingRebalance || m.id != g.leader) {
			g.touch(now, m)
			reply(g.joinResponse(req, m))
			return
		}
		g.update(m, req, reply)
		g.rebalance(now)
	default:
		reply(joinError(req, kerr.UnknownMemberID.Code))
	}
}

// Sync handles a SyncGroup in namespace ns. reply is called exactly once: at once, or, for members waiting on
// the leader's assignment, when the leader's SyncGroup arrives or the group rebalances again.
func (c *Coordinator) Sync(now time.Time, ns string, client Client, req *kmsg.SyncGroupRequest, reply func(*kmsg.SyncGroupResponse)) {
	key := GroupKey{Namespace: ns, Group: req.Group}
	g := c.groups[key]
	if req.Group == "" {
		reply(syncError(req, kerr.InvalidGroupID.Code))
		return
	}
	code := memberCheckFor(g, client, req.MemberID, req.Generation)
	if code == 0 && ((req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol)) {
		code = kerr.InconsistentGroupProtocol.Code
	}
	if code == 0 && g.state == StatePreparingRebalance {
		code = kerr.RebalanceInProgress.Code
	}
	if code != 0 {
		reply(syncError(req, code))
		return
	}
	m := g.members[req.MemberID]
	g.touch(now, m)
	delete(g.pendingSync, m.id)
	if g.state == StateStable {
		reply(g.syncResponse(req, m))
		return
	}
	// CompletingRebalance: wait for the leader, or complete the barrier if this is the leader.
	if m.syncReply != nil {
		m.syncReply(syncError(m.sync, kerr.RebalanceInProgress.Code))
	}
	if m.id == g.leader {
		if code := c.admitAssignment(g, req.GroupAssignment); code != 0 {
			reply(syncError(req, code))
			return
		}
	}
	m.sync, m.syncReply = req, reply
	if m.id == g.leader {
		g.completeSync(req.GroupAssignment)
	}
}

// admitAssignment checks the leader's assignment against MaxMemberMetadata (per member) and
// the namespace's budget: POLICY_VIOLATION, and nothing kept, when it does not fit.
func (c *Coordinator) admitAssignment(g *group, as []kmsg.SyncGroupRequestGroupAssignment) int16 {
	var more int64
	for _, a := range as {
		m, ok := g.members[a.MemberID]
		if !ok {
			continue
		}
		if c.cfg.MaxMemberMetadata > 0 && len(a.MemberAssignment) > c.cfg.MaxMemberMetadata {
			return kerr.PolicyViolation.Code
		}
		more += int64(len(a.MemberAssignment) - len(m.assignment))
	}
	if !g.admits(more, c.cfg.MaxBytesPerNamespace) {
		return kerr.PolicyViolation.Code
	}
	return 0
}

// memberCheckFor is memberCheck for a client: a member that joined under another principal
// is unknown to it.
func memberCheckFor(g *group, client Client, memberID string, generation int32) int16 {
	if g != nil {
		if m := g.members[memberID]; m != nil && !m.ownedBy(client) {
			return kerr.UnknownMemberID.Code
		}
	}
	return memberCheck(g, memberID, generation)
}

// memberCheck is the check SyncGroup, Heartbeat and OffsetCommit share: the member must be in
// the group (UNKNOWN_MEMBER_ID) and in its generation (ILLEGAL_GENERATION).
func memberCheck(g *group, memberID string, generation int32) int16 {
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	return 0
}

// Heartbeat handles a Heartbeat in namespace ns: it keeps the member's session alive and tells it, with
// REBALANCE_IN_PROGRESS, that it must rejoin.
func (c *Coordinator) Heartbeat(now time.Time, ns string, client Client, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	key := GroupKey{Namespace: ns, Group: req.Group}
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	g := c.groups[key]
	if resp.ErrorCode = memberCheckFor(g, client, req.MemberID, req.Generation); resp.ErrorCode != 0 {
		return resp
	}
	g.touch(now, g.members[req.MemberID])
	if g.state == StatePreparingRebalance {
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	}
	return resp
}

// Leave handles a LeaveGroup in namespace ns: v0-2 name one member, v3+ a batch (by member id or, when the
// member id is empty, by instance id). The group rebalances once for the whole batch.
func (c *Coordinator) Leave(now time.Time, ns string, client Client, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	key := GroupKey{Namespace: ns, Group: req.Group}
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	g := c.groups[key]
	if g == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		g = newGroup(key) // a throwaway, so that every member below is answered unknown
	}
	var gone []*member
	for _, lm := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = lm.MemberID, lm.InstanceID
		p, pending := g.pending[lm.MemberID]
		pending = pending && p.principal == client.Principal
		switch m := g.find(lm.MemberID, lm.InstanceID); {
		case m != nil && m.ownedBy(client):
			rm.MemberID = m.id
			if !slices.Contains(gone, m) {
				gone = append(gone, m)
			}
		case pending:
			delete(g.pending, lm.MemberID)
			g.maybeCompleteJoin(now)
		default:
			rm.ErrorCode = kerr.UnknownMemberID.Code
		}
		resp.Members = append(resp.Members, rm)
	}
	if req.Version < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	g.removeAndRebalance(now, gone)
	return resp
}

// find returns the member with id, or with instanceID when id is empty; nil if none. The
// caller checks that the client may act for it.
func (g *group) find(id string, instanceID *string) *member {
	if id != "" {
		return g.members[id]
	}
	if instanceID == nil {
		return nil
	}
	for _, m := range g.ordered() {
		if m.instanceID != nil && *m.instanceID == *instanceID {
			return m
		}
	}
	return nil
}

// Tick advances time: it removes members whose session expired, completes join barriers whose
// rebalance timeout passed (dropping members that did not rejoin), and removes members that did
// not send SyncGroup in time. Call it often (the Manager does every 100ms); timeouts are only as
// precise as the tick.
//
// An Empty group with no member id pending is forgotten EmptyGroupRetention after it became
// Empty, so that group ids used once do not stay in memory (Kafka drops them with their
// offsets; here the offsets live in the metadata log and stay).
func (c *Coordinator) Tick(now time.Time) {
	for key, g := range c.groups {
		g.tick(now)
		if g.state == StateEmpty && len(g.pending) == 0 && !g.emptySince.IsZero() &&
			now.Sub(g.emptySince) >= EmptyGroupRetention {
			c.forget(key)
		}
	}
}

// EmptyGroupRetention is how long an Empty group is kept (for ListGroups, DescribeGroups and
// the protocol type a rejoin must match) after its last member left.
const EmptyGroupRetention = 24 * time.Hour

// Shutdown answers every waiting JoinGroup and SyncGroup with code (for example
// COORDINATOR_NOT_AVAILABLE when the node stops, or NOT_COORDINATOR when the groups move) and
// forgets every group. The Coordinator stays usable, empty.
func (c *Coordinator) Shutdown(code int16) {
	for _, g := range c.groups {
		g.shutdown(code)
	}
	c.groups = make(map[GroupKey]*group)
	c.usage = make(map[string]*int64)
}
