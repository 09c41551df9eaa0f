package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// failAfter bounds every blocking step; it is a failure bound, never a synchronisation.
const failAfter = 10 * time.Second

// startEcho runs a TCP echo server on 127.0.0.1 until the test ends and returns its address.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { io.Copy(c, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// newProxy starts a proxy in front of a fresh echo server, closed when the test ends.
func newProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", startEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), failAfter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads its echo.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(failAfter))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo of %q: %v", msg, err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

// expectClosed asserts that the proxy closed c: a read ends with EOF or a reset, not a timeout.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(failAfter))
	n, err := c.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a connection the proxy should have closed = %d, %v; want EOF or reset", n, err)
	}
}

// expectSilent asserts that nothing arrives on c for a short while.
func expectSilent(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	n, err := c.Read(make([]byte, 64))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through a blackhole = %d bytes, %v; want a timeout", n, err)
	}
}

func TestForwardsBothWays(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	roundTrip(t, c, "hello")

	// A payload larger than the kernel buffers and the proxy's chunk, written while it is read.
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte(rand.IntN(256))
	}
	c.SetDeadline(time.Now().Add(failAfter))
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() { _, werr = c.Write(payload) })
	got := make([]byte, len(payload))
	_, rerr := io.ReadFull(c, got)
	wg.Wait()
	if werr != nil || rerr != nil {
		t.Fatalf("write: %v, read: %v", werr, rerr)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("1 MiB echoed through the proxy came back different")
	}
}

func TestCutAndHeal(t *testing.T) {
	p := newProxy(t)
	before := dial(t, p)
	roundTrip(t, before, "up")

	p.Cut()
	expectClosed(t, before)
	if got := p.Stats().Active; got != 0 {
		t.Errorf("Active after Cut = %d, want 0", got)
	}
	refused := dial(t, p) // accepted by the kernel, then closed by the proxy
	expectClosed(t, refused)

	p.Heal()
	after := dial(t, p)
	roundTrip(t, after, "healed")
}

func TestBlackhole(t *testing.T) {
	p := newProxy(t)
	dropped := make(chan int, 16)
	p.mu.Lock()
	p.mu.onDrop = func(n int) { dropped <- n }
	p.mu.Unlock()

	c := dial(t, p)
	roundTrip(t, c, "before")
	up := p.Stats().BytesUp

	p.Blackhole(true)
	const lost = "lost in the void"
	if _, err := io.WriteString(c, lost); err != nil {
		t.Fatal(err)
	}
	// Wait until the proxy has read and dropped all of it, so none can leak out after Blackhole(false).
	for total := 0; total < len(lost); {
		select {
		case n := <-dropped:
			total += n
		case <-time.After(failAfter):
			t.Fatalf("proxy dropped %d of %d bytes", total, len(lost))
		}
	}
	expectSilent(t, c)
	if got := p.Stats(); got.BytesUp != up || got.Active != 1 {
		t.Errorf("Stats during blackhole = %+v; want BytesUp %d (dropped bytes not counted) and 1 active", got, up)
	}

	p.Blackhole(false)
	roundTrip(t, c, "after") // the dropped bytes are not delivered first
}

func TestSetDelay(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	roundTrip(t, c, "no delay")

	// With the real clock, data still arrives.
	p.SetDelay(10 * time.Millisecond)
	roundTrip(t, c, "real delay")

	// The delay applies to the open connection, per chunk in both directions.
	waits := make(chan time.Duration, 16)
	p.mu.Lock()
	p.mu.wait = func(d time.Duration) <-chan time.Time {
		waits <- d
		fired := make(chan time.Time, 1)
		fired <- time.Time{}
		return fired
	}
	p.mu.Unlock()
	p.SetDelay(7 * time.Millisecond)
	roundTrip(t, c, "x")
	if len(waits) != 2 {
		t.Fatalf("one byte each way was held %d times, want 2", len(waits))
	}
	for range 2 {
		if d := <-waits; d != 7*time.Millisecond {
			t.Errorf("chunk held for %v, want 7ms", d)
		}
	}

	p.SetDelay(0)
	roundTrip(t, c, "y")
	if len(waits) != 0 {
		t.Errorf("chunks held %d times after SetDelay(0), want 0", len(waits))
	}
}

func TestStats(t *testing.T) {
	p := newProxy(t)
	if got := p.Stats(); got != (Stats{}) {
		t.Fatalf("Stats of a new proxy = %+v, want zero", got)
	}
	a, b := dial(t, p), dial(t, p)
	roundTrip(t, a, "12345")
	roundTrip(t, b, "678")
	want := Stats{Accepted: 2, Active: 2, BytesUp: 8, BytesDown: 8}
	if got := p.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}

	p.Cut()
	expectClosed(t, dial(t, p))
	want = Stats{Accepted: 3, Active: 0, BytesUp: 8, BytesDown: 8}
	if got := p.Stats(); got != want {
		t.Errorf("Stats after Cut and a refused dial = %+v, want %+v", got, want)
	}
}

func TestCloseWithActiveConnections(t *testing.T) {
	p, err := New("127.0.0.1:0", startEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	plain := dial(t, p)
	roundTrip(t, plain, "plain")

	// A connection whose next chunk is held forever.
	held := dial(t, p)
	roundTrip(t, held, "held")
	holding := make(chan struct{})
	var once sync.Once
	p.mu.Lock()
	p.mu.wait = func(time.Duration) <-chan time.Time {
		once.Do(func() { close(holding) })
		return nil // never fires
	}
	p.mu.Unlock()
	p.SetDelay(time.Hour)
	if _, err := io.WriteString(held, "stuck"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-holding:
	case <-time.After(failAfter):
		t.Fatal("the proxy never started holding the chunk")
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expectClosed(t, plain)
	expectClosed(t, held)
	if got := p.Stats().Active; got != 0 {
		t.Errorf("Active after Close = %d, want 0", got)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), failAfter); err == nil {
		c.Close()
		t.Error("dial after Close succeeded; the listener should be closed")
	}
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()

	p, err := New("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	expectClosed(t, dial(t, p))
}

func TestNewRejectsNonLoopback(t *testing.T) {
	for _, tc := range []struct{ listen, target string }{
		{"0.0.0.0:0", "127.0.0.1:1"},
		{"127.0.0.1:0", "10.0.0.1:9093"},
		{"localhost:0", "127.0.0.1:1"},
		{"127.0.0.1", "127.0.0.1:1"},
	} {
		if p, err := New(tc.listen, tc.target); err == nil {
			p.Close()
			t.Errorf("New(%q, %q) succeeded, want an error", tc.listen, tc.target)
		}
	}
}
