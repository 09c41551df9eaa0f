package group

import (
	"cmp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Description is a group as DescribeGroups reports it.
type Description struct {
	Key          GroupKey
	State        State // StateDead for a group that does not exist
	ProtocolType string
	Protocol     string // empty unless Stable, as in Kafka
	Generation   int32
	Leader       string
	Members      []MemberDescription // in join order
}

// MemberDescription is one member of a described group. Metadata (for the chosen protocol) and
// Assignment are set only while the group is Stable, as in Kafka.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// Describe returns one Description per key, in order. Unknown groups are described as Dead with
// no members.
func (c *Coordinator) Describe(keys ...GroupKey) []Description {
	out := make([]Description, 0, len(keys))
	for _, key := range keys {
		g := c.groups[key]
		if g == nil {
			out = append(out, Description{Key: key, State: StateDead})
			continue
		}
		d := Description{
			Key:          key,
			State:        g.state,
			ProtocolType: g.protocolType,
			Generation:   g.generation,
			Leader:       g.leader,
		}
		stable := g.state == StateStable
		if stable {
			d.Protocol = g.protocol
		}
		for _, m := range g.ordered() {
			md := MemberDescription{
				MemberID:   m.id,
				InstanceID: m.instanceID,
				ClientID:   m.client.ID,
				ClientHost: m.client.Host,
			}
			if stable {
				md.Metadata = m.metadata(g.protocol)
				md.Assignment = m.assignment
			}
			d.Members = append(d.Members, md)
		}
		out = append(out, d)
	}
	return out
}

// Listing is a group as ListGroups reports it.
type Listing struct {
	Group        string
	ProtocolType string
	State        State
}

// List returns the groups of one namespace, sorted by group id. Groups whose only trace is
// committed offsets are not here: offsets live in the metadata log, and the broker merges them.
func (c *Coordinator) List(namespace string) []Listing {
	var out []Listing
	for key, g := range c.groups {
		if key.Namespace == namespace {
			out = append(out, Listing{Group: key.Group, ProtocolType: g.protocolType, State: g.state})
		}
	}
	slices.SortFunc(out, func(a, b Listing) int { return cmp.Compare(a.Group, b.Group) })
	return out
}

// VisibleTo reports whether client may see the group: read every topic its members read.
// An unknown group is visible (there is nothing to see).
func (c *Coordinator) VisibleTo(key GroupKey, client Client) bool {
	g := c.groups[key]
	return g == nil || g.visibleTo(client, "")
}

// State returns a group's state; StateDead if the group does not exist.
func (c *Coordinator) State(key GroupKey) State {
	if g := c.groups[key]; g != nil {
		return g.state
	}
	return StateDead
}

// Delete forgets an Empty group and returns 0, GROUP_ID_NOT_FOUND if there is no such group or
// NON_EMPTY_GROUP if it has members. The caller deletes the group's committed offsets.
func (c *Coordinator) Delete(key GroupKey) int16 {
	g := c.groups[key]
	switch {
	case g == nil:
		return kerr.GroupIDNotFound.Code
	case g.state != StateEmpty:
		return kerr.NonEmptyGroup.Code
	}
	c.forget(key)
	return 0
}

// ValidateCommit decides whether an OffsetCommit (or TxnOffsetCommit) from memberID at
// generation may be stored, and returns its Kafka error code (0: store it). It follows Kafka's
// rules:
//   - generation < 0 with no member id is a "simple" commit (an admin tool, or a consumer that
//     assigns partitions itself): allowed only if the group is unknown or Empty, otherwise
//     UNKNOWN_MEMBER_ID, since only members may commit for an active group;
//   - otherwise the member must belong to the group (UNKNOWN_MEMBER_ID) at its current
//     generation (ILLEGAL_GENERATION; always so for an unknown group with generation >= 0);
//   - the member must have joined under the client's principal (UNKNOWN_MEMBER_ID);
//   - a member may commit while the group is PreparingRebalance (to save its progress before
//     rejoining) but not while CompletingRebalance (REBALANCE_IN_PROGRESS), because its
//     generation's assignment is not known yet.
//
// A valid commit from a member also keeps its session alive, as in Kafka.
func (c *Coordinator) ValidateCommit(now time.Time, key GroupKey, client Client, memberID string, generation int32) int16 {
	g := c.groups[key]
	if generation < 0 && memberID == "" {
		if g == nil || g.state == StateEmpty {
			return 0
		}
		return kerr.UnknownMemberID.Code
	}
	if g == nil && generation >= 0 {
		return kerr.IllegalGeneration.Code
	}
	if code := memberCheckFor(g, client, memberID, generation); code != 0 {
		return code
	}
	if g.state == StateCompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	g.touch(now, g.members[memberID])
	return 0
}
