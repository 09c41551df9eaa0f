package amqp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// rawClient speaks AMQP frame by frame, for what go-amqp will not do (MSSBCBS, garbage,
// protocol violations).
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func rawDial(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawClient) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawClient) send(typ byte, ch uint16, p frames.Performative, payload []byte) {
	r.t.Helper()
	r.write(appendFrame(nil, typ, ch, p, payload))
}

func (r *rawClient) header() []byte {
	r.t.Helper()
	b := make([]byte, 8)
	if _, err := io.ReadFull(r.br, b); err != nil {
		r.t.Fatalf("reading the protocol header: %v", err)
	}
	return b
}

// next reads the next frame that is not a heartbeat.
func (r *rawClient) next() (uint16, frames.Performative) {
	r.t.Helper()
	for {
		f, err := readFrame(r.br, 1<<24)
		if err != nil {
			r.t.Fatalf("reading a frame: %v", err)
		}
		if len(f.body) == 0 {
			continue
		}
		p, err := decodeBody(f.body)
		if err != nil {
			r.t.Fatalf("decoding a frame: %v", err)
		}
		return f.channel, p
	}
}

// expect reads frames until one of type T (skipping flows and others).
func expect[T frames.Performative](r *rawClient) T {
	r.t.Helper()
	for {
		_, p := r.next()
		if v, ok := p.(T); ok {
			return v
		}
		if _, ok := p.(*frames.Close); ok {
			r.t.Fatalf("connection closed while waiting for %T: %+v", *new(T), p.(*frames.Close).Error)
		}
	}
}

// open runs the plain AMQP header and the open exchange.
func (r *rawClient) open() *frames.Open {
	r.t.Helper()
	r.write(protoHeader(frames.ProtoAMQP))
	if h := r.header(); !bytes.Equal(h, protoHeader(frames.ProtoAMQP)) {
		r.t.Fatalf("header %q", h)
	}
	r.send(frames.TypeAMQP, 0, &frames.Open{ContainerID: "raw", MaxFrameSize: 1 << 20, ChannelMax: 65535}, nil)
	return expect[*frames.Open](r)
}

func (r *rawClient) begin(ch uint16) *frames.Begin {
	r.t.Helper()
	r.send(frames.TypeAMQP, ch, &frames.Begin{NextOutgoingID: 0, IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: 100}, nil)
	return expect[*frames.Begin](r)
}

func errCond(e *frames.Error) string {
	if e == nil {
		return ""
	}
	return string(e.Condition)
}

// TestMSSBCBS: the .NET SDK's mechanism, with the key name as the initial response.
func TestMSSBCBS(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	r := rawDial(t, addr)
	r.write(protoHeader(frames.ProtoSASL))
	if hd := r.header(); !bytes.Equal(hd, protoHeader(frames.ProtoSASL)) {
		t.Fatalf("SASL header answered with %q", hd)
	}
	_, p := r.next()
	mechs, ok := p.(*frames.SASLMechanisms)
	if !ok || !slices.Equal(mechs.Mechanisms, []codec.Symbol{"MSSBCBS", "ANONYMOUS", "PLAIN"}) {
		t.Fatalf("mechanisms %+v", p)
	}
	r.send(frames.TypeSASL, 0, &frames.SASLInit{Mechanism: "MSSBCBS", InitialResponse: []byte("RootManageSharedAccessKey")}, nil)
	_, p = r.next()
	if out, ok := p.(*frames.SASLOutcome); !ok || out.Code != frames.SASLOK {
		t.Fatalf("outcome %+v", p)
	}
	open := r.open()
	if open.ChannelMax != DefaultMaxSessions-1 || open.MaxFrameSize != DefaultMaxFrameSize || open.IdleTimeout != 120000 {
		t.Errorf("our open %+v", open)
	}
	info := h.lastInfo()
	if info.SASLMechanism != "MSSBCBS" || info.SASLUser != "RootManageSharedAccessKey" || info.ContainerID != "raw" {
		t.Errorf("ConnInfo %+v", info)
	}
}

