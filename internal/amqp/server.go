package amqp

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the limits in Options, used when a field is zero.
const (
	// DefaultMaxConnections and DefaultMaxConnectionsPerIP: each connection costs three
	// goroutines (reader, writer, state) plus one per link; Event Hubs' Standard tier allows
	// 5,000 AMQP connections per namespace.
	DefaultMaxConnections      = 10000
	DefaultMaxConnectionsPerIP = 1000
	// DefaultMaxUnauthenticated bounds connections that have not yet sent their open (SASL
	// and header exchange in progress), so slow or idle clients cannot hold every slot.
	DefaultMaxUnauthenticated = 1000
	// DefaultMaxFrameSize is the max-frame-size advertised in open; go-amqp and .NET use
	// 64 KiB too, so a 1 MiB batch arrives as 16 frames.
	DefaultMaxFrameSize = 64 << 10
	// DefaultPreOpenFrameSize bounds a frame before the open (SASL init with a PLAIN
	// connection string, the open itself).
	DefaultPreOpenFrameSize = 16 << 10
	// DefaultMaxSessions is the number of sessions one connection may begin: the Go SDK
	// opens one session per link, including the $cbs and $management ones.
	DefaultMaxSessions = 1024
	// DefaultMaxLinksPerSession bounds attached links per session (handle-max + 1).
	DefaultMaxLinksPerSession = 256
	// DefaultMaxCredit is the link credit given to a client's sender: at most this many
	// whole messages of one link are in flight (received, not yet handled) at once.
	DefaultMaxCredit = 100
	// DefaultSessionWindow is the incoming-window advertised in begin and refreshed by
	// session flows as transfers are consumed.
	DefaultSessionWindow = 5000
	// DefaultMaxMessageBytes bounds a reassembled message whatever the handler says (a
	// handler's MaxMessageSize of 0 means this limit).
	DefaultMaxMessageBytes = 64 << 20
	// DefaultAuthTimeout is how long a connection may take from accept to its open.
	DefaultAuthTimeout = 10 * time.Second
	// DefaultIdleTimeout is the idle-time-out advertised in open: a connection that sends no
	// frame (not even an empty one) for this long is closed with amqp:connection:forced.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultWriteTimeout bounds one write: a client that stops reading is dropped.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultReplyQueue is the capacity of a reply link (NewReplyLink).
	DefaultReplyQueue = 256
	// DefaultMemoryBudget bounds the transfer payload bytes held at once by all connections
	// (messages being reassembled, queued or handled); DefaultMemoryWait is how long a
	// connection's reader waits for room before the connection is closed.
	DefaultMemoryBudget = 256 << 20
	DefaultMemoryWait   = 30 * time.Second
)

// Options configure a Server. Zero limits take the defaults above.
type Options struct {
	Handler Handler
	Logger  *slog.Logger
	// Registerer, when set, receives the listener's metrics.
	Registerer prometheus.Registerer
	// TLS, when set, makes Serve's listeners speak TLS (AMQPS, port 5671). ServePlain serves
	// plain AMQP whatever this says.
	TLS *tls.Config
	// ContainerID is the container-id of our open; default "tandem".
	ContainerID string

	MaxConnections      int // open connections in total
	MaxConnectionsPerIP int // open connections from one client IP address (IPv6: per /64)
	MaxUnauthenticated  int // connections that have not yet sent open
	MaxFrameSize        uint32
	PreOpenFrameSize    uint32
	MaxSessions         int // sessions per connection; channel-max is MaxSessions-1
	MaxLinksPerSession  int // handle-max is MaxLinksPerSession-1
	MaxCredit           uint32
	SessionWindow       uint32
	MaxMessageBytes     uint64
	AuthTimeout         time.Duration
	IdleTimeout         time.Duration
	WriteTimeout        time.Duration
	// MemoryBudget bounds the transfer payload bytes held at once for all connections; one
	// connection holds at most ConnMemoryShare of it (default max(budget/4, two largest
	// messages)); a reader waits at most MemoryWait for room, then its connection is closed.
	MemoryBudget    int64
	ConnMemoryShare int64
	MemoryWait      time.Duration
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def32 := func(v *uint32, d uint32) {
		if *v == 0 {
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
	def(&o.MaxUnauthenticated, DefaultMaxUnauthenticated)
	def(&o.MaxSessions, DefaultMaxSessions)
	def(&o.MaxLinksPerSession, DefaultMaxLinksPerSession)
	o.MaxSessions = min(o.MaxSessions, 1<<16)
	def32(&o.MaxFrameSize, DefaultMaxFrameSize)
	o.MaxFrameSize = max(o.MaxFrameSize, 512) // the spec's minimum
	def32(&o.PreOpenFrameSize, DefaultPreOpenFrameSize)
	o.PreOpenFrameSize = max(o.PreOpenFrameSize, 512)
	def32(&o.MaxCredit, DefaultMaxCredit)
	def32(&o.SessionWindow, DefaultSessionWindow)
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	defDur(&o.AuthTimeout, DefaultAuthTimeout)
	defDur(&o.IdleTimeout, DefaultIdleTimeout)
	defDur(&o.WriteTimeout, DefaultWriteTimeout)
	defDur(&o.MemoryWait, DefaultMemoryWait)
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.ConnMemoryShare <= 0 {
		o.ConnMemoryShare = max(o.MemoryBudget/4, min(2*int64(min(o.MaxMessageBytes, 1<<40)), o.MemoryBudget))
	}
	if o.ContainerID == "" {
		o.ContainerID = "tandem"
	}
}

// ipKey is the key of the per-address connection cap: an IPv4 address as it is, an IPv6
// address as its /64 (one subscriber's network), anything else as it is.
func ipKey(host string) string {
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// Server accepts AMQP 1.0 connections on any number of listeners; the connection caps are
// shared by all of them.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	budget  *budget
	// Rate-limited log lines, one gate per kind so one flood does not hide the others.
	acceptLog, refuseLog, closeLog *logGate

	mu struct {
		sync.Mutex
		lns    map[net.Listener]struct{}
		conns  map[*conn]struct{}
		perIP  map[string]int
		unauth int
		closed bool
	}
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// NewServer returns a server ready to Serve listeners.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.setDefaults()
	s := &Server{opts: opts, log: opts.Logger.With("component", "amqp"),
		metrics:   newMetrics(opts.Registerer),
		acceptLog: newLogGate(), refuseLog: newLogGate(), closeLog: newLogGate()}
	s.metrics.memLimit.Set(float64(opts.MemoryBudget))
	s.budget = newBudget(opts.MemoryBudget, opts.ConnMemoryShare, func(used int64) { s.metrics.memUsed.Set(float64(used)) })
	s.mu.lns = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*conn]struct{})
	s.mu.perIP = make(map[string]int)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// ErrServerClosed is returned by Serve called after Close.
var ErrServerClosed = errors.New("amqp: server closed")

// Serve accepts connections on ln until Close and returns nil after Close. With
// Options.TLS set the connections speak TLS (AMQPS). It may be called for several
// listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(ln, s.opts.TLS)
}

