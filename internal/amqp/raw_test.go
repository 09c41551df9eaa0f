package amqp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"slices"
	"testing"
	"time"

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