// TestBadProtocolHeader: anything but AMQP 1.0.0 with id 0 or 3 gets our header and a close.
func TestBadProtocolHeader(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	for _, in := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01", // a TLS client hello on the plain port
		"AMQP\x00\x00\x09\x01",             // AMQP 0-9-1
		"AMQP\x02\x01\x00\x00",             // in-band TLS
		"AMQP\x00\x01\x00\x00garbage!",     // a good header, then not a frame: closed below
	} {
		r := rawDial(t, addr)
		r.write([]byte(in))
		got, _ := io.ReadAll(r.br)
		want := protoHeader(frames.ProtoSASL)
		if in[:5] == "AMQP\x00" && in[5] == 1 {
			want = protoHeader(frames.ProtoAMQP)
		}
		if !bytes.HasPrefix(got, want) {
			t.Errorf("%q answered with %q, want our header %q then the end", in, got, want)
		}
	}
}

// TestFrameLargerThanNegotiated: a frame above our max-frame-size closes the connection
// with amqp:connection:framing-error, before its body is read.
func TestFrameLargerThanNegotiated(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h, MaxFrameSize: 4096})
	r := rawDial(t, addr)
	r.open()
	r.begin(0)
	big := appendFrame(nil, frames.TypeAMQP, 0, &frames.Transfer{Handle: 0}, make([]byte, 5000))
	r.write(big)
	cl := expect[*frames.Close](r)
	if errCond(cl.Error) != condFramingError {
		t.Fatalf("close %+v, want %s", cl.Error, condFramingError)
	}
}

// TestTransferOnUnattachedHandle ends the session with amqp:session:unattached-handle.
func TestTransferOnUnattachedHandle(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	r := rawDial(t, addr)
	r.open()
	r.begin(3)
	id, settled := uint32(0), true
	r.send(frames.TypeAMQP, 3, &frames.Transfer{Handle: 7, DeliveryID: &id, DeliveryTag: []byte{1}, Settled: &settled}, []byte("x"))
	end := expect[*frames.End](r)
	if errCond(end.Error) != condUnattachedHandle {
		t.Fatalf("end %+v, want %s", end.Error, condUnattachedHandle)
	}
	// The connection lives on: the channel is free again after our end.
	r.send(frames.TypeAMQP, 3, &frames.End{}, nil)
	r.begin(3)
}

// attachSender attaches a client sender on handle to target and returns our attach and the
// credit flow.
func (r *rawClient) attachSender(ch uint16, handle uint32, target string) (*frames.Attach, *frames.Flow) {
	r.t.Helper()
	r.send(frames.TypeAMQP, ch, &frames.Attach{Name: target, Handle: handle, Role: frames.RoleSender,
		SndSettleMode: frames.SenderSettleMixed, Source: &frames.Source{Address: "src"}, Target: &frames.Target{Address: target}}, nil)
	a := expect[*frames.Attach](r)
	if a.Target == nil {
		return a, nil
	}
	return a, expect[*frames.Flow](r)
}

// TestMessageSizeExceeded: a multi-frame delivery above max-message-size detaches the link
// with amqp:link:message-size-exceeded; the session and connection live on.
func TestMessageSizeExceeded(t *testing.T) {
	h := newTestHandler()
	h.maxMsg = 1000
	_, addr := startServer(t, Options{Handler: h})
	r := rawDial(t, addr)
	r.open()
	r.begin(0)
	a, fl := r.attachSender(0, 0, "echo/size")
	if a.MaxMessageSize != 1000 || fl.LinkCredit == nil || *fl.LinkCredit == 0 {
		t.Fatalf("attach max-message-size %d, flow %+v", a.MaxMessageSize, fl)
	}
	id := uint32(0)
	r.send(frames.TypeAMQP, 0, &frames.Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{1}, More: true}, make([]byte, 600))
	r.send(frames.TypeAMQP, 0, &frames.Transfer{Handle: 0, More: false}, make([]byte, 600))
	d := expect[*frames.Detach](r)
	if !d.Closed || errCond(d.Error) != condMessageSize {
		t.Fatalf("detach %+v, want closed with %s", d, condMessageSize)
	}
	r.send(frames.TypeAMQP, 0, &frames.Detach{Handle: 0, Closed: true}, nil)
	// A message within the limit on a new link is accepted.
	r.attachSender(0, 0, "echo/size")
	id = 1
	r.send(frames.TypeAMQP, 0, &frames.Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{2}}, mustMarshal(t, make([]byte, 500)))
	disp := expect[*frames.Disposition](r)
	if _, ok := disp.State.(*frames.Accepted); !ok || !disp.Settled || disp.First != 1 || disp.Role != frames.RoleReceiver {
		t.Fatalf("disposition %+v", disp)
	}
}

