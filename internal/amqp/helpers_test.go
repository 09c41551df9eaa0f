package amqp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testHandler gives the engine something to talk to; the engine is what is tested. Links:
//
//	client sender to "echo/X": messages go to the queue of "echo/X" (a client receiver on
//	  source "echo/X" gets them back);
//	client sender to "rpc": each message is answered on the reply link whose target is the
//	  message's reply-to, with the same body;
//	client sender to "hold/X": each message is held until the link ends;
//	client sender to "refuse": amqp:not-found;
//	client receiver on "rpc": NewReplyLink;
//	client receiver on "stolen": Next fails with amqp:link:stolen;
//	client receiver on "echo/X": the queue of "echo/X".
type testHandler struct {
	maxMsg     uint64
	refuseConn *frames.Error

	mu     sync.Mutex
	infos  []ConnInfo
	queues map[string]*testQueue
	closed atomic.Int32 // handler links and conns closed
	nexts  atomic.Int64 // deliveries returned by Next
	maxAsk atomic.Int64 // the largest max Next was called with
}

func newTestHandler() *testHandler {
	return &testHandler{queues: make(map[string]*testQueue)}
}

func (h *testHandler) queue(addr string) *testQueue {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queues[addr]
	if q == nil {
		q = &testQueue{ch: make(chan []byte, 100000)}
		h.queues[addr] = q
	}
	return q
}

func (h *testHandler) lastInfo() ConnInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.infos) == 0 {
		return ConnInfo{}
	}
	return h.infos[len(h.infos)-1]
}

type testQueue struct{ ch chan []byte }

func (h *testHandler) Connect(ctx context.Context, info ConnInfo) (Conn, *frames.Error) {
	h.mu.Lock()
	h.infos = append(h.infos, info)
	h.mu.Unlock()
	if h.refuseConn != nil {
		return nil, h.refuseConn
	}
	return &testConn{h: h}, nil
}

type testConn struct{ h *testHandler }

func (c *testConn) AttachIncoming(ctx context.Context, a *frames.Attach) (Incoming, *frames.Error) {
	addr := a.Target.Address
	switch {
	case addr == "refuse":
		return nil, &frames.Error{Condition: "amqp:not-found", Description: "no such node"}
	case addr == "rpc", strings.HasPrefix(addr, "echo/"), strings.HasPrefix(addr, "hold/"):
		return &testIncoming{h: c.h, addr: addr}, nil
	}
	return nil, &frames.Error{Condition: "amqp:not-found", Description: "unknown target " + addr}
}

func (c *testConn) AttachOutgoing(ctx context.Context, a *frames.Attach) (Outgoing, *frames.Error) {
	addr := a.Source.Address
	switch {
	case addr == "rpc":
		return NewReplyLink(), nil
	case addr == "stolen":
		return &testOutgoing{h: c.h, fail: &frames.Error{Condition: "amqp:link:stolen", Description: "a newer receiver took over"}}, nil
	case strings.HasPrefix(addr, "echo/"):
		return &testOutgoing{h: c.h, q: c.h.queue(addr)}, nil
	}
	return nil, &frames.Error{Condition: "amqp:not-found", Description: "unknown source " + addr}
}

func (c *testConn) Close() { c.h.closed.Add(1) }

type testIncoming struct {
	h    *testHandler
	addr string
}

func (in *testIncoming) MaxMessageSize() uint64 { return in.h.maxMsg }

func (in *testIncoming) Message(ctx context.Context, format uint32, msg []byte) (frames.DeliveryState, []Reply) {
	if in.addr == "rpc" {
		var m goamqp.Message
		if err := m.UnmarshalBinary(msg); err != nil || m.Properties == nil || m.Properties.ReplyTo == nil {
			return &frames.Rejected{Error: &frames.Error{Condition: "amqp:decode-error", Description: "no reply-to"}}, nil
		}
		resp := goamqp.NewMessage(m.GetData())
		b, err := resp.MarshalBinary()
		if err != nil {
			panic(err)
		}
		return &frames.Accepted{}, []Reply{{To: *m.Properties.ReplyTo, Message: b}}
	}
	if strings.HasPrefix(in.addr, "hold/") { // never done: the link's credit is never refilled
		<-ctx.Done()
		return &frames.Released{}, nil
	}
	select {
	case in.h.queue(in.addr).ch <- msg:
		return &frames.Accepted{}, nil
	case <-ctx.Done():
		return &frames.Released{}, nil
	}
}

func (in *testIncoming) Close() { in.h.closed.Add(1) }

type testOutgoing struct {
	h    *testHandler
	q    *testQueue
	fail *frames.Error
}

func (o *testOutgoing) Next(ctx context.Context, max int) ([]Delivery, error) {
	if int64(max) > o.h.maxAsk.Load() {
		o.h.maxAsk.Store(int64(max))
	}
	if o.fail != nil {
		return nil, o.fail
	}
	var ds []Delivery
	select {
	case m := <-o.q.ch:
		if ctx.Err() != nil { // the link ended as the message came: it stays queued
			o.q.ch <- m
			return nil, ctx.Err()
		}
		ds = append(ds, Delivery{Message: m})
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(ds) < max {
		select {
		case m := <-o.q.ch:
			ds = append(ds, Delivery{Message: m})
		default:
			o.h.nexts.Add(int64(len(ds)))
			return ds, nil
		}
	}
	o.h.nexts.Add(int64(len(ds)))
	return ds, nil
}

func (o *testOutgoing) Close() { o.h.closed.Add(1) }

// startServer serves opts (with h when opts.Handler is nil) on a loopback port and closes it
// when the test ends.
func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if testing.Verbose() {
			opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(opts)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if n := s.budget.inUse(); n != 0 {
			t.Errorf("%d bytes of the memory budget still held after Close", n)
		}
	})
	return s, ln.Addr().String()
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a go-amqp connection (SASL ANONYMOUS unless opts says otherwise), closed when
// the test ends.
func dial(t *testing.T, addr string, opts *goamqp.ConnOptions) *goamqp.Conn {
	t.Helper()
	if opts == nil {
		opts = &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()}
	}
	c, err := goamqp.Dial(testCtx(t), "amqp://"+addr, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func beginSession(t *testing.T, c *goamqp.Conn) *goamqp.Session {
	t.Helper()
	s, err := c.NewSession(testCtx(t), nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	return s
}

// condition is the AMQP error condition inside err, or "".
func condition(err error) string {
	var e *goamqp.Error
	if errors.As(err, &e) {
		return string(e.Condition)
	}
	return ""
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var _ = codec.Symbol("")

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serveBench serves srv on a loopback port for a benchmark.
func serveBench(b *testing.B, srv *Server) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return ln.Addr().String(), func() {
		srv.Close()
		<-done
	}
}
