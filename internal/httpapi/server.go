// Package httpapi is Tandem's HTTP front end: the management API shaped like the Event Hubs
// ARM resources (namespaces, eventhubs, consumergroups, authorizationRules) and a JSON data
// plane (send, receive, checkpoints), plus /healthz and /metrics.
//
// It owns only the wire format and request authentication: every request is authenticated
// with a SAS token, the node admin key, or (in dev mode) anonymously for namespace "default",
// then handed to internal/broker. It must not touch logs or metadata directly. Errors are
// internal/errcode errors, written as {"error":{"code":…,"message":…}} with the catalogue's
// HTTP status.
//
// Event bodies travel as JSON values: a JSON string carries its string content as the event
// bytes, any other JSON value carries its exact bytes, and "bodyEncoding":"base64" marks a body
// that is not UTF-8 text. See messages.go.
//
// What one client can make the node hold is bounded by configuration: connection timeouts, a
// connection limit and long-poll deadlines (limits.go), events and bytes per send, bytes per
// receive after decompression with the answer streamed, and receives decoding at once
// (DataLimits). Requests a web page on another site could make are refused before
// authentication (origin.go), and /metrics needs the admin key unless dev mode or
// --metrics-auth opens it. In a cluster, sends and receives that need another node's
// partition are forwarded to that partition's leader (forward.go).
package httpapi

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/geodr"
	"github.com/tandem-streaming/tandem/internal/job"
)

// Options configure a Server.
type Options struct {
	Broker   *broker.Broker
	Logger   *slog.Logger
	Gatherer prometheus.Gatherer // served at /metrics; nil serves an empty registry
	Dev      bool                // anonymous requests act in namespace "default" with every right
	Geo      *geodr.Manager      // geo-DR: alias routes and the region-to-region API; nil disables them
	Jobs     *job.Manager        // stream jobs; nil disables the /jobs routes

	// Metrics says who may read /metrics on this listener.
	Metrics MetricsAccess
	// AllowedHosts are the names the Host header may carry besides IP literals and
	// localhost (see HostCheck); nil accepts every name.
	AllowedHosts []string
	// Data-plane bounds; zero or less takes the default of DefaultDataLimits.
	Limits DataLimits
	// PeerClient asks the region's other nodes for their part of GET /cluster; nil uses the
	// broker's PeerHTTP, else a plain client with a 3s timeout.
	PeerClient *http.Client
	// ForwardTLS is the client TLS configuration for forwarding partition requests to
	// another node's https:// endpoint in a cluster (forward.go); nil uses the system roots.
	ForwardTLS *tls.Config
}

// DataLimits bound the memory one data-plane request can make the node hold.
type DataLimits struct {
	MaxSendEvents   int   // events in one send request
	MaxSendBytes    int64 // body of one send request
	MaxReceiveBytes int   // keys, bodies and properties of one receive, after decompression (at least one event is returned)
	MaxReceives     int   // receives decoding and writing events at once; more wait for a slot
}

// DefaultDataLimits are the data-plane bounds unless flags change them.
var DefaultDataLimits = DataLimits{
	MaxSendEvents:   10000,
	MaxSendBytes:    64 << 20,
	MaxReceiveBytes: broker.DefaultReceiveBytes,
	MaxReceives:     8,
}

// MetricsAccess says who may read /metrics.
type MetricsAccess int

const (
	MetricsAuto  MetricsAccess = iota // MetricsOpen in dev mode, else MetricsAdmin
	MetricsAdmin                      // the node admin key (Authorization: TandemKey <key>)
	MetricsOpen                       // anyone who reaches the listener
	MetricsOff                        // not served here (it has a listener of its own)
)

// Server is the HTTP API of one node. It is an http.Handler.
type Server struct {
	b        *broker.Broker
	log      *slog.Logger
	dev      bool
	geo      *geodr.Manager
	jobs     *job.Manager
	mux      *http.ServeMux
	hosts    allowedHosts
	limits   DataLimits
	receives chan struct{} // a slot per receive decoding and writing events
	slotWait time.Duration // how long a receive waits for a slot before it is refused
	// peerClient asks other nodes for their GET /cluster; nil: defaultPeerClient.
	peerClient *http.Client
	fwd        *forwarder // passes partition requests to their leader in a cluster (forward.go)
}