// TestSessionAndLinkCaps: a begin over MaxSessions and an attach over MaxLinksPerSession
// are refused with amqp:resource-limit-exceeded; channel-max and handle-max say so first.
func TestSessionAndLinkCaps(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h, MaxSessions: 2, MaxLinksPerSession: 2})
	r := rawDial(t, addr)
	if open := r.open(); open.ChannelMax != 1 {
		t.Fatalf("channel-max %d, want 1", open.ChannelMax)
	}
	if b := r.begin(0); b.HandleMax != 1 {
		t.Fatalf("handle-max %d, want 1", b.HandleMax)
	}
	r.begin(1)
	r.begin(2)
	end := expect[*frames.End](r)
	if errCond(end.Error) != condResourceLimit {
		t.Fatalf("third session: end %+v, want %s", end.Error, condResourceLimit)
	}
	r.attachSender(0, 0, "echo/caps")
	r.attachSender(0, 1, "echo/caps")
	a, _ := r.attachSender(0, 2, "echo/caps")
	if a.Target != nil || a.Source != nil {
		t.Fatalf("third link: attach with terminus %+v, want a refusal", a)
	}
	d := expect[*frames.Detach](r)
	if !d.Closed || errCond(d.Error) != condResourceLimit || d.Handle != 2 {
		t.Fatalf("third link: detach %+v, want closed with %s", d, condResourceLimit)
	}
}

// TestAuthTimeout: a connection that never sends its open is closed after AuthTimeout.
func TestAuthTimeout(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h, AuthTimeout: 200 * time.Millisecond})
	r := rawDial(t, addr)
	r.write(protoHeader(frames.ProtoAMQP))
	got, _ := io.ReadAll(r.br)
	if !bytes.Equal(got, protoHeader(frames.ProtoAMQP)) {
		t.Fatalf("got %q, want our header and then the end", got)
	}
}

// TestIdleClientClosed: a client silent for longer than our idle-time-out is closed with
// amqp:connection:forced.
func TestIdleClientClosed(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h, IdleTimeout: 300 * time.Millisecond})
	r := rawDial(t, addr)
	if open := r.open(); open.IdleTimeout != 300 {
		t.Fatalf("idle-time-out %d, want 300", open.IdleTimeout)
	}
	cl := expect[*frames.Close](r)
	if errCond(cl.Error) != condConnForced {
		t.Fatalf("close %+v, want %s", cl.Error, condConnForced)
	}
}

// openWith is open with the client's max-frame-size.
func (r *rawClient) openWith(maxFrame uint32) *frames.Open {
	r.t.Helper()
	r.write(protoHeader(frames.ProtoAMQP))
	r.header()
	r.send(frames.TypeAMQP, 0, &frames.Open{ContainerID: "raw", MaxFrameSize: maxFrame, ChannelMax: 65535}, nil)
	return expect[*frames.Open](r)
}

// nextSized is next with the frame's size on the wire.
func (r *rawClient) nextSized() (int, frames.Performative) {
	r.t.Helper()
	for {
		f, err := readFrame(r.br, 1<<24)
		if err != nil {
			r.t.Fatalf("reading a frame: %v", err)
		}
		if len(f.body) == 0 {
			continue
		}
		p, err := decodeBody(f.body)
		if err != nil {
			r.t.Fatalf("decoding a frame: %v", err)
		}
		return len(f.body) + 8, p
	}
}

