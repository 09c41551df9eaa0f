package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Forwarding to a partition's leader. In a cluster only a partition's confirmed leader serves
// its data, yet an HTTP client may reach any node (a load balancer in front of a region). A
// send or receive that needs another node's partition is passed on to that node's HTTP API
// (the endpoint it recorded in the metadata) by a reverse proxy, unchanged: the leader
// authenticates the client's credentials again and applies the same limits. One hop at
// most: a forwarded request carries ForwardedHeader, and a node that gets one for a
// partition it does not lead answers 421 NotLeader (leadership moved meanwhile; the client
// retries). A leader whose endpoint is unknown or unreachable is a 503.
//
// A send without a partition (round-robin) goes to a partition this node leads when it leads
// any, as Event Hubs' gateway spreads such sends, and is forwarded only otherwise.

// ForwardedHeader marks a request one node forwarded to another; its value is the id of the
// forwarding node.
const ForwardedHeader = "Tandem-Forwarded-By"

// The client's address travels with a forwarded request, vouched for by the forwarding node
// (broker.ForwardProof, keyed by the cluster secret), so that the leader applies the
// namespace's IP rules to the client rather than to the node. Without a valid proof the
// headers are ignored.
const (
	forwardedForHeader   = "Tandem-Forwarded-For"
	forwardedProofHeader = "Tandem-Forward-Proof"
)

// forwardHeaderTimeout bounds how long the leader may take to start its answer: the longest
// receive wait plus a margin.
const forwardHeaderTimeout = maxLongPoll + 30*time.Second

// forwarder is the reverse proxy of one Server.
type forwarder struct {
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	rr        atomic.Uint32 // round-robin cursor of partition-less sends
}

type forwardKey struct{}

// forwardTo is what the proxy needs to know about one forwarded request.
type forwardTo struct {
	target *url.URL
	leader uint64
	what   string // "partition 3 of ns/hub", for errors
}

func newForwarder(s *Server, tlsConfig *tls.Config) *forwarder {
	f := &forwarder{transport: &http.Transport{
		TLSClientConfig:       tlsConfig,
		Proxy:                 nil, // node to node: never through an environment proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: forwardHeaderTimeout,
		IdleConnTimeout:       60 * time.Second,
		MaxIdleConnsPerHost:   32,
	}}
	self := strconv.FormatUint(s.b.NodeID(), 10)
	f.proxy = &httputil.ReverseProxy{
		Transport: f.transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			to := pr.In.Context().Value(forwardKey{}).(*forwardTo)
			pr.SetURL(to.target) // the Host header becomes the leader's own
			pr.SetXForwarded()
			pr.Out.Header.Set(ForwardedHeader, self)
			pr.Out.Header.Set(forwardedForHeader, pr.In.RemoteAddr)
			pr.Out.Header.Set(forwardedProofHeader, s.b.ForwardProof(pr.In.RemoteAddr, pr.Out.Method, pr.Out.URL.RequestURI(), time.Now()))
			// This node checked the browser rules against its own Host; the leader's
			// would see a foreign Origin.
			pr.Out.Header.Del("Origin")
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			to := r.Context().Value(forwardKey{}).(*forwardTo)
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				err = errcode.New(errcode.MessageTooLarge, "the request body is larger than %d bytes, the limit of one send (--http-max-send-bytes)", tooBig.Limit)
			case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
				return // the client went away
			default:
				err = errcode.New(errcode.Unavailable, "%s is led by node %d, whose HTTP API (%s) could not be reached from here: %v; retry shortly or send to that node",
					to.what, to.leader, to.target.Redacted(), err)
			}
			s.writeError(w, r, err)
		},
	}
	return f
}

// clientAddr is the address of the client r comes from: the one a member of the region
// vouches for when it forwarded r, else the connection's.
func (s *Server) clientAddr(r *http.Request) string {
	if addr := r.Header.Get(forwardedForHeader); addr != "" &&
		s.b.CheckForwardProof(r.Header.Get(forwardedProofHeader), addr, r.Method, r.URL.RequestURI(), time.Now()) {
		return addr
	}
	return r.RemoteAddr
}

