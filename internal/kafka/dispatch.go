package kafka

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/group"
)

// versions holds the version range served for each API key; each NN_name.go file registers
// its own key in init.
var versions = map[int16][2]int16{}

func register(key, lo, hi int16) { versions[key] = [2]int16{lo, hi} }

func supported(key int16) (lo, hi int16, ok bool) {
	v, ok := versions[key]
	return v[0], v[1], ok
}

// sortedKeys lists the served keys in order, for ApiVersions.
func sortedKeys() []int16 {
	keys := make([]int16, 0, len(versions))
	for k := range versions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// now is a helper for handlers: a response whose work is already done.
func now(resp kmsg.Response) func() kmsg.Response { return func() kmsg.Response { return resp } }

// dispatch authenticates and routes one request. It runs on the connection's reader
// goroutine, so anything order-sensitive (SASL state, produce appends) happens here; the
// returned func finishes the request and may block.
//
// Every request after authentication rechecks the principal against the current metadata
// (broker.Recheck: namespace incarnation, rule, key, rights, IP rules, token expiry); when it
// no longer holds, the connection is closed, as Event Hubs closes a connection whose token
// expired.
func (c *conn) dispatch(ctx context.Context, r *request) func() kmsg.Response {
	switch r.key {
	case 18:
		return now(c.handleApiVersions(r.kreq.(*kmsg.ApiVersionsRequest), r.unsupported))
	case 17:
		return now(c.handleSASLHandshake(r.kreq.(*kmsg.SASLHandshakeRequest)))
	case 36:
		return now(c.handleSASLAuthenticate(ctx, r.kreq.(*kmsg.SASLAuthenticateRequest)))
	}
	if c.principal == nil {
		if p, ok := c.s.opts.Broker.DevPrincipal(); ok && c.s.opts.Dev {
			if err := c.s.opts.Broker.CheckClientAddress(p.Namespace, c.remote); err != nil {
				r.fatal = err
				return nil
			}
			c.principal = &p
		} else {
			r.fatal = fmt.Errorf("%s before SASL authentication; connect with SASL PLAIN, user $ConnectionString and a connection string as password", kmsg.NameForKey(r.key))
			return nil
		}
	}
	if err := c.s.opts.Broker.Recheck(c.principal, c.remote); err != nil {
		r.fatal = fmt.Errorf("closing the connection before %s: %w", kmsg.NameForKey(r.key), err)
		return nil
	}
	if f := c.dispatchGroup(ctx, r); f != nil {
		return f
	}
	switch req := r.kreq.(type) {
	case *kmsg.ProduceRequest:
		return c.handleProduce(ctx, req)
	case *kmsg.FetchRequest:
		return c.handleFetch(ctx, r, req)
	case *kmsg.ListOffsetsRequest:
		return now(c.handleListOffsets(req))
	case *kmsg.MetadataRequest:
		return func() kmsg.Response { return c.handleMetadata(ctx, req) }
	case *kmsg.OffsetCommitRequest:
		// The connection's principal and client id are read here, on the reader goroutine,
		// which changes them for later requests while this one runs.
		p, client := *c.principal, c.groupClient()
		return func() kmsg.Response { return c.handleOffsetCommit(ctx, p, client, req) }
	case *kmsg.OffsetFetchRequest:
		p := *c.principal
		return func() kmsg.Response { return c.handleOffsetFetch(ctx, p, req) }
	case *kmsg.FindCoordinatorRequest:
		return now(c.handleFindCoordinator(req))
	case *kmsg.InitProducerIDRequest:
		return func() kmsg.Response { return c.handleInitProducerID(ctx, req) }
	case *kmsg.CreateTopicsRequest:
		return func() kmsg.Response { return c.handleCreateTopics(ctx, req) }
	case *kmsg.DeleteTopicsRequest:
		return func() kmsg.Response { return c.handleDeleteTopics(ctx, req) }
	case *kmsg.CreatePartitionsRequest:
		return func() kmsg.Response { return c.handleCreatePartitions(ctx, req) }
	case *kmsg.DescribeConfigsRequest:
		return now(c.handleDescribeConfigs(req))
	}
	r.fatal = fmt.Errorf("no handler for %s", kmsg.NameForKey(r.key))
	return nil
}

// dispatchGroup routes the consumer-group requests (nil for any other). The coordinator is
// told who asks (group.WithClient): the principal's identity, so that only it acts for the
// members it joined, and its read right, so that it joins and sees only groups whose every
// topic it may read. A principal without Listen anywhere is refused before the coordinator.
// In a cluster only the confirmed metadata leader coordinates (broker.CoordinatorContext):
// elsewhere every group request answers NOT_COORDINATOR (clients find the coordinator
// again), or COORDINATOR_NOT_AVAILABLE while no leader is confirmed; ListGroups answers an
// empty list there, as a Kafka broker coordinating no group does.
func (c *conn) dispatchGroup(ctx context.Context, r *request) func() kmsg.Response {
	switch r.kreq.(type) {
	case *kmsg.JoinGroupRequest, *kmsg.HeartbeatRequest, *kmsg.LeaveGroupRequest,
		*kmsg.SyncGroupRequest, *kmsg.DescribeGroupsRequest, *kmsg.ListGroupsRequest:
	default:
		return nil
	}
	p := *c.principal
	if !p.Can(broker.RightListen, p.EntityPath) {
		return now(groupDenied(r.kreq))
	}
	gctx := group.WithClient(ctx, c.groupClient())
	gctx, err := c.s.opts.Broker.CoordinatorContext(gctx)
	if err != nil {
		code, _ := c.codeMsg(err)
		return now(groupError(r.kreq, code))
	}
	groups, ns := c.s.opts.Broker.Groups(), p.Namespace
	switch req := r.kreq.(type) {
	case *kmsg.JoinGroupRequest:
		return func() kmsg.Response { return groups.Join(gctx, ns, req) }
	case *kmsg.HeartbeatRequest:
		return func() kmsg.Response { return groups.Heartbeat(gctx, ns, req) }
	case *kmsg.LeaveGroupRequest:
		return func() kmsg.Response { return groups.Leave(gctx, ns, req) }
	case *kmsg.SyncGroupRequest:
		return func() kmsg.Response { return groups.Sync(gctx, ns, req) }
	case *kmsg.DescribeGroupsRequest:
		return func() kmsg.Response { return groups.Describe(gctx, ns, req) }
	case *kmsg.ListGroupsRequest:
		return func() kmsg.Response { return groups.List(gctx, ns, req) }
	}
	return nil
}

// groupClient is who sends the current request, for the coordinator. Call it on the reader
// goroutine.
func (c *conn) groupClient() group.Client {
	p := *c.principal
	return group.Client{ID: c.clientID, Host: c.remote, Principal: p.Identity(), CanRead: canRead(p)}
}

// canRead is what the coordinator asks of a principal: may it read topic ("" = every hub of
// the namespace, which only a namespace-wide credential with Listen may).
func canRead(p broker.Principal) func(topic string) bool {
	return func(topic string) bool {
		if topic == "" {
			return p.EntityPath == "" && p.Can(broker.RightListen, "")
		}
		return p.Can(broker.RightListen, topic)
	}
}

// groupDenied answers a consumer-group request of a principal without Listen:
// GROUP_AUTHORIZATION_FAILED, and ListGroups an empty list, as Kafka answers a principal
// without Describe on any group.
func groupDenied(kreq kmsg.Request) kmsg.Response {
	return groupError(kreq, kerr.GroupAuthorizationFailed.Code)
}

// groupError answers a consumer-group request with code. ListGroups answers an empty list:
// with no error when the code is NOT_COORDINATOR or GROUP_AUTHORIZATION_FAILED (in Kafka,
// every broker lists the groups it coordinates, and a broker coordinating none lists none),
// else with the code.
func groupError(kreq kmsg.Request, code int16) kmsg.Response {
	switch req := kreq.(type) {
	case *kmsg.JoinGroupRequest:
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = code
		if req.Version < 7 {
			resp.Protocol = kmsg.StringPtr("")
		}
		return resp
	case *kmsg.HeartbeatRequest:
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.LeaveGroupRequest:
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.SyncGroupRequest:
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.DescribeGroupsRequest:
		resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, id := range req.Groups {
			g := kmsg.NewDescribeGroupsResponseGroup()
			g.Group, g.ErrorCode = id, code
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}
	resp := kreq.ResponseKind() // ListGroups: no group is visible
	if lg, ok := resp.(*kmsg.ListGroupsResponse); ok && code != kerr.NotCoordinator.Code && code != kerr.GroupAuthorizationFailed.Code {
		lg.ErrorCode = code
	}
	return resp
}