// TestOutgoingHonoursClientWindowAndFrameSize: transfers to a client stop when its session
// incoming-window is used up and resume with its next flow; each frame fits the client's
// max-frame-size (512 here), a message spanning frames with more=true.
func TestOutgoingHonoursClientWindowAndFrameSize(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	q := h.queue("echo/window-out")
	msgs := [][]byte{mustMarshal(t, bytes.Repeat([]byte("a"), 2000)), mustMarshal(t, []byte("b")), mustMarshal(t, []byte("c"))}
	for _, m := range msgs {
		q.ch <- m
	}
	r := rawDial(t, addr)
	r.openWith(512)
	const window = 3
	r.send(frames.TypeAMQP, 0, &frames.Begin{IncomingWindow: window, OutgoingWindow: 100, HandleMax: 10}, nil)
	expect[*frames.Begin](r)
	r.send(frames.TypeAMQP, 0, &frames.Attach{Name: "rcv", Handle: 0, Role: frames.RoleReceiver,
		Source: &frames.Source{Address: "echo/window-out"}, Target: &frames.Target{Address: "me"}}, nil)
	expect[*frames.Attach](r)
	credit, zero, in := uint32(10), uint32(0), uint32(0)
	handle := uint32(0)
	r.send(frames.TypeAMQP, 0, &frames.Flow{NextIncomingID: &in, IncomingWindow: window, OutgoingWindow: 100,
		Handle: &handle, DeliveryCount: &zero, LinkCredit: &credit}, nil)

	var got [][]byte
	var cur []byte
	transfers := 0
	read := func(until func(frames.Performative) bool) {
		for {
			size, p := r.nextSized()
			if size > 512 {
				t.Fatalf("a %d-byte frame to a client whose max-frame-size is 512", size)
			}
			if tr, ok := p.(*frames.Transfer); ok {
				transfers++
				if tr.Settled == nil || !*tr.Settled {
					t.Fatalf("transfer not settled: %+v", tr)
				}
				cur = append(cur, tr.Payload...)
				if !tr.More {
					got, cur = append(got, cur), nil
				}
			}
			if until(p) {
				return
			}
		}
	}
	// The window of 3 frames is used up; an echo flow's answer comes after whatever the
	// server sent before it.
	read(func(frames.Performative) bool { return transfers == window })
	next := uint32(window)
	noWindow := uint32(0)
	r.send(frames.TypeAMQP, 0, &frames.Flow{NextIncomingID: &next, IncomingWindow: noWindow, OutgoingWindow: 100, Echo: true}, nil)
	read(func(p frames.Performative) bool { f, ok := p.(*frames.Flow); return ok && f.Handle == nil })
	if transfers != window {
		t.Fatalf("%d transfers with a session incoming-window of %d", transfers, window)
	}
	// Open the window: the rest arrives.
	r.send(frames.TypeAMQP, 0, &frames.Flow{NextIncomingID: &next, IncomingWindow: 1000, OutgoingWindow: 100}, nil)
	read(func(frames.Performative) bool { return len(got) == len(msgs) })
	for i := range msgs {
		if !bytes.Equal(got[i], msgs[i]) {
			t.Fatalf("message %d: %d bytes, want %d", i, len(got[i]), len(msgs[i]))
		}
	}
}

// TestProtocolViolations: each violation gets the error the spec names, at the level it
// names (link, session or connection).
func TestProtocolViolations(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	id := uint32(0)
	for _, tc := range []struct {
		name string
		run  func(r *rawClient) (string, *frames.Error)
		want string
	}{
		{"second open", func(r *rawClient) (string, *frames.Error) {
			r.send(frames.TypeAMQP, 0, &frames.Open{ContainerID: "again"}, nil)
			return "close", expect[*frames.Close](r).Error
		}, condNotAllowed},
		{"frame on a channel without session", func(r *rawClient) (string, *frames.Error) {
			r.send(frames.TypeAMQP, 9, &frames.Detach{Handle: 0, Closed: true}, nil)
			return "close", expect[*frames.Close](r).Error
		}, condNotAllowed},
		{"attach on a handle in use", func(r *rawClient) (string, *frames.Error) {
			r.begin(0)
			r.attachSender(0, 4, "echo/v")
			r.send(frames.TypeAMQP, 0, &frames.Attach{Name: "other", Handle: 4, Role: frames.RoleSender,
				Source: &frames.Source{}, Target: &frames.Target{Address: "echo/v"}}, nil)
			return "end", expect[*frames.End](r).Error
		}, condHandleInUse},
		{"detach of an unattached handle", func(r *rawClient) (string, *frames.Error) {
			r.begin(0)
			r.send(frames.TypeAMQP, 0, &frames.Detach{Handle: 5, Closed: true}, nil)
			return "end", expect[*frames.End](r).Error
		}, condUnattachedHandle},
		{"transfer beyond the link credit", func(r *rawClient) (string, *frames.Error) {
			r.begin(0)
			_, fl := r.attachSender(0, 0, "hold/v")
			var d *frames.Detach
			for i := uint32(0); i <= *fl.LinkCredit && d == nil; i++ {
				id = i
				settled := true
				r.send(frames.TypeAMQP, 0, &frames.Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{1}, Settled: &settled}, []byte{0x00, 0x53, 0x75, 0xa0, 0x00})
			}
			d = expect[*frames.Detach](r)
			return "detach", d.Error
		}, condTransferLimit},
		{"transfer on a link the client receives on", func(r *rawClient) (string, *frames.Error) {
			r.begin(0)
			r.send(frames.TypeAMQP, 0, &frames.Attach{Name: "r", Handle: 1, Role: frames.RoleReceiver,
				Source: &frames.Source{Address: "echo/v2"}, Target: &frames.Target{Address: "me"}}, nil)
			expect[*frames.Attach](r)
			r.send(frames.TypeAMQP, 0, &frames.Transfer{Handle: 1, DeliveryID: &id, DeliveryTag: []byte{1}}, []byte("x"))
			return "detach", expect[*frames.Detach](r).Error
		}, condNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rawDial(t, addr)
			r.open()
			what, e := tc.run(r)
			if errCond(e) != tc.want {
				t.Fatalf("%s with %+v, want %s", what, e, tc.want)
			}
		})
	}
}

