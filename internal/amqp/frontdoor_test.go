package amqp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// redirectTo is the redirect a handler answers with to send its clients to addr.
func redirectTo(t *testing.T, addr string) *frames.Error {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.ParseUint(port, 10, 16)
	return &frames.Error{Condition: condRedirect, Description: "alias a1 is active in region west",
		Info: &codec.Map{Pairs: []codec.Pair{
			{Key: codec.Symbol("hostname"), Value: "a1"},
			{Key: codec.Symbol("network-host"), Value: host},
			{Key: codec.Symbol("port"), Value: uint16(p)},
		}}}
}

// TestFrontDoorSplices: a client of engine A, whose handler redirects every connection to
// engine B, talks to B through A: the handshake reaches B's handler as the client sent it
// (SASL mechanism and credentials, host name, container), and messages (1 MiB, multi-frame)
// go both ways.
func TestFrontDoorSplices(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sasl       goamqp.SASLType
		mech, user string
		pw         string
	}{
		{"anonymous", goamqp.SASLTypeAnonymous(), "ANONYMOUS", "anonymous", ""},
		{"plain", goamqp.SASLTypePlain("RootManageSharedAccessKey", "s3cret=="), "PLAIN", "RootManageSharedAccessKey", "s3cret=="},
		{"no SASL header", nil, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hb := newTestHandler()
			_, addrB := startServer(t, Options{Handler: hb})
			ha := newTestHandler()
			ha.refuseConn = redirectTo(t, addrB)
			_, addrA := startServer(t, Options{Handler: ha})
			c := dial(t, addrA, &goamqp.ConnOptions{SASLType: tc.sasl, HostName: "a1:5672", ContainerID: "client-1"})
			roundTrip(t, c, "echo/x", []byte("hello"))
			roundTrip(t, c, "echo/big", bytes.Repeat([]byte("0123456789abcdef"), 1<<16))
			for name, h := range map[string]*testHandler{"front door": ha, "upstream": hb} {
				info := h.lastInfo()
				if info.SASLMechanism != tc.mech || info.SASLUser != tc.user || info.SASLPassword != tc.pw ||
					info.Hostname != "a1:5672" || info.ContainerID != "client-1" {
					t.Errorf("%s saw %+v, want SASL %q %q %q, hostname a1:5672, container client-1", name, info, tc.mech, tc.user, tc.pw)
				}
			}
			if err := c.Close(); err != nil {
				t.Fatalf("close through the front door: %v", err)
			}
			// The upstream's connection and its 4 links closed: the client's close went through.
			waitFor(t, "the upstream connection closed", func() bool { return hb.closed.Load() == 5 })
		})
	}
}

// TestFrontDoorUpstreamRefuses: the upstream's refusal reaches the client unchanged.
func TestFrontDoorUpstreamRefuses(t *testing.T) {
	hb := newTestHandler()
	hb.refuseConn = &frames.Error{Condition: "amqp:unauthorized-access", Description: "no such key in region west"}
	_, addrB := startServer(t, Options{Handler: hb})
	ha := newTestHandler()
	ha.refuseConn = redirectTo(t, addrB)
	_, addrA := startServer(t, Options{Handler: ha})
	err := dialAndBegin(t, addrA)
	if condition(err) != "amqp:unauthorized-access" || !strings.Contains(err.Error(), "region west") {
		t.Fatalf("upstream refusal through the front door: %v, want amqp:unauthorized-access from the upstream", err)
	}
}

// TestFrontDoorDialFails: an unreachable target closes the client with
// amqp:connection:forced (the SDKs retry it) naming the redirect and the failure.
func TestFrontDoorDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	ha := newTestHandler()
	ha.refuseConn = redirectTo(t, dead)
	_, addrA := startServer(t, Options{Handler: ha})
	err = dialAndBegin(t, addrA)
	if condition(err) != condConnForced || !strings.Contains(err.Error(), "region west") || !strings.Contains(err.Error(), dead) {
		t.Fatalf("unreachable redirect target: %v, want amqp:connection:forced naming the alias's region and %s", err, dead)
	}
}

// TestFrontDoorDisabled: with the front door off the client gets the redirect itself.
func TestFrontDoorDisabled(t *testing.T) {
	hb := newTestHandler()
	_, addrB := startServer(t, Options{Handler: hb})
	ha := newTestHandler()
	ha.refuseConn = redirectTo(t, addrB)
	_, addrA := startServer(t, Options{Handler: ha, DisableFrontDoor: true})
	err := dialAndBegin(t, addrA)
	if condition(err) != condRedirect {
		t.Fatalf("front door off: %v, want amqp:connection:redirect", err)
	}
	if info := hb.lastInfo(); info.RemoteAddr != nil {
		t.Fatalf("the upstream saw a connection with the front door off: %+v", info)
	}
}

