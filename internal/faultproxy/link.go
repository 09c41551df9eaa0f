package faultproxy

import (
	"context"
	"net"
	"sync/atomic"
)

// bufSize is the largest chunk one read takes from a connection.
const bufSize = 32 << 10

// link is one client connection and its connection to the target. Its fields other than
// server are set before the link is shared; server is set and read under Proxy.mu.
type link struct {
	client     net.Conn
	server     net.Conn // nil until the dial to the target succeeds
	cancelDial context.CancelFunc
	done       chan struct{} // closed when the link is torn down; wakes delayed chunks
}

// closeLocked tears the link down. The caller holds Proxy.mu and removes the link from
// Proxy.mu.links, which guarantees it runs once per link.
func (l *link) closeLocked() {
	l.cancelDial()
	close(l.done)
	l.client.Close()
	if l.server != nil {
		l.server.Close()
	}
}

// drop tears the link down unless a Cut or Close already has.
func (p *Proxy) drop(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.mu.links[l]; ok {
		l.closeLocked()
		delete(p.mu.links, l)
	}
}

// serve dials the target for l and runs both pipes until either side ends.
func (p *Proxy) serve(ctx context.Context, l *link) {
	var d net.Dialer
	server, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		p.drop(l)
		return
	}
	p.mu.Lock()
	if _, ok := p.mu.links[l]; !ok { // cut or closed while dialling
		p.mu.Unlock()
		server.Close()
		return
	}
	l.server = server
	p.mu.Unlock()

	p.wg.Go(func() { p.pipe(l, Down, server, l.client, &p.bytesDown) })
	p.pipe(l, Up, l.client, server, &p.bytesUp)
}

// pipe copies chunks from src to dst (direction d), applying the current faults to each, and
// tears the link down when either side fails.
func (p *Proxy) pipe(l *link, d Direction, src, dst net.Conn, forwarded *atomic.Int64) {
	defer p.drop(l)
	buf := make([]byte, bufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(l, d, dst, buf[:n], forwarded) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward delays, holds, drops or writes one chunk going direction d. It reports false when
// the link is finished.
func (p *Proxy) forward(l *link, d Direction, dst net.Conn, chunk []byte, forwarded *atomic.Int64) bool {
	p.mu.Lock()
	delay, wait := p.mu.delay, p.mu.wait
	p.mu.Unlock()
	if delay > 0 {
		select {
		case <-wait(delay):
		case <-l.done:
			return false
		}
	}
	if !p.holdWhileCut(l, d, len(chunk)) {
		return false
	}

	p.mu.Lock()
	blackhole, onDrop := p.mu.blackhole, p.mu.onDrop
	p.mu.Unlock()
	if blackhole {
		if onDrop != nil {
			onDrop(len(chunk))
		}
		return true
	}

	// Count before writing so that a peer which has read the bytes sees them counted.
	forwarded.Add(int64(len(chunk)))
	n, err := dst.Write(chunk)
	if n < len(chunk) {
		forwarded.Add(int64(n - len(chunk)))
	}
	return err == nil
}

// holdWhileCut waits while direction d is cut one way (a heal may be followed by another cut
// before this pipe runs again). It reports false when the link is torn down meanwhile.
func (p *Proxy) holdWhileCut(l *link, d Direction, n int) bool {
	for told := false; ; told = true {
		p.mu.Lock()
		held, onHold := p.mu.held[d], p.mu.onHold
		p.mu.Unlock()
		if held == nil {
			return true
		}
		if !told && onHold != nil {
			onHold(d, n)
		}
		select {
		case <-held:
		case <-l.done:
			return false
		}
	}
}