// Close closes the forwarder's idle connections to other nodes.
func (f *forwarder) Close() { f.transport.CloseIdleConnections() }

// toLeader forwards r when another node leads partition id of h and reports whether it did
// (its answer is written, or the error returned is to be). body, when not nil, is the request
// body already read.
func (s *Server) toLeader(w http.ResponseWriter, r *http.Request, h broker.HubInfo, id int32, body []byte) (bool, error) {
	route, err := s.b.PartitionLeaderEndpoint(h, id)
	if err != nil {
		return true, err
	}
	if route.Local {
		return false, nil
	}
	what := fmt.Sprintf("partition %d of %s/%s", id, h.Namespace, h.Name)
	if by := r.Header.Get(ForwardedHeader); by != "" {
		return true, errcode.New(errcode.NotLeader, "%s is led by node %d, not by this node (node %d), to which node %s forwarded the request; leadership moved meanwhile; retry",
			what, route.Leader, s.b.NodeID(), clip(by))
	}
	if route.HTTP == "" {
		return true, errcode.New(errcode.Unavailable, "%s is led by node %d, whose HTTP endpoint is not recorded in the metadata yet; retry shortly or send to that node", what, route.Leader)
	}
	target, err := url.Parse(route.HTTP)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return true, errcode.New(errcode.Unavailable, "%s is led by node %d, whose recorded HTTP endpoint %q is not an http(s) URL; fix its --advertise-http", what, route.Leader, clip(route.HTTP))
	}
	ctx := context.WithValue(r.Context(), forwardKey{}, &forwardTo{target: target, leader: route.Leader, what: what})
	out := r.WithContext(ctx)
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
	} else if r.Body != nil && r.ContentLength != 0 {
		out.Body = http.MaxBytesReader(w, r.Body, s.limits.MaxSendBytes) // the send limit, as here
	}
	s.fwd.proxy.ServeHTTP(w, out)
	return true, nil
}

// sendTarget routes a send without a partition in a cluster: events without partition keys
// go to a partition this node leads, else to the leader of the next partition round-robin;
// events whose keys all map to partitions of one leader go there; others are split by
// partition (sendSplit). It returns the partition
// to send to here (nil: as the events say), or forwards r and reports done.
func (s *Server) sendTarget(w http.ResponseWriter, r *http.Request, c *call, h broker.HubInfo, events []broker.Event, body []byte) (part *int32, done bool, err error) {
	keyed := map[int32]bool{}
	unkeyed := 0
	for _, ev := range events {
		if ev.PartitionKey == "" {
			unkeyed++
		} else {
			keyed[broker.KeyPartition([]byte(ev.PartitionKey), h.Partitions)] = true
		}
	}
	rr := s.fwd.rr.Add(1)
	if len(keyed) == 0 {
		if led := s.b.LedPartitions(h); len(led) > 0 {
			p := led[int(rr)%len(led)]
			return &p, false, nil
		}
		if r.Header.Get(ForwardedHeader) != "" {
			return nil, false, nil // the broker answers NotLeader
		}
		done, err := s.toLeader(w, r, h, int32(rr%uint32(h.Partitions)), body)
		return nil, done, err
	}
	if unkeyed > 0 {
		return nil, true, s.sendSplit(w, r, c, h, events, body)
	}
	var first int32 = -1
	leaders := map[uint64]bool{}
	for p := range keyed {
		route, err := s.b.PartitionLeaderEndpoint(h, p)
		if err != nil {
			return nil, true, err
		}
		if first < 0 {
			first = p
		}
		leaders[route.Leader] = true // 0: this node
	}
	if len(leaders) > 1 {
		return nil, true, s.sendSplit(w, r, c, h, events, body)
	}
	done, err = s.toLeader(w, r, h, first, body)
	return nil, done, err
}
