package amqp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// panicLog records the log lines of recovered panics, which the fuzz target turns into
// failures.
type panicLog struct {
	mu    sync.Mutex
	lines []string
}

func (p *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panicked") {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
		p.mu.Lock()
		p.lines = append(p.lines, b.String())
		p.mu.Unlock()
	}
	return nil
}
func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicLog) WithGroup(string) slog.Handler      { return p }

// program turns fuzz bytes into a sequence of frames: sessions, links, transfers, flows in
// any order, valid or not.
func program(in []byte) []byte {
	var out []byte
	b := func(i int) byte {
		if i < len(in) {
			return in[i]
		}
		return 0
	}
	for i := 0; i < len(in); i += 3 {
		op, x, y := b(i)%12, b(i+1), b(i+2)
		ch, h := uint16(x%3), uint32(y%3)
		id, credit := uint32(x), uint32(y%8)
		yes, no := true, false
		addr := []string{"echo/f", "hold/f", "rpc", "stolen", "refuse"}[int(x)%5]
		var p frames.Performative
		var payload []byte
		switch op {
		case 0:
			p = &frames.Begin{IncomingWindow: uint32(y % 4), OutgoingWindow: 10, HandleMax: 4}
		case 1:
			p = &frames.End{}
		case 2:
			p = &frames.Attach{Name: addr, Handle: h, Role: frames.RoleSender, Source: &frames.Source{}, Target: &frames.Target{Address: addr}}
		case 3:
			p = &frames.Attach{Name: addr + "r", Handle: h, Role: frames.RoleReceiver, Source: &frames.Source{Address: addr}, Target: &frames.Target{Address: "rpc"}}
		case 4:
			p = &frames.Detach{Handle: h, Closed: y&1 == 0}
		case 5, 6:
			settled := &no
			if x&1 == 1 {
				settled = &yes
			}
			p = &frames.Transfer{Handle: h, DeliveryID: &id, DeliveryTag: []byte{x}, Settled: settled, More: op == 6, Aborted: x&2 == 2}
			payload = bytes.Repeat([]byte{y}, int(x))
		case 7:
			next := uint32(y)
			p = &frames.Flow{NextIncomingID: &next, IncomingWindow: uint32(x % 8), Echo: y&1 == 1}
		case 8:
			dc := uint32(y)
			p = &frames.Flow{IncomingWindow: 100, Handle: &h, DeliveryCount: &dc, LinkCredit: &credit, Drain: x&1 == 1, Echo: x&2 == 2}
		case 9:
			p = &frames.Disposition{Role: frames.RoleReceiver, First: id, Settled: true, State: &frames.Accepted{}}
		case 10:
			out = appendEmptyFrame(out)
			continue
		case 11:
			p = &frames.Transfer{Handle: h, More: true}
			payload = []byte{x, y}
		}
		out = appendFrame(out, frames.TypeAMQP, ch, p, payload)
	}
	return out
}

// pipeListener is a net.Listener of in-memory connections (net.Pipe), so a fuzz run does not
// churn through the machine's TCP ports.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// FuzzConnection drives one connection with any sequence of frames after the open: the
// server must neither panic nor hang: it always ends with a close frame of its own.
func FuzzConnection(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 0, 0, 2, 0, 0, 5, 9, 0},
		{0, 0, 0, 3, 0, 0, 8, 0, 5, 8, 1, 5},
		{0, 0, 0, 2, 1, 0, 6, 200, 0, 5, 200, 0},
		{0, 1, 0, 3, 3, 1, 8, 0, 7, 4, 1, 1, 1, 1, 0},
		{0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 2, 0, 0},
	} {
		f.Add(seed)
	}
	logs := &panicLog{}
	h := newTestHandler()
	srv := NewServer(Options{Handler: h, Logger: slog.New(logs), MaxCredit: 4, SessionWindow: 4})
	ln := newPipeListener()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	f.Cleanup(func() {
		srv.Close()
		<-done
		if n := srv.budget.inUse(); n != 0 {
			f.Errorf("%d bytes of the memory budget still held after Close", n)
		}
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		nc, err := ln.dial()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		go func() { // the client's writes must not wait for its reads
			b := protoHeader(frames.ProtoAMQP)
			b = appendFrame(b, frames.TypeAMQP, 0, &frames.Open{ContainerID: "fuzz", MaxFrameSize: 512}, nil)
			b = append(b, program(in)...)
			b = appendFrame(b, frames.TypeAMQP, 0, &frames.Close{}, nil)
			nc.Write(b)
		}()
		br := bufio.NewReader(nc)
		if _, err := io.ReadFull(br, make([]byte, 8)); err != nil {
			t.Fatalf("no protocol header: %v", err)
		}
		for {
			fr, err := readFrame(br, 1<<20)
			if err != nil {
				t.Fatalf("the connection ended without our close: %v", err)
			}
			if len(fr.body) == 0 {
				continue
			}
			p, err := decodeBody(fr.body)
			if err != nil {
				t.Fatalf("the server sent a frame that does not decode: %v", err)
			}
			if _, ok := p.(*frames.Close); ok {
				break
			}
		}
		logs.mu.Lock()
		defer logs.mu.Unlock()
		if len(logs.lines) > 0 {
			t.Fatalf("the server panicked: %s", logs.lines[0])
		}
	})
}
