package faultproxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// startServer runs a TCP server on 127.0.0.1 that hands every accepted connection to the test,
// and returns its address and those connections. Everything is closed when the test ends.
func startServer(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			conns <- c
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), conns
}

// pair is one connection through a proxy: the client's end and the server's end.
type pair struct{ client, server net.Conn }

func (pr pair) end(d Direction) (src, dst net.Conn) {
	if d == Up {
		return pr.client, pr.server
	}
	return pr.server, pr.client
}

// connect dials the proxy and returns both ends of the connection it makes to the server.
func connect(t *testing.T, p *Proxy, conns <-chan net.Conn) pair {
	t.Helper()
	c := dial(t, p)
	select {
	case s := <-conns:
		return pair{client: c, server: s}
	case <-time.After(failAfter):
		t.Fatal("the proxy did not connect to the server")
		return pair{}
	}
}

// send writes msg on src and reads it on dst.
func send(t *testing.T, src, dst net.Conn, msg string) {
	t.Helper()
	dst.SetReadDeadline(time.Now().Add(failAfter))
	defer dst.SetReadDeadline(time.Time{})
	if _, err := io.WriteString(src, msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(dst, got); err != nil {
		t.Fatalf("read %q: %v", msg, err)
	}
	if string(got) != msg {
		t.Fatalf("read %q, want %q", got, msg)
	}
}

// holdHook makes the proxy report the chunks a one-way cut holds.
func holdHook(p *Proxy) <-chan Direction {
	held := make(chan Direction, 64)
	p.mu.Lock()
	p.mu.onHold = func(d Direction, _ int) { held <- d }
	p.mu.Unlock()
	return held
}

func waitHeld(t *testing.T, held <-chan Direction, want Direction) {
	t.Helper()
	select {
	case d := <-held:
		if d != want {
			t.Fatalf("the proxy held a chunk going %v, want %v", d, want)
		}
	case <-time.After(failAfter):
		t.Fatalf("the proxy never held the chunk going %v", want)
	}
}

// TestCutOneWay cuts each direction of an open connection: the other direction keeps
// flowing, the connection stays open, the cut direction is silent, and its bytes arrive, in
// order, after the heal.
func TestCutOneWay(t *testing.T) {
	for _, cut := range []Direction{Up, Down} {
		t.Run(cut.String(), func(t *testing.T) {
			addr, conns := startServer(t)
			p, err := New("127.0.0.1:0", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			held := holdHook(p)
			pr := connect(t, p, conns)
			other := Down
			if cut == Down {
				other = Up
			}
			csrc, cdst := pr.end(cut)
			osrc, odst := pr.end(other)
			send(t, csrc, cdst, "before")
			before := p.Stats()

			p.CutOneWay(cut)
			p.CutOneWay(cut) // twice is once
			if _, err := io.WriteString(csrc, "held-1"); err != nil {
				t.Fatal(err)
			}
			waitHeld(t, held, cut)
			expectSilent(t, cdst)
			send(t, osrc, odst, "the other way flows")
			if _, err := io.WriteString(csrc, "held-2"); err != nil {
				t.Fatal(err)
			}
			st := p.Stats()
			cutBytes := map[Direction]int64{Up: st.BytesUp - before.BytesUp, Down: st.BytesDown - before.BytesDown}
			if st.Active != 1 || cutBytes[cut] != 0 {
				t.Errorf("Stats during the one-way cut = %+v (before %+v); want 1 active and no byte forwarded %v", st, before, cut)
			}

			p.HealOneWay(cut)
			got := make([]byte, len("held-1held-2"))
			cdst.SetReadDeadline(time.Now().Add(failAfter))
			if _, err := io.ReadFull(cdst, got); err != nil || string(got) != "held-1held-2" {
				t.Fatalf("after the heal read %q, %v; want the held bytes in order", got, err)
			}
			cdst.SetReadDeadline(time.Time{})
			send(t, csrc, cdst, "after")
			send(t, osrc, odst, "both ways")
		})
	}
}

// TestCutOneWayNewConnections: a connection opened during a one-way cut is accepted and
// dialled, and carries the other direction only until Heal, which ends one-way cuts too.
func TestCutOneWayNewConnections(t *testing.T) {
	addr, conns := startServer(t)
	p, err := New("127.0.0.1:0", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	held := holdHook(p)
	p.CutOneWay(Down)
	pr := connect(t, p, conns)
	send(t, pr.client, pr.server, "hello")
	if _, err := io.WriteString(pr.server, "reply"); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, held, Down)
	expectSilent(t, pr.client)
	p.Heal()
	got := make([]byte, 5)
	pr.client.SetReadDeadline(time.Now().Add(failAfter))
	if _, err := io.ReadFull(pr.client, got); err != nil || string(got) != "reply" {
		t.Fatalf("after Heal read %q, %v; want %q", got, err, "reply")
	}
}

// TestCutOneWayLosesNothing writes more than the proxy and the kernel buffer while its
// direction is cut, so the writer blocks; after the heal every byte arrives once, in order.
func TestCutOneWayLosesNothing(t *testing.T) {
	addr, conns := startServer(t)
	p, err := New("127.0.0.1:0", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	held := holdHook(p)
	pr := connect(t, p, conns)
	payload := make([]byte, 8<<20)
	for i := range payload {
		payload[i] = byte(rand.IntN(256))
	}
	p.CutOneWay(Up)
	var wg sync.WaitGroup
	var werr error
	pr.client.SetWriteDeadline(time.Now().Add(3 * failAfter))
	wg.Go(func() { _, werr = pr.client.Write(payload) })
	waitHeld(t, held, Up)
	expectSilent(t, pr.server)
	p.HealOneWay(Up)
	got := make([]byte, len(payload))
	pr.server.SetReadDeadline(time.Now().Add(3 * failAfter))
	_, rerr := io.ReadFull(pr.server, got)
	wg.Wait()
	if werr != nil || rerr != nil {
		t.Fatalf("write: %v, read: %v", werr, rerr)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("8 MiB written across a healed one-way cut came back different")
	}
}

// TestCloseWhileCutOneWay: Close ends a pipe that a one-way cut holds.
func TestCloseWhileCutOneWay(t *testing.T) {
	addr, conns := startServer(t)
	p, err := New("127.0.0.1:0", addr)
	if err != nil {
		t.Fatal(err)
	}
	held := holdHook(p)
	pr := connect(t, p, conns)
	p.CutOneWay(Up)
	if _, err := io.WriteString(pr.client, "stuck"); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, held, Up)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, pr.client)
	expectClosed(t, pr.server)
}
