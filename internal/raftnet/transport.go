package raftnet

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Transport. Zero values of the tuning fields take the defaults below.
type Options struct {
	NodeID uint64            // this node; never 0
	Addr   string            // listen address, e.g. "127.0.0.1:7946" or ":0"
	Peers  map[uint64]string // node id -> address; this node's own id is ignored
	Secret []byte            // the cluster secret every node must present; at least 16 bytes

	// ServerTLS and ClientTLS turn TLS on for the listener and the dialer (both or neither).
	// The secret handshake then runs inside TLS. They are two fields, as in internal/tlsconf,
	// because a server config (certificate, ClientCAs) and a client config (RootCAs, client
	// certificate) differ; ClientTLS.ServerName defaults to the host of the peer's address.
	ServerTLS, ClientTLS *tls.Config

	// Handler is called with each batch received from a peer, in the order the peer sent
	// them; calls for one peer never overlap, calls for different peers may. It must not
	// block for long: the peer's connection waits for it.
	Handler func(envs []Envelope)

	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = metrics not registered

	MaxFrameBytes int // cap on one frame, both directions (default DefaultMaxFrameBytes)
	QueueLen      int // messages per peer per lane (urgent, bulk) before drops (default 4096)
	QueueBytes    int // bytes of queued bulk messages per peer before drops (default 64 MiB)

	// Dialer opens a connection to a peer (default net.Dialer); tests bind local addresses
	// or route links through internal/faultproxy with it.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)

	HandshakeTimeout time.Duration // dial + TLS + handshake, both sides (default 5s)
	WriteTimeout     time.Duration // one frame write (default 10s); then the peer is redialled
	MinBackoff       time.Duration // first redial delay (default 50ms), doubling per failure
	MaxBackoff       time.Duration // longest redial delay (default 2s)
}

// MinSecretLen is the shortest cluster secret New accepts.
const MinSecretLen = 16

func (o *Options) setDefaults() {
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 4096
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 64 << 20
	}
	if o.Dialer == nil {
		var d net.Dialer
		o.Dialer = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 5 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(2*time.Second, o.MinBackoff)
	}
}

// Transport carries raft messages between this node and its peers. Create it with New,
// start it with Start, stop it with Close.
type Transport struct {
	opts   Options
	log    *slog.Logger
	met    *metrics
	hs     handshaker
	gate   *logGate
	closed atomic.Bool
	wg     sync.WaitGroup // accept loop and inbound connections

	mu struct {
		sync.RWMutex
		started bool
		ln      net.Listener
		peers   map[uint64]*peer
		conns   map[net.Conn]struct{} // accepted connections, closed by Close
		inbound map[uint64]*inbound   // the authenticated connection of each peer
	}
}

// inbound is the connection a peer's messages arrive on; done closes when its reader ends.
type inbound struct {
	conn net.Conn
	done chan struct{}
}

// New checks opts and returns a Transport that queues messages but does not listen or dial
// until Start.
func New(opts Options) (*Transport, error) {
	switch {
	case opts.NodeID == 0:
		return nil, errors.New("raftnet: NodeID must not be 0")
	case len(opts.Secret) < MinSecretLen:
		return nil, fmt.Errorf("raftnet: the cluster secret has %d bytes; it needs at least %d", len(opts.Secret), MinSecretLen)
	case opts.Handler == nil:
		return nil, errors.New("raftnet: Handler is required")
	case (opts.ServerTLS == nil) != (opts.ClientTLS == nil):
		return nil, errors.New("raftnet: set both ServerTLS and ClientTLS, or neither")
	}
	opts.setDefaults()
	if opts.MaxFrameBytes < 1<<10 {
		return nil, fmt.Errorf("raftnet: MaxFrameBytes %d is below 1 KiB", opts.MaxFrameBytes)
	}
	t := &Transport{
		opts: opts,
		log:  opts.Logger.With("node", opts.NodeID),
		met:  newMetrics(opts.Registerer),
		hs:   handshaker{self: opts.NodeID, secret: append([]byte(nil), opts.Secret...), rand: rand.Reader},
		gate: newLogGate(10, 10*time.Second),
	}
	t.mu.peers = make(map[uint64]*peer)
	t.mu.conns = make(map[net.Conn]struct{})
	t.mu.inbound = make(map[uint64]*inbound)
	for id, addr := range opts.Peers {
		if id != opts.NodeID && id != 0 {
			t.mu.peers[id] = newPeer(t, id, addr)
		}
	}
	return t, nil
}

