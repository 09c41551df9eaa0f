package group

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// classicType is the GroupType ListGroups v5+ reports for every group here (KIP-848 names the
// old protocol "classic").
const classicType = "classic"

// Describe handles a DescribeGroups for namespace ns. A group the client (WithClient) may not
// see (it cannot read what the group reads) is described as unknown, so a credential learns
// nothing of groups beyond its reach. Authorised operations are left at the "not provided"
// default.
func (m *Manager) Describe(ctx context.Context, ns string, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	keys := make([]GroupKey, len(req.Groups))
	for i, id := range req.Groups {
		keys[i] = GroupKey{Namespace: ns, Group: id}
	}
	var ds []Description
	client := clientFrom(ctx)
	err := m.do(ctx, func(c *Coordinator, _ time.Time) {
		ds = c.Describe(keys...)
		for i, key := range keys {
			if !c.VisibleTo(key, client) {
				ds[i] = Description{Key: key, State: StateDead}
			}
		}
	})
	for i, id := range req.Groups {
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group = id
		switch {
		case err != nil:
			g.ErrorCode = kerr.CoordinatorNotAvailable.Code
		case id == "":
			g.ErrorCode = kerr.InvalidGroupID.Code
		default:
			fillDescribed(&g, ds[i], req.Version)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

func fillDescribed(g *kmsg.DescribeGroupsResponseGroup, d Description, version int16) {
	g.State = d.State.String()
	if d.State == StateDead && version >= 6 {
		g.ErrorCode = kerr.GroupIDNotFound.Code // KIP-1043; older versions answer Dead, no error
	}
	g.ProtocolType = d.ProtocolType
	g.Protocol = d.Protocol
	for _, md := range d.Members {
		gm := kmsg.NewDescribeGroupsResponseGroupMember()
		gm.MemberID = md.MemberID
		gm.InstanceID = md.InstanceID
		gm.ClientID = md.ClientID
		gm.ClientHost = md.ClientHost
		gm.ProtocolMetadata = md.Metadata
		gm.MemberAssignment = md.Assignment
		g.Members = append(g.Members, gm)
	}
}

// List handles a ListGroups for namespace ns, with the v4+ state filter and the v5+ type filter
// (every group here is "classic"). Only groups the client (WithClient) may see are listed.
func (m *Manager) List(ctx context.Context, ns string, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	var ls []Listing
	client := clientFrom(ctx)
	err := m.do(ctx, func(c *Coordinator, _ time.Time) {
		for _, l := range c.List(ns) {
			if c.VisibleTo(GroupKey{Namespace: ns, Group: l.Group}, client) {
				ls = append(ls, l)
			}
		}
	})
	if err != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	if len(req.TypesFilter) > 0 && !containsFold(req.TypesFilter, classicType) {
		return resp
	}
	for _, l := range ls {
		if len(req.StatesFilter) > 0 && !containsFold(req.StatesFilter, l.State.String()) {
			continue
		}
		g := kmsg.NewListGroupsResponseGroup()
		g.Group = l.Group
		g.ProtocolType = l.ProtocolType
		g.GroupState = l.State.String()
		g.GroupType = classicType
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

// containsFold reports whether list holds s, ignoring case, as Kafka parses these filters.
func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