// TestFrontDoorNoSelfLoop: a redirect to the listener itself is not followed.
func TestFrontDoorNoSelfLoop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ha := newTestHandler()
	ha.refuseConn = redirectTo(t, ln.Addr().String())
	srv := NewServer(Options{Handler: ha, Logger: discardLogger(), Registerer: nil})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() { srv.Close(); <-done }()
	if err := dialAndBegin(t, ln.Addr().String()); condition(err) != condRedirect {
		t.Fatalf("redirect to itself: %v, want amqp:connection:redirect", err)
	}
	ha.mu.Lock()
	n := len(ha.infos)
	ha.mu.Unlock()
	if n != 1 {
		t.Fatalf("the handler saw %d connections, want 1 (no forwarding loop)", n)
	}
}

// dialAndBegin dials addr and begins a session; the error is what ended the connection.
func dialAndBegin(t *testing.T, addr string) error {
	t.Helper()
	c, err := goamqp.Dial(testCtx(t), "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous(), HostName: "a1"})
	if err == nil {
		// go-amqp returns from Dial after the open; the close follows.
		_, err = c.NewSession(testCtx(t), nil)
		c.Close()
	}
	if err == nil {
		t.Fatal("a refused connection could begin a session")
	}
	return err
}

// forcedHandler is testHandler whose links "forced" end with amqp:connection:forced (a
// geo-DR alias moved away), on a message (client sender) or a receive (client receiver).
type forcedHandler struct{ *testHandler }

func (h forcedHandler) Connect(ctx context.Context, info ConnInfo) (Conn, *frames.Error) {
	c, err := h.testHandler.Connect(ctx, info)
	if err != nil {
		return nil, err
	}
	return forcedConn{c.(*testConn)}, nil
}

type forcedConn struct{ *testConn }

var errForced = &frames.Error{Condition: condConnForced, Description: "alias a1 moved to region west; reconnect"}

func (c forcedConn) AttachIncoming(ctx context.Context, a *frames.Attach) (Incoming, *frames.Error) {
	if a.Target.Address == "forced" {
		return forcedLink{c.h}, nil
	}
	return c.testConn.AttachIncoming(ctx, a)
}

func (c forcedConn) AttachOutgoing(ctx context.Context, a *frames.Attach) (Outgoing, *frames.Error) {
	if a.Source.Address == "forced" {
		return forcedLink{c.h}, nil
	}
	return c.testConn.AttachOutgoing(ctx, a)
}

type forcedLink struct{ h *testHandler }

func (forcedLink) MaxMessageSize() uint64 { return 0 }
func (forcedLink) Message(context.Context, uint32, []byte) (frames.DeliveryState, []Reply) {
	return &frames.Rejected{Error: errForced}, nil
}
func (forcedLink) Next(context.Context, int) ([]Delivery, error) { return nil, errForced }
func (l forcedLink) Close()                                      { l.h.closed.Add(1) }

// TestForcedClosesConnection: a handler's amqp:connection:forced on a message or a receive
// closes the whole connection with it, directly and through the front door.
func TestForcedClosesConnection(t *testing.T) {
	for _, via := range []string{"direct", "front door"} {
		for _, role := range []string{"sender", "receiver"} {
			t.Run(via+"/"+role, func(t *testing.T) {
				h := forcedHandler{newTestHandler()}
				_, addr := startServer(t, Options{Handler: h})
				if via == "front door" {
					ha := newTestHandler()
					ha.refuseConn = redirectTo(t, addr)
					_, addr = startServer(t, Options{Handler: ha})
				}
				c := dial(t, addr, nil)
				ctx := testCtx(t)
				s := beginSession(t, c)
				var err error
				if role == "sender" {
					snd, aerr := s.NewSender(ctx, "forced", nil)
					if aerr != nil {
						t.Fatal(aerr)
					}
					err = snd.Send(ctx, goamqp.NewMessage([]byte("x")), nil)
				} else {
					rcv, aerr := s.NewReceiver(ctx, "forced", &goamqp.ReceiverOptions{Credit: 1})
					if aerr != nil {
						t.Fatal(aerr)
					}
					_, err = rcv.Receive(ctx, nil)
				}
				var ce *goamqp.ConnError
				if !errors.As(err, &ce) || condition(ce) != condConnForced {
					t.Fatalf("%s on a forced link: %v (%T), want the connection closed with amqp:connection:forced", role, err, err)
				}
			})
		}
	}
}