// Start listens on Options.Addr and starts a sender for every peer.
func (t *Transport) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.started || t.closed.Load() {
		return errors.New("raftnet: Start called twice or after Close")
	}
	ln, err := net.Listen("tcp", t.opts.Addr)
	if err != nil {
		return fmt.Errorf("raftnet: listen on %s: %w", t.opts.Addr, err)
	}
	t.mu.started, t.mu.ln = true, ln
	t.wg.Add(1)
	go t.acceptLoop(ln)
	for _, p := range t.mu.peers {
		p.start()
	}
	return nil
}

// Addr is the address the transport listens on, or nil before Start.
func (t *Transport) Addr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.ln == nil {
		return nil
	}
	return t.mu.ln.Addr()
}

// SetPeer adds a peer or changes its address; a connection to the old address is closed
// and the sender redials. Messages already queued for the peer are kept.
func (t *Transport) SetPeer(id uint64, addr string) {
	if id == t.opts.NodeID || id == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return
	}
	if p, ok := t.mu.peers[id]; ok {
		p.setAddr(addr)
		return
	}
	p := newPeer(t, id, addr)
	t.mu.peers[id] = p
	if t.mu.started {
		p.start()
	}
}

// RemovePeer stops sending to a peer and drops what is queued for it. It does not close the
// peer's incoming connection (raft decides membership; a removed node's messages are
// ignored by raft).
func (t *Transport) RemovePeer(id uint64) {
	t.mu.Lock()
	p := t.mu.peers[id]
	delete(t.mu.peers, id)
	t.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Send queues each message for the peer named by its To and wakes that peer's sender. It
// never blocks on the network: a message for an unknown peer, a message larger than the
// frame cap and a message that finds its peer's queue full are dropped and counted.
func (t *Transport) Send(envs []Envelope) {
	maxItem := t.opts.MaxFrameBytes - batchOverhead
	var p *peer // the peer of the previous message; raft emits runs of messages to one peer
	for _, e := range envs {
		to := e.Msg.GetTo()
		if t.closed.Load() {
			t.met.dropped.WithLabelValues(peerLabel(to), dropClosed).Inc()
			continue
		}
		if p == nil || p.id != to {
			p = t.peer(to)
		}
		if p == nil {
			t.met.dropped.WithLabelValues(peerLabel(to), dropUnknownPeer).Inc()
			continue
		}
		it, err := encodeItem(e.Group, t.opts.NodeID, e.Msg)
		data := it.data
		if err != nil || it.encodedLen() > maxItem {
			p.dropped(dropTooLarge, 1)
			t.log.Warn("raft message not sent", "peer", to, "group", e.Group, "type", e.Msg.GetType(),
				"bytes", len(data), "max_frame_bytes", t.opts.MaxFrameBytes, "err", err)
			continue
		}
		p.enqueue(it, urgent(e.Msg.GetType()))
	}
}

func (t *Transport) peer(id uint64) *peer {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.mu.peers[id]
}

// Close stops listening, closes every connection, stops every sender and waits for all of
// the transport's goroutines. Queued messages are dropped. Calling it again does nothing.
func (t *Transport) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	t.mu.Lock()
	var err error
	if t.mu.ln != nil {
		err = t.mu.ln.Close()
	}
	for c := range t.mu.conns {
		c.Close()
	}
	peers := t.mu.peers
	t.mu.peers = map[uint64]*peer{}
	t.mu.Unlock()
	for _, p := range peers {
		p.stop()
	}
	t.wg.Wait()
	return err
}

// acceptLoop accepts connections until the listener is closed.
func (t *Transport) acceptLoop(ln net.Listener) {
	defer t.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			if t.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("raft transport accept failed; retrying", "err", err, "backoff", backoff)
			time.Sleep(backoff) // only on errors such as EMFILE; Close ends the loop right after
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !t.track(conn) {
			conn.Close()
			return
		}
		t.wg.Add(1)
		go t.serveConn(conn)
	}
}