// TestWriteTimeout: a client that stops reading is disconnected after the write timeout,
// and its connection's goroutines end.
func TestWriteTimeout(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Options{Handler: h, WriteTimeout: 300 * time.Millisecond})
	q := h.queue("echo/unread")
	big := mustMarshal(t, make([]byte, 60<<10))
	for range 400 { // 24 MB: more than the socket buffers hold
		q.ch <- big
	}
	r := rawDial(t, addr)
	if tc, ok := r.nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	r.open()
	r.begin(0)
	r.send(frames.TypeAMQP, 0, &frames.Attach{Name: "rcv", Handle: 0, Role: frames.RoleReceiver,
		Source: &frames.Source{Address: "echo/unread"}, Target: &frames.Target{Address: "me"}}, nil)
	credit, zero, in, handle := uint32(1000), uint32(0), uint32(0), uint32(0)
	r.send(frames.TypeAMQP, 0, &frames.Flow{NextIncomingID: &in, IncomingWindow: 1 << 20, OutgoingWindow: 100,
		Handle: &handle, DeliveryCount: &zero, LinkCredit: &credit}, nil)
	// The client reads nothing more.
	waitFor(t, "the write timeout to close the connection", func() bool {
		return testutil.ToFloat64(srv.metrics.closed.WithLabelValues("write_timeout")) == 1
	})
}

// TestFlowEcho: a link flow with echo=true is answered with our link state, on both kinds
// of link; a session flow with echo=true with our session state.
func TestFlowEcho(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h, MaxCredit: 7})
	r := rawDial(t, addr)
	r.open()
	r.begin(0)
	r.attachSender(0, 0, "echo/e")
	r.send(frames.TypeAMQP, 0, &frames.Attach{Name: "rcv", Handle: 1, Role: frames.RoleReceiver,
		Source: &frames.Source{Address: "echo/e"}, Target: &frames.Target{Address: "me"}}, nil)
	expect[*frames.Attach](r)
	in, zero, h0, h1, three := uint32(0), uint32(0), uint32(0), uint32(1), uint32(3)
	r.send(frames.TypeAMQP, 0, &frames.Flow{NextIncomingID: &in, IncomingWindow: 100, Handle: &h0, DeliveryCount: &zero, Echo: true}, nil)
	f := expect[*frames.Flow](r)
	if f.Handle == nil || *f.Handle != 0 || f.LinkCredit == nil || *f.LinkCredit != 7 || f.DeliveryCount == nil || *f.DeliveryCount != 0 {
		t.Fatalf("echo on the link the client sends on: %+v", f)
	}
	r.send(frames.TypeAMQP, 0, &frames.Flow{NextIncomingID: &in, IncomingWindow: 100, Handle: &h1, DeliveryCount: &zero, LinkCredit: &three, Echo: true}, nil)
	f = expect[*frames.Flow](r)
	if f.Handle == nil || *f.Handle != 1 || f.LinkCredit == nil || *f.LinkCredit != 3 {
		t.Fatalf("echo on the link the client receives on: %+v", f)
	}
	r.send(frames.TypeAMQP, 0, &frames.Flow{NextIncomingID: &in, IncomingWindow: 100, Echo: true}, nil)
	f = expect[*frames.Flow](r)
	if f.Handle != nil || f.NextIncomingID == nil || f.IncomingWindow != DefaultSessionWindow {
		t.Fatalf("echo on the session: %+v", f)
	}
}