// ServePlain is Serve without TLS whatever Options.TLS says, so one server (one set of
// caps) can serve amqp on 5672 and amqps on 5671.
func (s *Server) ServePlain(ln net.Listener) error {
	return s.serve(ln, nil)
}

// serve accepts connections on ln until Close. A failed accept (EMFILE, ENFILE,
// ECONNABORTED, …) never ends it: it is logged and retried after a back-off of 5ms doubling
// to 1s, as net/http does.
func (s *Server) serve(ln net.Listener, tlsConf *tls.Config) error {
	if s.opts.Handler == nil {
		ln.Close()
		return errors.New("amqp: Options.Handler is nil; the engine needs a handler to give links meaning")
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.mu.lns[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.metrics.acceptErrs.Inc()
			s.acceptLog.log(s.log, slog.LevelWarn, "accepting an AMQP connection failed; retrying",
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
		s.admit(nc, tlsConf)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// admit starts serving nc, or closes it at once when a connection cap is reached.
func (s *Server) admit(nc net.Conn, tlsConf *tls.Config) {
	c := newConn(s, nc, tlsConf != nil)
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	reason, flag, limit := "", "", 0
	switch {
	case len(s.mu.conns) >= s.opts.MaxConnections:
		reason, flag, limit = "max_connections", "--amqp-max-connections", s.opts.MaxConnections
	case s.mu.perIP[c.ip] >= s.opts.MaxConnectionsPerIP:
		reason, flag, limit = "max_connections_per_ip", "--amqp-max-connections-per-ip", s.opts.MaxConnectionsPerIP
	case s.mu.unauth >= s.opts.MaxUnauthenticated:
		reason, flag, limit = "max_unauthenticated", "--amqp-max-unauthenticated", s.opts.MaxUnauthenticated
	}
	if reason != "" {
		s.mu.Unlock()
		s.metrics.refused.WithLabelValues(reason).Inc()
		nc.Close()
		s.refuseLog.log(s.log, slog.LevelWarn, "AMQP connection refused: connection cap reached",
			"remote", c.remote, "limit", flag+"="+strconv.Itoa(limit), "fix", "raise "+flag+" if these clients are legitimate")
		return
	}
	s.mu.conns[c] = struct{}{}
	s.mu.perIP[c.ip]++
	s.mu.unauth++
	s.wg.Add(1)
	s.mu.Unlock()
	s.metrics.open.Inc()
	if tlsConf != nil {
		c.nc = tls.Server(nc, tlsConf)
	}
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.mu.conns, c)
		if s.mu.perIP[c.ip]--; s.mu.perIP[c.ip] <= 0 {
			delete(s.mu.perIP, c.ip)
		}
		if !c.opened {
			s.mu.unauth--
		}
		s.mu.Unlock()
		s.metrics.open.Dec()
	}()
}

// authenticated moves c out of the unauthenticated count (its open arrived).
func (s *Server) authenticated(c *conn) {
	s.mu.Lock()
	if !c.opened {
		c.opened = true
		s.mu.unauth--
	}
	s.mu.Unlock()
}

// Close stops accepting, closes every connection and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	var err error
	for ln := range s.mu.lns {
		if e := ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
	}
	s.mu.Unlock()
	s.cancel() // every connection's context: they send close and end
	s.wg.Wait()
	return err
}
