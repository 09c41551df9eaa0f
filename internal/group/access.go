package group

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Who may act on a group, and what a group may hold.
//
// The package does not decide rights; the caller says, through Client, who is asking
// (Principal, an opaque identity of the credential) and what it may read (CanRead). The
// coordinator applies them the same way everywhere:
//
//   - a JoinGroup needs CanRead on every topic of its own subscription and of the subscriptions
//     of the group's current members (a member of a group sees, and as leader assigns, all of
//     them); a subscription that cannot be decoded (a protocol type other than "consumer")
//     counts as every topic, CanRead("");
//   - SyncGroup, Heartbeat, LeaveGroup and a rejoin act only on members that joined under the
//     same Principal; for any other the member is unknown (UNKNOWN_MEMBER_ID), as Kafka
//     answers for a member id it does not know;
//   - DescribeGroups and ListGroups show a group only to a client that could join it.
//
// A member's protocol metadata and assignment are capped (Config.MaxMemberMetadata) and what
// the members of one namespace hold in memory is budgeted (Config.MaxBytesPerNamespace), so
// members that disconnect without leaving keep at most that until their session expires.

// Fixed costs charged against a namespace's budget besides the bytes a client sent: what a
// member and a group cost in memory beyond their strings and byte slices (approximately).
const (
	memberOverhead = 512
	groupOverhead  = 256
)

// canRead reports whether the client may read topic ("" = every topic of the namespace). A
// client without a CanRead func (tests, callers that authorised beforehand) reads everything.
func (c Client) canRead(topic string) bool { return c.CanRead == nil || c.CanRead(topic) }

// canReadAll reports whether the client may read every topic of a subscription; known is
// false for a subscription that could not be decoded.
func (c Client) canReadAll(topics []string, known bool) bool {
	if !known {
		return c.canRead("")
	}
	for _, t := range topics {
		if !c.canRead(t) {
			return false
		}
	}
	return true
}

// subscription decodes the topics a JoinGroup subscribes to from its protocols' metadata
// (the consumer protocol, KIP-429's ConsumerMemberMetadata). known is false when the
// protocol type is not "consumer" or a protocol's metadata does not decode.
func subscription(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) (topics []string, known bool) {
	if protocolType != "consumer" {
		return nil, false
	}
	seen := map[string]bool{}
	for _, p := range protocols {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(p.Metadata); err != nil {
			return nil, false
		}
		for _, t := range md.Topics {
			if !seen[t] {
				seen[t] = true
				topics = append(topics, t)
			}
		}
	}
	return topics, true
}

// mayJoin reports whether client may join g (nil: a new group) with req: GROUP_AUTHORIZATION_FAILED
// when it may not read what the group reads.
func mayJoin(g *group, client Client, req *kmsg.JoinGroupRequest) int16 {
	topics, known := subscription(req.ProtocolType, req.Protocols)
	if !client.canReadAll(topics, known) {
		return kerr.GroupAuthorizationFailed.Code
	}
	if g != nil && !g.visibleTo(client, req.MemberID) {
		return kerr.GroupAuthorizationFailed.Code
	}
	return 0
}

// visibleTo reports whether client may read every topic the group's members (but exclude)
// subscribe to. An Empty group is judged by the subscriptions its last members had.
func (g *group) visibleTo(client Client, exclude string) bool {
	if client.CanRead == nil {
		return true
	}
	if len(g.members) == 0 {
		return client.canReadAll(g.lastTopics, g.lastKnown)
	}
	for id, m := range g.members {
		if id != exclude && !client.canReadAll(m.topics, m.topicsKnown) {
			return false
		}
	}
	return true
}

// owns reports whether the client may act for member m: it joined under the same principal.
func (m *member) ownedBy(client Client) bool { return m.principal == client.Principal }

// metadataBytes is what a JoinGroup's protocols hold.
func metadataBytes(protocols []kmsg.JoinGroupRequestProtocol) int {
	n := 0
	for _, p := range protocols {
		n += len(p.Name) + len(p.Metadata)
	}
	return n
}

// memberCost is what member m holds in memory, charged to its namespace's budget.
func (m *member) cost() int64 {
	return int64(memberOverhead + len(m.id) + len(m.client.ID) + len(m.client.Host) + len(m.principal) +
		metadataBytes(m.protocols) + len(m.assignment))
}

// charge adds delta bytes to the group's namespace usage.
func (g *group) charge(delta int64) {
	if g.usage != nil {
		*g.usage += delta
	}
}

// admits reports whether the namespace's budget has room for more bytes (limit 0: no budget).
func (g *group) admits(more int64, limit int64) bool {
	return limit <= 0 || g.usage == nil || *g.usage+more <= limit
}
