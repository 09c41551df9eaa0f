// Package faultproxy is a fault-injecting TCP proxy for multi-process tests: put one between two
// Tandem regions (geo-DR) or two nodes (raft) and cut, heal, delay or blackhole the link between
// them while the test runs, in the spirit of nats-server's WAN proxy test helper.
//
// It is test infrastructure: it only listens on and dials loopback addresses, keeps no state
// beyond its open connections and a few counters, and must not be imported by production code.
// Every goroutine it starts is owned by the Proxy and has ended when Close returns.
//
// A connection through the proxy is two one-way pipes: Up (client to target) and Down (target
// to client). When either side ends (EOF or error) the proxy closes both sides; half-closed
// connections are not carried through. Faults act on both pipes (Cut, Blackhole, SetDelay) or
// on one (CutOneWay: a half-open link whose bytes flow one way only while its connections stay
// open).
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Direction is one way through the proxy.
type Direction uint8

const (
	// Up is from the clients (the dialers) to the target.
	Up Direction = iota
	// Down is from the target to the clients.
	Down
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// Stats is a snapshot of the proxy's counters.
type Stats struct {
	Accepted  int   // connections accepted, including those refused at once during a Cut
	Active    int   // connections currently open through the proxy
	BytesUp   int64 // bytes forwarded from clients to the target
	BytesDown int64 // bytes forwarded from the target to clients
}

// Proxy forwards TCP connections from its listening address to a target and injects faults.
type Proxy struct {
	ln     net.Listener
	target string
	done   chan struct{} // closed by Close; wakes the accept loop's back-off
	wg     sync.WaitGroup

	bytesUp, bytesDown atomic.Int64

	mu struct {
		sync.Mutex
		links     map[*link]struct{}
		accepted  int
		cut       bool
		blackhole bool
		closed    bool
		delay     time.Duration
		// held[d] is non-nil while direction d is cut one way; it is closed by the heal.
		held [2]chan struct{}
		// wait returns a channel that fires after d; time.After unless a test replaces it.
		wait func(d time.Duration) <-chan time.Time
		// onDrop, if set by a test, is told how many bytes a blackhole dropped.
		onDrop func(n int)
		// onHold, if set by a test, is told of each chunk a one-way cut holds.
		onHold func(d Direction, n int)
	}
}

// New listens on listenAddr (e.g. "127.0.0.1:0") and forwards every accepted connection to
// target. Both must be loopback addresses.
func New(listenAddr, target string) (*Proxy, error) {
	for _, a := range []string{listenAddr, target} {
		if err := checkLoopback(a); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s: %w", listenAddr, err)
	}
	p := &Proxy{ln: ln, target: target, done: make(chan struct{})}
	p.mu.links = make(map[*link]struct{})
	p.mu.wait = time.After
	p.wg.Go(p.acceptLoop)
	return p, nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("faultproxy: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("faultproxy: address %q is not a loopback IP; use 127.0.0.1:port", addr)
	}
	return nil
}

// Addr returns the address the proxy listens on; point clients at it.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every open connection and, until Heal, closes new connections as soon as they
// are accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = true
	p.closeLinksLocked()
}

// Heal ends a Cut and every one-way cut: new connections are forwarded again, and held bytes
// flow on. Connections closed by the Cut stay closed; clients must reconnect.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = false
	for d := range p.mu.held {
		p.healOneWayLocked(Direction(d))
	}
}

// CutOneWay stops bytes in direction d while the other direction keeps flowing: a half-open
// link. Connections stay open and new ones are accepted and dialled. Nothing is dropped: the
// bytes of direction d wait (in the proxy and, once its read stops, in the kernel's buffers,
// so a sender that writes on blocks as under a real partition) and flow on, in order, at
// HealOneWay or Heal, as over a TCP connection whose one-way partition healed before either
// end gave up on it. An end that gives up (a read deadline) closes its connection, and the
// proxy then closes the other side. Cutting a direction that is cut already does nothing.
func (p *Proxy) CutOneWay(d Direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.held[d] == nil {
		p.mu.held[d] = make(chan struct{})
	}
}

// HealOneWay ends a CutOneWay of direction d: the held bytes flow on.
func (p *Proxy) HealOneWay(d Direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.healOneWayLocked(d)
}

func (p *Proxy) healOneWayLocked(d Direction) {
	if ch := p.mu.held[d]; ch != nil {
		close(ch)
		p.mu.held[d] = nil
	}
}

// SetDelay holds every chunk read from either side for d before writing it on (0 = no delay).
// It applies to open connections from their next chunk. Chunks of one direction are delayed one
// after another, so a delay also caps each direction at one read buffer (32 KiB) per d.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.delay = max(d, 0)
}

// Blackhole, while on, keeps connections open but drops every byte read from either side, so
// the peers' reads block as in a silent partition. Dropped bytes are gone: turning it off
// forwards only bytes read afterwards.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.blackhole = on
}

// Stats returns a snapshot of the proxy's counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Accepted:  p.mu.accepted,
		Active:    len(p.mu.links),
		BytesUp:   p.bytesUp.Load(),
		BytesDown: p.bytesDown.Load(),
	}
}

// Close stops listening, closes every connection and waits for every goroutine of the proxy to
// end. Calling it again does nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.closed = true
	close(p.done)
	p.closeLinksLocked()
	p.mu.Unlock()

	err := p.ln.Close()
	p.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("faultproxy: close listener %s: %w", p.Addr(), err)
	}
	return nil
}

func (p *Proxy) closeLinksLocked() {
	for l := range p.mu.links {
		l.closeLocked()
		delete(p.mu.links, l)
	}
}

// acceptLoop accepts connections until the listener is closed and starts a link for each.
func (p *Proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error such as running out of file descriptors: back off briefly.
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		p.mu.accepted++
		if p.mu.cut || p.mu.closed {
			p.mu.Unlock()
			c.Close()
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		l := &link{client: c, cancelDial: cancel, done: make(chan struct{})}
		p.mu.links[l] = struct{}{}
		p.wg.Go(func() { p.serve(ctx, l) })
		p.mu.Unlock()
	}
}
