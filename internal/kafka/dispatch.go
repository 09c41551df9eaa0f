package kafka

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

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
		return func() kmsg.Response { return c.handleOffsetCommit(ctx, req) }
	case *kmsg.OffsetFetchRequest:
		return func() kmsg.Response { return c.handleOffsetFetch(ctx, req) }
	case *kmsg.FindCoordinatorRequest:
		return now(c.handleFindCoordinator(req))
	case *kmsg.JoinGroupRequest:
		gctx := group.WithClient(ctx, group.Client{ID: c.clientID, Host: c.remote})
		return func() kmsg.Response { return c.s.opts.Broker.Groups().Join(gctx, c.principal.Namespace, req) }
	case *kmsg.HeartbeatRequest:
		return func() kmsg.Response { return c.s.opts.Broker.Groups().Heartbeat(ctx, c.principal.Namespace, req) }
	case *kmsg.LeaveGroupRequest:
		return func() kmsg.Response { return c.s.opts.Broker.Groups().Leave(ctx, c.principal.Namespace, req) }
	case *kmsg.SyncGroupRequest:
		return func() kmsg.Response { return c.s.opts.Broker.Groups().Sync(ctx, c.principal.Namespace, req) }
	case *kmsg.DescribeGroupsRequest:
		return func() kmsg.Response { return c.s.opts.Broker.Groups().Describe(ctx, c.principal.Namespace, req) }
	case *kmsg.ListGroupsRequest:
		return func() kmsg.Response { return c.s.opts.Broker.Groups().List(ctx, c.principal.Namespace, req) }
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