// New returns the API handler for opts.Broker.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	lim, def := opts.Limits, DefaultDataLimits
	lim.MaxSendEvents = orDefault(lim.MaxSendEvents, def.MaxSendEvents)
	lim.MaxSendBytes = orDefault(lim.MaxSendBytes, def.MaxSendBytes)
	lim.MaxReceiveBytes = orDefault(lim.MaxReceiveBytes, def.MaxReceiveBytes)
	lim.MaxReceives = orDefault(lim.MaxReceives, def.MaxReceives)
	s := &Server{b: opts.Broker, log: opts.Logger.With("component", "httpapi"), dev: opts.Dev, geo: opts.Geo, jobs: opts.Jobs,
		mux: http.NewServeMux(), hosts: newAllowedHosts(opts.AllowedHosts), limits: lim,
		receives: make(chan struct{}, lim.MaxReceives), slotWait: 10 * time.Second, peerClient: opts.PeerClient}
	s.fwd = newForwarder(s, opts.ForwardTLS)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	if opts.Metrics == MetricsAuto {
		opts.Metrics = MetricsAdmin
		if opts.Dev {
			opts.Metrics = MetricsOpen
		}
	}
	if opts.Metrics != MetricsOff {
		s.mux.Handle("GET /metrics", MetricsHandler(opts.Gatherer, opts.Metrics, s.b))
	}
	s.routes()
	s.clusterRoutes()
	if s.jobs != nil {
		s.jobRoutes()
	}
	if s.geo != nil {
		s.aliasRoutes()
		s.mux.Handle("/geodr/v1/", s.geo.Handler())
	}
	return s
}

// orDefault is v, or def when v is not positive.
func orDefault[T int | int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// MetricsHandler serves the Prometheus text format of g, for /metrics on any listener, to
// the callers access allows (MetricsAdmin: those with b's admin key; MetricsAuto is taken as
// MetricsAdmin). Prometheus sends the key with
// `authorization: {type: TandemKey, credentials_file: <data>/admin-key}`.
func MetricsHandler(g prometheus.Gatherer, access MetricsAccess, b *broker.Broker) http.Handler {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	if access == MetricsOpen {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, key, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		if !strings.EqualFold(scheme, adminScheme) || !b.CheckAdminKey(strings.TrimSpace(key)) {
			b.RequestError("http", string(errcode.Unauthorized))
			w.Header().Add("WWW-Authenticate", adminScheme+` realm="tandem"`)
			var body errorBody
			body.Error.Code = errcode.Unauthorized
			body.Error.Message = fmt.Sprintf("%s needs the node admin key (Authorization: %s <key>); "+
				"or start the node with --metrics-auth=none, or serve metrics on their own listener with --metrics-addr", r.URL.Path, adminScheme)
			writeJSON(w, http.StatusUnauthorized, body)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Close releases what the Server holds besides requests in flight: the idle connections it
// forwards requests to other nodes on. Close the http.Server first.
func (s *Server) Close() { s.fwd.Close() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.checkBrowser(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mux.ServeHTTP(w, r)
}

const (
	nsPath    = "/namespaces/{ns}"
	hubPath   = nsPath + "/eventhubs/{hub}"
	groupPath = hubPath + "/consumergroups/{group}"
)

// routes registers every authenticated route with the right it needs.
func (s *Server) routes() {
	s.handle("GET /namespaces", needAdminOrDev, s.listNamespaces)
	s.handle("PUT "+nsPath, needNamespaceWrite, s.putNamespace)
	s.handle("GET "+nsPath, needAny, s.getNamespace) // network rules only with Manage (visibility.go)
	s.handle("DELETE "+nsPath, needAdminOrDev, s.deleteNamespace)

	s.handle("GET "+nsPath+"/eventhubs", needManage, s.listHubs)
	s.handle("PUT "+hubPath, needManage, s.putHub)
	s.handle("GET "+hubPath, needAny, s.getHubVisible) // consumer group names only with Manage
	s.handle("DELETE "+hubPath, needManage, s.deleteHub)

	s.handle("GET "+hubPath+"/consumergroups", needManage, s.listGroups)
	s.handle("PUT "+groupPath, needManage, s.putGroup)
	s.handle("GET "+groupPath, needListen, s.getGroup) // groups are the receiving side's
	s.handle("DELETE "+groupPath, needManage, s.deleteGroup)

	for _, base := range []string{nsPath, hubPath} {
		rules := base + "/authorizationRules"
		s.handle("GET "+rules, needManage, s.listRules)
		s.handle("PUT "+rules+"/{rule}", needManage, s.putRule)
		s.handle("GET "+rules+"/{rule}", needManage, s.getRule)
		s.handle("DELETE "+rules+"/{rule}", needManage, s.deleteRule)
		s.handle("POST "+rules+"/{rule}/listKeys", needManage, s.listKeys)
		s.handle("POST "+rules+"/{rule}/regenerateKeys", needManage, s.regenerateKeys)
	}

	s.handle("POST "+hubPath+"/messages", needSend, s.send)
	s.handle("POST "+hubPath+"/partitions/{partition}/messages", needSend, s.send)
	s.handle("GET "+hubPath+"/partitions/{partition}/messages", needListen, s.receive)

	s.handle("GET "+groupPath+"/checkpoints", needListen, s.listCheckpoints)
	s.handle("GET "+groupPath+"/checkpoints/{partition}", needListen, s.getCheckpoint)
	s.handle("PUT "+groupPath+"/checkpoints/{partition}", needListen, s.putCheckpoint)
	s.ownershipRoutes()
}
