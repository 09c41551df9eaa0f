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
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandem-streaming/tandem/internal/broker"
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
}

// Server is the HTTP API of one node. It is an http.Handler.
type Server struct {
	b    *broker.Broker
	log  *slog.Logger
	dev  bool
	geo  *geodr.Manager
	jobs *job.Manager
	mux  *http.ServeMux
}

// New returns the API handler for opts.Broker.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	s := &Server{b: opts.Broker, log: opts.Logger.With("component", "httpapi"), dev: opts.Dev, geo: opts.Geo, jobs: opts.Jobs, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	s.routes()
	if s.jobs != nil {
		s.jobRoutes()
	}
	if s.geo != nil {
		s.aliasRoutes()
		s.mux.Handle("/geodr/v1/", s.geo.Handler())
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

const (
	nsPath    = "/namespaces/{ns}"
	hubPath   = nsPath + "/eventhubs/{hub}"
	groupPath = hubPath + "/consumergroups/{group}"
)

// routes registers every authenticated route with the right it needs.
func (s *Server) routes() {
	s.handle("GET /namespaces", needAdminOrDev, s.listNamespaces)
	s.handle("PUT "+nsPath, needNamespaceWrite, s.putNamespace)
	s.handle("GET "+nsPath, needAny, s.getNamespace)
	s.handle("DELETE "+nsPath, needAdminOrDev, s.deleteNamespace)

	s.handle("GET "+nsPath+"/eventhubs", needManage, s.listHubs)
	s.handle("PUT "+hubPath, needManage, s.putHub)
	s.handle("GET "+hubPath, needAny, s.getHub)
	s.handle("DELETE "+hubPath, needManage, s.deleteHub)

	s.handle("GET "+hubPath+"/consumergroups", needManage, s.listGroups)
	s.handle("PUT "+groupPath, needManage, s.putGroup)
	s.handle("GET "+groupPath, needAny, s.getGroup)
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
}
