package raftnet

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// peer is one remote node: its bounded queue and the sender goroutine that owns the
// connection to it. The sender dials (with back-off), authenticates, and then writes one
// frame per wake-up holding everything queued, urgent messages first.
type peer struct {
	t     *Transport
	id    uint64
	label string
	wake  chan struct{} // capacity 1: "the queue has something"

	sent, frames, bytes, connects prometheus.Counter

	cancel context.CancelFunc // set by start
	done   chan struct{}      // closed when the sender has ended

	mu struct {
		sync.Mutex
		addr    string
		conn    net.Conn // the open connection, closed by setAddr and stop
		q       queue
		stopped bool
	}
}

func newPeer(t *Transport, id uint64, addr string) *peer {
	l := peerLabel(id)
	p := &peer{t: t, id: id, label: l, wake: make(chan struct{}, 1),
		sent:     t.met.sent.WithLabelValues(l),
		frames:   t.met.frames.WithLabelValues(l),
		bytes:    t.met.bytes.WithLabelValues(l),
		connects: t.met.connects.WithLabelValues(l),
	}
	p.mu.addr = addr
	p.mu.q = queue{maxLen: t.opts.QueueLen, maxBytes: t.opts.QueueBytes}
	return p
}

// start launches the sender; the caller holds t.mu.
func (p *peer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.run(ctx)
}

// stop ends the sender, waits for it and drops the queue.
func (p *peer) stop() {
	p.mu.Lock()
	p.mu.stopped = true
	n := p.mu.q.len()
	p.mu.q = queue{}
	p.mu.Unlock()
	if n > 0 {
		p.dropped(dropClosed, n)
	}
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
}

func (p *peer) setAddr(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if addr == p.mu.addr {
		return
	}
	p.mu.addr = addr
	if p.mu.conn != nil {
		p.mu.conn.Close()
	}
}

func (p *peer) dropped(reason string, n int) {
	p.t.met.dropped.WithLabelValues(p.label, reason).Add(float64(n))
}

// enqueue adds one message and wakes the sender; a full lane drops it.
func (p *peer) enqueue(it item, isUrgent bool) {
	p.mu.Lock()
	ok := !p.mu.stopped && p.mu.q.push(it, isUrgent)
	p.mu.Unlock()
	if !ok {
		p.dropped(dropQueueFull, 1)
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run connects, sends until the connection fails, and reconnects with back-off, until ctx
// ends.
func (p *peer) run(ctx context.Context) {
	defer close(p.done)
	opts := &p.t.opts
	backoff, failures := opts.MinBackoff, 0
	for {
		conn, raw, fr, err := p.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if he := (*handshakeError)(nil); errors.As(err, &he) || isTLSError(err) {
				p.t.met.handshakes.WithLabelValues("dial", reasonOfDial(err)).Inc()
			}
			failures++
			lvl := slogLevel(failures == 1 || failures%100 == 0)
			p.t.log.Log(ctx, lvl, "cannot connect to raft peer; retrying", "peer", p.id,
				"addr", p.addr(), "failures", failures, "err", err)
			// Full jitter around the back-off spreads out the redials of a whole cluster.
			d := backoff/2 + rand.N(backoff/2+1)
			if !sleep(ctx, d) {
				return
			}
			backoff = min(2*backoff, opts.MaxBackoff)
			continue
		}
		if failures > 0 {
			p.t.log.Info("connected to raft peer", "peer", p.id, "after_failures", failures)
		}
		backoff, failures = opts.MinBackoff, 0
		p.connects.Inc()
		err = p.send(ctx, conn, raw, fr)
		p.setConn(nil)
		raw.Close()
		if ctx.Err() != nil {
			return
		}
		p.t.log.Info("raft connection to peer lost; reconnecting", "peer", p.id, "err", err)
	}
}

func (p *peer) addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.addr
}