// sendHeld sends settled single-frame messages of size bytes on handle 0 of channel 0 to a
// "hold/" target until the server stops reading; it returns how many it wrote.
func (r *rawClient) sendSettled(n, size int, first uint32) {
	r.t.Helper()
	settled := true
	for i := range n {
		id := first + uint32(i)
		r.send(frames.TypeAMQP, 0, &frames.Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{byte(i)}, Settled: &settled}, make([]byte, size))
	}
}

// TestMemoryBudget: payload bytes held (here by a handler that never finishes) count in the
// budget; a connection over its share waits, and is closed with
// amqp:resource-limit-exceeded after MemoryWait; its bytes are given back. Another
// connection keeps working meanwhile.
func TestMemoryBudget(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Options{Handler: h, MemoryBudget: 256 << 10, ConnMemoryShare: 64 << 10, MemoryWait: 2 * time.Second})
	r := rawDial(t, addr)
	r.open()
	r.begin(0)
	r.attachSender(0, 0, "hold/budget")
	go r.sendSettled(20, 10<<10, 0) // 200 KiB: more than the share
	waitFor(t, "the connection to fill its share", func() bool { return srv.budget.inUse() >= 60<<10 })
	if n := srv.budget.inUse(); n > 64<<10 {
		t.Fatalf("one connection holds %d bytes, its share is %d", n, 64<<10)
	}
	// Another connection is not starved.
	roundTrip(t, dial(t, addr, nil), "echo/budget", make([]byte, 30<<10))
	cl := expect[*frames.Close](r)
	if errCond(cl.Error) != condResourceLimit {
		t.Fatalf("close %+v, want %s", cl.Error, condResourceLimit)
	}
	waitFor(t, "the closed connection's bytes to be given back", func() bool { return srv.budget.inUse() == 0 })
	waitFor(t, "closed{memory_budget} to count the connection", func() bool {
		return testutil.ToFloat64(srv.metrics.closed.WithLabelValues("memory_budget")) == 1
	})
}

// TestSASLRefusals: an unknown mechanism and a malformed PLAIN response get outcome auth (1)
// and the end of the connection.
func TestSASLRefusals(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	for _, init := range []*frames.SASLInit{
		{Mechanism: "SCRAM-SHA-256", InitialResponse: []byte("n,,n=user")},
		{Mechanism: "PLAIN", InitialResponse: []byte("no-separators")},
	} {
		r := rawDial(t, addr)
		r.write(protoHeader(frames.ProtoSASL))
		r.header()
		expect[*frames.SASLMechanisms](r)
		r.send(frames.TypeSASL, 0, init, nil)
		out := expect[*frames.SASLOutcome](r)
		if out.Code != frames.SASLAuth {
			t.Errorf("%s: outcome %d, want %d", init.Mechanism, out.Code, frames.SASLAuth)
		}
		if rest, _ := io.ReadAll(r.br); len(rest) != 0 {
			t.Errorf("%s: %d bytes after the outcome, want the end", init.Mechanism, len(rest))
		}
	}
}

// TestOpenExpected: a frame other than open after the AMQP header gets our open and a
// close with the error.
func TestOpenExpected(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	r := rawDial(t, addr)
	r.write(protoHeader(frames.ProtoAMQP))
	r.header()
	r.send(frames.TypeAMQP, 0, &frames.Begin{IncomingWindow: 1}, nil)
	_, p := r.next()
	if _, ok := p.(*frames.Open); !ok {
		t.Fatalf("first frame %T, want our open", p)
	}
	if cl := expect[*frames.Close](r); errCond(cl.Error) != condNotAllowed {
		t.Fatalf("close %+v, want %s", cl.Error, condNotAllowed)
	}
}