// track records an accepted connection so that Close can close it; false once closed.
func (t *Transport) track(conn net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return false
	}
	t.mu.conns[conn] = struct{}{}
	return true
}

func (t *Transport) untrack(conn net.Conn) {
	t.mu.Lock()
	delete(t.mu.conns, conn)
	t.mu.Unlock()
	conn.Close()
}

// serveConn authenticates an accepted connection and then hands each batch it carries to
// the Handler.
func (t *Transport) serveConn(raw net.Conn) {
	defer t.wg.Done()
	defer t.untrack(raw)
	conn := raw
	raw.SetDeadline(time.Now().Add(t.opts.HandshakeTimeout))
	if t.opts.ServerTLS != nil {
		tc := tls.Server(raw, t.opts.ServerTLS)
		if err := tc.Handshake(); err != nil {
			t.refused(raw, "tls", err)
			return
		}
		conn = tc
	}
	fr := newFrameReader(conn)
	from, err := t.hs.accept(conn, fr)
	if err != nil {
		t.refused(raw, reasonOf(err), err)
		return
	}
	raw.SetDeadline(time.Time{})
	in := &inbound{conn: raw, done: make(chan struct{})}
	defer close(in.done)
	if !t.replaceInbound(from, in) {
		return
	}
	defer t.dropInbound(from, in)
	err = t.receive(fr, from)
	if !t.closed.Load() && !errors.Is(err, net.ErrClosed) {
		t.log.Info("raft connection from peer ended", "peer", from, "remote", raw.RemoteAddr().String(), "err", err)
	}
}

// refused counts and logs a connection that failed the TLS or secret handshake.
func (t *Transport) refused(conn net.Conn, reason string, err error) {
	if t.closed.Load() {
		return
	}
	t.met.handshakes.WithLabelValues("accept", reason).Inc()
	if ok, skipped := t.gate.allow(time.Now()); ok {
		t.log.Warn("raft connection refused", "remote", conn.RemoteAddr().String(), "reason", reason,
			"err", err, "refusals_not_logged", skipped)
	}
}

// replaceInbound makes in the peer's connection: it closes the one before and waits for its
// reader, so that batches from one peer reach the Handler in order and one at a time.
func (t *Transport) replaceInbound(from uint64, in *inbound) bool {
	t.mu.Lock()
	old := t.mu.inbound[from]
	t.mu.inbound[from] = in
	t.mu.Unlock()
	if old != nil {
		old.conn.Close()
		<-old.done
	}
	return !t.closed.Load()
}

func (t *Transport) dropInbound(from uint64, in *inbound) {
	t.mu.Lock()
	if t.mu.inbound[from] == in {
		delete(t.mu.inbound, from)
	}
	t.mu.Unlock()
}

// receive reads batches from an authenticated peer until the connection fails.
func (t *Transport) receive(fr *frameReader, from uint64) error {
	label := peerLabel(from)
	received := t.met.received.WithLabelValues(label)
	for {
		p, err := fr.next(t.opts.MaxFrameBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		envs, err := decodeBatch(p, from, t.opts.NodeID)
		if err != nil {
			return err
		}
		valid := envs[:0]
		for _, e := range envs {
			if e.Msg.GetFrom() == from && e.Msg.GetTo() == t.opts.NodeID {
				valid = append(valid, e)
			}
		}
		if n := len(envs) - len(valid); n > 0 {
			t.met.dropped.WithLabelValues(label, dropInvalid).Add(float64(n))
		}
		if len(valid) > 0 {
			received.Add(float64(len(valid)))
			t.opts.Handler(valid)
		}
	}
}

// logGate lets at most burst lines through per interval and counts the rest, so a stranger
// that fails handshakes on purpose cannot flood the log.
type logGate struct {
	burst    int
	interval time.Duration
	mu       sync.Mutex
	start    time.Time
	n        int
	skipped  int
}

func newLogGate(burst int, interval time.Duration) *logGate {
	return &logGate{burst: burst, interval: interval}
}

// allow reports whether a line may be logged now and how many were skipped before it.
func (g *logGate) allow(now time.Time) (bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.start) >= g.interval {
		g.start, g.n = now, 0
	}
	if g.n >= g.burst {
		g.skipped++
		return false, 0
	}
	g.n++
	skipped := g.skipped
	g.skipped = 0
	return true, skipped
}