// setConn records the open connection; it reports false (and closes conn) if the peer
// stopped meanwhile.
func (p *peer) setConn(conn net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.conn = conn
	if conn != nil && p.mu.stopped {
		conn.Close()
		return false
	}
	return true
}

// connect dials the peer and runs TLS and the secret handshake within HandshakeTimeout.
// It returns the connection to use (TLS or raw) and the raw one, which is what is closed:
// closing a tls.Conn could wait to send an alert to a peer that does not read.
func (p *peer) connect(ctx context.Context) (conn, raw net.Conn, fr *frameReader, err error) {
	opts := &p.t.opts
	addr := p.addr()
	dctx, cancel := context.WithTimeout(ctx, opts.HandshakeTimeout)
	defer cancel()
	raw, err = opts.Dialer(dctx, addr)
	if err != nil {
		return nil, nil, nil, err
	}
	deadline, _ := dctx.Deadline()
	raw.SetDeadline(deadline)
	// The named result raw is reassigned on return; the callback, which may still run then,
	// closes its own copy.
	rc := raw
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	conn, fr, err = p.handshake(raw, addr)
	if !stop() && err == nil {
		err = net.ErrClosed
	}
	if err == nil && !p.setConn(raw) {
		err = net.ErrClosed
	}
	if err != nil {
		raw.Close()
		return nil, nil, nil, err
	}
	raw.SetDeadline(time.Time{})
	return conn, raw, fr, nil
}

func (p *peer) handshake(raw net.Conn, addr string) (net.Conn, *frameReader, error) {
	conn := raw
	if cfg := p.t.opts.ClientTLS; cfg != nil {
		cfg = cfg.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(raw, cfg)
		if err := tc.Handshake(); err != nil {
			return nil, nil, &tlsError{err}
		}
		conn = tc
	}
	fr := newFrameReader(conn)
	if err := p.t.hs.dial(conn, fr, p.id); err != nil {
		return nil, nil, err
	}
	return conn, fr, nil
}

// send writes batches until ctx ends or the connection fails. The listener never writes
// after the handshake, so a read that returns means the connection is gone.
func (p *peer) send(ctx context.Context, conn, raw net.Conn, fr *frameReader) error {
	// The named result raw is reassigned on return; the callback, which may still run then,
	// closes its own copy.
	rc := raw
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	gone := make(chan error, 1)
	go func() {
		_, err := fr.r.ReadByte()
		if err == nil {
			err = errors.New("raftnet: unexpected bytes from the listener")
		}
		gone <- err
	}()
	defer func() {
		raw.Close()
		<-gone // only reached when the reader has not been waited for below
	}()
	var buf []byte
	var items []item
	for {
		for {
			p.mu.Lock()
			items = p.mu.q.take(items[:0], p.t.opts.MaxFrameBytes)
			p.mu.Unlock()
			if len(items) == 0 {
				break
			}
			buf = appendBatch(buf[:0], items)
			conn.SetWriteDeadline(time.Now().Add(p.t.opts.WriteTimeout))
			if _, err := conn.Write(buf); err != nil {
				p.dropped(dropConnLost, len(items))
				return err
			}
			p.sent.Add(float64(len(items)))
			p.frames.Inc()
			p.bytes.Add(float64(len(buf)))
			clear(items)
			if cap(buf) > 4<<20 {
				buf = nil // do not keep a snapshot-sized buffer per peer
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-gone:
			gone <- err // for the deferred wait
			return err
		case <-p.wake:
		}
	}
}

// tlsError marks a failed TLS handshake (counted as reason "tls").
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "raftnet: TLS handshake: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

func isTLSError(err error) bool {
	var te *tlsError
	return errors.As(err, &te)
}

func reasonOfDial(err error) string {
	if isTLSError(err) {
		return "tls"
	}
	return reasonOf(err)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// slogLevel logs repeated failures at debug level, except the first and every 100th.
func slogLevel(loud bool) slog.Level {
	if loud {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}
