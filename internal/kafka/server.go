// Package kafka serves the Kafka wire protocol over TCP on top of the broker. It owns
// connections, request framing, SASL authentication and the translation between Kafka
// requests and broker calls; it owns no data: every event, hub and offset lives in the
// broker. One file per API key (00_produce.go, 01_fetch.go, …), each opening with the
// versions it handles; dispatch.go holds the one switch.
//
// Requests on one connection are read and *started* in order; a request whose answer must
// wait (acks=all for fsync, Fetch long-polls, JoinGroup barriers) finishes in its own
// goroutine, and responses are written back in request order, as Kafka requires.
package kafka

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// maxRequestBytes bounds one request frame, like Kafka's socket.request.max.bytes.
const maxRequestBytes = 100 << 20

// Options configure a Server.
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
	// Hook, when set, may fail a request before it is handled; the connection is closed
	// with the error as reason (fault injection for tests).
	Hook func(key int16) error
	// DropResponse, when set and true for a handled request, closes the connection instead
	// of sending the response: the client sees a request whose outcome it does not know.
	DropResponse func(key int16) bool
}

// Server accepts Kafka connections.
type Server struct {
	opts Options
	log  *slog.Logger
	ln   net.Listener

	mu struct {
		sync.Mutex
		conns  map[*conn]struct{}
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
	s := &Server{opts: opts, log: opts.Logger.With("component", "kafka"), ln: ln}
	s.mu.conns = make(map[*conn]struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Addr is the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Close. It returns nil after Close.
func (s *Server) Serve() error {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.mu.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.mu.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.mu.conns, c)
			s.mu.Unlock()
		}()
	}
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
	s.wg.Wait()
	return err
}
