// Package kafka serves the Kafka wire protocol over TCP on top of the broker. It owns
// connections, request framing, SASL authentication and the translation between Kafka
// requests and broker calls; it owns no data: every event, hub and offset lives in the
// broker. One file per API key (00_produce.go, 01_fetch.go, …), each opening with the
// versions it handles; dispatch.go holds the one switch.
//
// Requests on one connection are read and *started* in order; a request whose answer must
// wait (acks=all for fsync, Fetch long-polls, JoinGroup barriers) finishes in its own
// goroutine, and responses are written back in request order, as Kafka requires.
//
// The listener protects the node from its clients (see Options): connections are capped in
// total and per client address (IPv6: per /64); before SASL completes a frame is capped at a few hundred KiB and
// the connection must authenticate within a deadline, and one failed SASL attempt closes
// it; an authenticated connection with nothing in flight is closed when idle, and one that
// does not read a response within the write timeout is closed. Frames are read as their
// bytes arrive, never allocated at the size a client claims, and request frames and
// responses draw on one memory budget shared by all connections (budget.go, frame.go), of
// which one connection's fetch responses hold at most a share. Accept errors (EMFILE) are retried with a back-off. Refusals and close reasons
// are counted in metrics and logged, rate-limited.
package kafka

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// Defaults of the limits in Options, used when a field is zero.
const (
	// DefaultMaxRequestBytes bounds one request frame, like Kafka's socket.request.max.bytes.
	DefaultMaxRequestBytes = 100 << 20
	// DefaultPreAuthFrameBytes bounds a frame before SASL completes, like Kafka's
	// sasl.server.max.receive.size. ApiVersions, SaslHandshake and SaslAuthenticate with a
	// connection string are well under 4 KiB.
	DefaultPreAuthFrameBytes = 512 << 10
	// DefaultMaxConnections and DefaultMaxConnectionsPerIP: each connection costs two
	// goroutines, small buffers and one file descriptor, so 10,000 connections stay far
	// below memory and common fd limits, while one address (one host or one NAT) cannot take
	// more than a tenth of them. Event Hubs' Standard tier allows 1,000 Kafka connections
	// per namespace.
	DefaultMaxConnections      = 10000
	DefaultMaxConnectionsPerIP = 1000
	// DefaultAuthTimeout is how long a connection may take to authenticate.
	DefaultAuthTimeout = 10 * time.Second
	// DefaultIdleTimeout closes an authenticated connection with nothing in flight, like
	// Kafka's connections.max.idle.ms.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultWriteTimeout bounds the writing of one response, like Kafka's request.timeout.ms
	// on the client side: a client that stops reading is disconnected after it and its
	// responses give their memory back.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMemoryBudget bounds the bytes held at once for request frames and fetch
	// responses of all connections: room for two largest produce frames, or two largest
	// fetch responses with their encoded copies, at once.
	DefaultMemoryBudget = 256 << 20
	// DefaultMemoryWait is how long a request waits for budget before it is given up.
	DefaultMemoryWait = 30 * time.Second
	// DefaultFetchMaxBytes caps one fetch response whatever the client asks, like Kafka's
	// fetch.max.bytes.
	DefaultFetchMaxBytes = 55 << 20
)

// Options configure a Server. Zero limits take the defaults above.
type Options struct {
	// Broker is the broker the server fronts.
	Broker *broker.Broker
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients to connect to;
	// they default to the listener's address.
	AdvertisedHost string
	AdvertisedPort int32
	// Dev lets clients that skip SASL in as the namespace "default" with every right.
	Dev    bool
	Logger *slog.Logger
	// Registerer, when set, receives the listener's metrics.
	Registerer prometheus.Registerer

	MaxConnections      int           // open connections in total
	MaxConnectionsPerIP int           // open connections from one client IP address
	AuthTimeout         time.Duration // from accept until SASL completes (or a dev request)
	IdleTimeout         time.Duration // an authenticated connection with nothing in flight
	WriteTimeout        time.Duration // writing one response (after authentication)
	PreAuthFrameBytes   int           // largest frame before authentication
	MaxRequestBytes     int           // largest frame after authentication
	MemoryBudget        int64         // bytes of frames and responses held at once
	// ConnMemoryShare bounds the fetch response bytes one connection holds in MemoryBudget
	// at once; 0 means max(MemoryBudget/4, one largest fetch), see connShare.
	ConnMemoryShare int64
	MemoryWait      time.Duration // longest wait for MemoryBudget
	FetchMaxBytes   int32         // largest fetch response, whatever MaxBytes asks

	// Hook, when set, may fail a request before it is handled; the connection is closed
	// with the error as reason (fault injection for tests).
	Hook func(key int16) error
	// DropResponse, when set and true for a handled request, closes the connection instead
	// of sending the response: the client sees a request whose outcome it does not know.
	DropResponse func(key int16) bool
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxConnections, DefaultMaxConnections)
	def(&o.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	def(&o.PreAuthFrameBytes, DefaultPreAuthFrameBytes)
	def(&o.MaxRequestBytes, DefaultMaxRequestBytes)
	defDur(&o.AuthTimeout, DefaultAuthTimeout)
	defDur(&o.IdleTimeout, DefaultIdleTimeout)
	defDur(&o.WriteTimeout, DefaultWriteTimeout)
	defDur(&o.MemoryWait, DefaultMemoryWait)
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.FetchMaxBytes <= 0 {
		o.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if o.ConnMemoryShare <= 0 {
		o.ConnMemoryShare = connShare(o.MemoryBudget, o.FetchMaxBytes)
	}
}

// connShare is the default part of the memory budget one connection's fetch responses may
// hold: a quarter of the budget, or one largest fetch response with its encoded copy if that
// is more (and fits), so one client that pipelines fetches and does not read the answers
// leaves most of the budget to the others.
func connShare(budget int64, fetchMax int32) int64 {
	return max(budget/4, min(2*int64(fetchMax), budget))
}

// ipKey is the key of the per-address connection cap for client host: an IPv4 address as it
// is, an IPv6 address as its /64 (one subscriber's network, which a client can spread its
// connections over), anything else as it is.
func ipKey(host string) string {
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// Server accepts Kafka connections.
type Server struct {
	opts Options
	log  *slog.Logger
	ln   net.Listener
	// more are further listeners (AddListener), each advertising its own port; connection
	// caps and the memory budget are shared by all of them.
	more    []listener
	budget  *memBudget
	metrics *metrics
	// Rate-limited log lines, one gate per kind so one flood does not hide the others.
	acceptLog, refuseLog, closeLog, saslLog *logGate

	mu struct {
		sync.Mutex
		conns  map[*conn]struct{}
		perIP  map[string]int
		closed bool
	}
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// Listen binds addr and returns a server ready to Serve.
func Listen(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return New(ln, opts), nil
}

// New wraps an existing listener.
func New(ln net.Listener, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.setDefaults()
	if opts.AdvertisedHost == "" || opts.AdvertisedPort == 0 {
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		if opts.AdvertisedHost == "" {
			opts.AdvertisedHost = host
		}
		if opts.AdvertisedPort == 0 {
			p, _ := strconv.Atoi(port)
			opts.AdvertisedPort = int32(p)
		}
	}
	s := &Server{opts: opts, log: opts.Logger.With("component", "kafka"), ln: ln,
		metrics:   newMetrics(opts.Registerer),
		acceptLog: newLogGate(), refuseLog: newLogGate(), closeLog: newLogGate(), saslLog: newLogGate()}
	s.metrics.memLimit.Set(float64(opts.MemoryBudget))
	s.budget = newMemBudget(opts.MemoryBudget, func(used, peak int64) {
		s.metrics.memUsed.Set(float64(used))
		s.metrics.memPeak.Set(float64(peak))
	})
	if opts.MemoryBudget < int64(opts.MaxRequestBytes) {
		s.log.Warn("the Kafka memory budget is smaller than the largest request frame: such frames will be refused",
			"kafka-memory-budget", opts.MemoryBudget, "kafka-max-request-bytes", opts.MaxRequestBytes)
	}
	s.mu.conns = make(map[*conn]struct{})
	s.mu.perIP = make(map[string]int)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// listener is a further listener of a Server and the port its clients are told about.
type listener struct {
	ln   net.Listener
	port int32
}

// AddListener makes Serve accept on ln as well (a TLS listener beside the plaintext one).
// Clients that connect through it are told its own port in Metadata and FindCoordinator;
// connection caps and the memory budget are shared with every other listener of s. Call it
// before Serve.
func (s *Server) AddListener(ln net.Listener) {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	s.more = append(s.more, listener{ln: ln, port: int32(p)})
}

// Addr is the first listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections on every listener until Close and returns nil after Close.
func (s *Server) Serve() error {
	var wg sync.WaitGroup
	for _, l := range s.more {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveListener(l.ln, l.port)
		}()
	}
	s.serveListener(s.ln, s.opts.AdvertisedPort)
	wg.Wait()
	return nil
}

// serveListener accepts connections on ln until Close; their clients are told port. A
// failed accept (EMFILE, ENFILE, ECONNABORTED, …) never ends it: it is logged and retried
// after a back-off of 5ms doubling to 1s, as net/http does, so the node serves again as soon
// as descriptors are free.
func (s *Server) serveListener(ln net.Listener, port int32) {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.metrics.acceptErrs.Inc()
			s.acceptLog.log(s.log, slog.LevelWarn, "accepting a Kafka connection failed; retrying",
				"err", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
			}
			continue
		}
		delay = 0
		s.admit(nc, port)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// admit starts serving nc, or closes it at once when a connection cap is reached.
func (s *Server) admit(nc net.Conn, port int32) {
	c := newConn(s, nc)
	c.port = port
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	reason, flag, limit := "", "", 0
	switch {
	case len(s.mu.conns) >= s.opts.MaxConnections:
		reason, flag, limit = "max_connections", "--kafka-max-connections", s.opts.MaxConnections
	case s.mu.perIP[c.ip] >= s.opts.MaxConnectionsPerIP:
		reason, flag, limit = "max_connections_per_ip", "--kafka-max-connections-per-ip", s.opts.MaxConnectionsPerIP
	}
	if reason != "" {
		s.mu.Unlock()
		s.metrics.refused.WithLabelValues(reason).Inc()
		nc.Close()
		s.refuseLog.log(s.log, slog.LevelWarn, "Kafka connection refused: connection cap reached",
			"remote", c.remote, "limit", flag+"="+strconv.Itoa(limit), "fix", "raise "+flag+" if these clients are legitimate")
		return
	}
	s.mu.conns[c] = struct{}{}
	s.mu.perIP[c.ip]++
	s.wg.Add(1)
	s.mu.Unlock()
	s.metrics.open.Inc()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.mu.conns, c)
		if s.mu.perIP[c.ip]--; s.mu.perIP[c.ip] <= 0 {
			delete(s.mu.perIP, c.ip)
		}
		s.mu.Unlock()
		s.metrics.open.Dec()
	}()
}

// Close stops accepting, closes every connection and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	for c := range s.mu.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	err := s.ln.Close()
	for _, l := range s.more {
		l.ln.Close()
	}
	s.wg.Wait()
	return err
}
