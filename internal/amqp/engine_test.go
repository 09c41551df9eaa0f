package amqp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

func TestSASL(t *testing.T) {
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
			h := newTestHandler()
			_, addr := startServer(t, Options{Handler: h})
			c := dial(t, addr, &goamqp.ConnOptions{SASLType: tc.sasl, HostName: "localhost:5672", ContainerID: "client-1"})
			// A round trip proves the connection is usable after the handshake.
			roundTrip(t, c, "echo/sasl", []byte("hello"))
			info := h.lastInfo()
			if info.SASLMechanism != tc.mech || info.SASLUser != tc.user || info.SASLPassword != tc.pw {
				t.Errorf("ConnInfo SASL = %q %q %q, want %q %q %q", info.SASLMechanism, info.SASLUser, info.SASLPassword, tc.mech, tc.user, tc.pw)
			}
			if info.Hostname != "localhost:5672" || info.ContainerID != "client-1" || info.TLS || info.RemoteAddr == nil {
				t.Errorf("ConnInfo = %+v", info)
			}
		})
	}
}

// roundTrip sends payload to addr and receives it back from the same address.
func roundTrip(t *testing.T, c *goamqp.Conn, addr string, payload []byte) {
	t.Helper()
	ctx := testCtx(t)
	s := beginSession(t, c)
	snd, err := s.NewSender(ctx, addr, nil)
	if err != nil {
		t.Fatalf("sender attach: %v", err)
	}
	rcv, err := s.NewReceiver(ctx, addr, &goamqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatalf("receiver attach: %v", err)
	}
	if err := snd.Send(ctx, goamqp.NewMessage(payload), nil); err != nil {
		t.Fatalf("send: %v", err)
	}
	m, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if !bytes.Equal(m.GetData(), payload) {
		t.Fatalf("received %d bytes, want the %d sent", len(m.GetData()), len(payload))
	}
	snd.Close(ctx)
	rcv.Close(ctx)
	s.Close(ctx)
}

func TestRoundTripAndClose(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	roundTrip(t, c, "echo/a", []byte("one"))
	roundTrip(t, c, "echo/a", nil)
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// 2 links per round trip and the connection: every handler object is closed.
	waitFor(t, "every handler link and the connection closed", func() bool { return h.closed.Load() == 5 })
}

// TestMultiFrame sends and receives a 1 MiB message with 64 KiB frames both ways.
func TestMultiFrame(t *testing.T) {
	h := newTestHandler()
	reg := prometheus.NewRegistry()
	srv, addr := startServer(t, Options{Handler: h, Registerer: reg})
	c := dial(t, addr, nil)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	roundTrip(t, c, "echo/big", payload)
	in, out := testutil.ToFloat64(srv.metrics.framesIn), testutil.ToFloat64(srv.metrics.framesOut)
	if in < 16 || out < 16 {
		t.Errorf("frames in %v, out %v: a 1 MiB message must take at least 16 frames of 64 KiB each way", in, out)
	}
}

// TestSettleModesEchoed: go-amqp fails the attach when a requested mode is not echoed.
func TestSettleModesEchoed(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	for _, ssm := range []goamqp.SenderSettleMode{goamqp.SenderSettleModeUnsettled, goamqp.SenderSettleModeSettled, goamqp.SenderSettleModeMixed} {
		for _, rsm := range []goamqp.ReceiverSettleMode{goamqp.ReceiverSettleModeFirst, goamqp.ReceiverSettleModeSecond} {
			name := fmt.Sprintf("ssm%d-rsm%d", ssm, rsm)
			snd, err := s.NewSender(ctx, "echo/modes", &goamqp.SenderOptions{SettlementMode: &ssm, RequestedReceiverSettleMode: &rsm, Name: "s-" + name})
			if err != nil {
				t.Fatalf("%s: sender attach: %v", name, err)
			}
			if err := snd.Send(ctx, goamqp.NewMessage([]byte(name)), nil); err != nil {
				t.Fatalf("%s: send: %v", name, err)
			}
			snd.Close(ctx)
			rcv, err := s.NewReceiver(ctx, "echo/modes", &goamqp.ReceiverOptions{SettlementMode: &rsm, RequestedSenderSettleMode: &ssm, Name: "r-" + name, Credit: 1})
			if err != nil {
				t.Fatalf("%s: receiver attach: %v", name, err)
			}
			if m, err := rcv.Receive(ctx, nil); err != nil || string(m.GetData()) != name {
				t.Fatalf("%s: receive: %v", name, err)
			}
			rcv.Close(ctx)
		}
	}
}

// TestSessionWindowRefreshed sends more messages on one session than the session's
// incoming-window: go-amqp stops sending when the window it computed reaches 0, so the
// server must refresh it with session flows. The link credit is larger than the run, so no
// link flow refreshes the window on the side.
func TestSessionWindowRefreshed(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h, MaxCredit: 20000})
	c := dial(t, addr, nil)
	// Without the window's refresh the sends stall at the window: fail well before the
	// test binary's own timeout.
	ctx, cancel := context.WithTimeout(testCtx(t), 30*time.Second)
	defer cancel()
	s := beginSession(t, c)
	snd, err := s.NewSender(ctx, "echo/window", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = DefaultSessionWindow + 500
	for i := range n {
		if err := snd.Send(ctx, goamqp.NewMessage([]byte{byte(i)}), nil); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if got := len(h.queue("echo/window").ch); got != n {
		t.Fatalf("handler got %d messages, want %d", got, n)
	}
}

// TestCreditRespected: a receiver with manual credit gets exactly what it granted; a drain
// ends with no more deliveries than the credit.
func TestCreditRespected(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	q := h.queue("echo/credit")
	for i := range 50 {
		q.ch <- mustMarshal(t, []byte{byte(i)})
	}
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	rcv, err := s.NewReceiver(ctx, "echo/credit", &goamqp.ReceiverOptions{Credit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.IssueCredit(3); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m, err := rcv.Receive(ctx, nil)
		if err != nil || m.GetData()[0] != byte(i) {
			t.Fatalf("receive %d: %v", i, err)
		}
	}
	if err := rcv.DrainCredit(ctx, nil); err != nil {
		t.Fatalf("drain: %v", err)
	}
	// Everything the server sent before its drain answer has arrived by now.
	if m := rcv.Prefetched(); m != nil {
		t.Fatalf("a delivery beyond the credit of 3 arrived: %q", m.GetData())
	}
	if got := h.nexts.Load(); got != 3 {
		t.Fatalf("the handler gave %d deliveries for a credit of 3", got)
	}
	if got := h.maxAsk.Load(); got > 3 {
		t.Fatalf("Next was asked for %d deliveries with a credit of 3", got)
	}
	// Credit given again is used again; an auto-credit receiver gets the rest.
	rcv.Close(ctx)
	rcv2, err := s.NewReceiver(ctx, "echo/credit", &goamqp.ReceiverOptions{Credit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 50; i++ {
		m, err := rcv2.Receive(ctx, nil)
		if err != nil || m.GetData()[0] != byte(i) {
			t.Fatalf("receive %d: %v", i, err)
		}
	}
	if got := h.maxAsk.Load(); got > 5 {
		t.Fatalf("Next was asked for %d deliveries with a credit of 5", got)
	}
}

func mustMarshal(t *testing.T, payload []byte) []byte {
	b, err := goamqp.NewMessage(payload).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHeartbeats: with idle time-outs of 2s on both sides, an idle connection stays up for
// several of them, because both sides send empty frames (ours at most 0.5s apart: go-amqp
// advertises half its time-out).
func TestHeartbeats(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h, IdleTimeout: 2 * time.Second})
	c := dial(t, addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous(), IdleTimeout: 2 * time.Second})
	ctx := testCtx(t)
	s := beginSession(t, c)
	rcv, err := s.NewReceiver(ctx, "echo/idle", &goamqp.ReceiverOptions{Credit: 1})
	if err != nil {
		t.Fatal(err)
	}
	idle, cancel := context.WithTimeout(ctx, 6*time.Second)
	_, err = rcv.Receive(idle, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an idle receive ended with %v, want the caller's deadline", err)
	}
	roundTrip(t, c, "echo/idle2", []byte("still here"))
}

func TestAttachRefused(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	_, err := s.NewSender(ctx, "refuse", nil)
	if condition(err) != "amqp:not-found" {
		t.Fatalf("attach to a refused target: %v, want amqp:not-found", err)
	}
	_, err = s.NewReceiver(ctx, "nowhere", nil)
	if condition(err) != "amqp:not-found" {
		t.Fatalf("attach to a refused source: %v, want amqp:not-found", err)
	}
	// The session is still usable.
	snd, err := s.NewSender(ctx, "echo/after", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, goamqp.NewMessage([]byte("x")), nil); err != nil {
		t.Fatal(err)
	}
}

func TestOutgoingErrorDetaches(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	rcv, err := s.NewReceiver(ctx, "stolen", &goamqp.ReceiverOptions{Credit: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rcv.Receive(ctx, nil)
	if condition(err) != "amqp:link:stolen" {
		t.Fatalf("receive: %v, want amqp:link:stolen", err)
	}
}

func TestConnectRefused(t *testing.T) {
	h := newTestHandler()
	h.refuseConn = &frames.Error{Condition: "amqp:unauthorized-access", Description: "no"}
	_, addr := startServer(t, Options{Handler: h})
	c, err := goamqp.Dial(testCtx(t), "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()})
	if err == nil {
		// go-amqp returns from Dial after the open; the close follows.
		_, err = c.NewSession(testCtx(t), nil)
		c.Close()
	}
	if err == nil {
		t.Fatal("a refused connection could begin a session")
	}
	if condition(err) != "amqp:unauthorized-access" {
		t.Fatalf("refused connection: %v, want amqp:unauthorized-access", err)
	}
}

// TestReplyRouting: a request's reply goes to the reply link whose target is its reply-to.
func TestReplyRouting(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	rcvA, err := s.NewReceiver(ctx, "rpc", &goamqp.ReceiverOptions{TargetAddress: "$cbs$$cbs-reply-to-a", Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	rcvB, err := s.NewReceiver(ctx, "rpc", &goamqp.ReceiverOptions{TargetAddress: "reply-b", Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctx, "rpc", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to  string
		rcv *goamqp.Receiver
	}{{"reply-b", rcvB}, {"$cbs$$cbs-reply-to-a", rcvA}} {
		m := goamqp.NewMessage([]byte("for " + tc.to))
		to := tc.to
		m.Properties = &goamqp.MessageProperties{ReplyTo: &to}
		if err := snd.Send(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		got, err := tc.rcv.Receive(ctx, nil)
		if err != nil || string(got.GetData()) != "for "+tc.to {
			t.Fatalf("reply to %s: %v %q", tc.to, err, got.GetData())
		}
	}
}

func TestConnectionCaps(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Options{Handler: h, MaxConnectionsPerIP: 1})
	c := dial(t, addr, nil)
	_, err := goamqp.Dial(testCtx(t), "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()})
	if err == nil {
		t.Fatal("a second connection from one address was accepted with MaxConnectionsPerIP 1")
	}
	if got := testutil.ToFloat64(srv.metrics.refused.WithLabelValues("max_connections_per_ip")); got != 1 {
		t.Errorf("refused max_connections_per_ip = %v, want 1", got)
	}
	roundTrip(t, c, "echo/cap", []byte("x"))
}

// TestServerCloseEndsConnections: Close sends close to every client and waits for every
// goroutine (goleak checks the rest).
func TestServerCloseEndsConnections(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	rcv, err := s.NewReceiver(ctx, "echo/parked", &goamqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := rcv.Receive(ctx, nil); done <- err }()
	srv.Close()
	err = <-done
	if condition(err) != condConnForced {
		t.Logf("receive after server close: %v", err)
	}
	if err == nil {
		t.Fatal("a receive survived the server's close")
	}
}

// TestDrainWhileWaiting: a drain while the handler has nothing (Next is waiting) ends at
// once with the credit used up; credit given afterwards works again.
func TestDrainWhileWaiting(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	rcv, err := s.NewReceiver(ctx, "echo/drain", &goamqp.ReceiverOptions{Credit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.IssueCredit(5); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the handler's Next to wait with the credit of 5", func() bool { return h.maxAsk.Load() == 5 })
	if err := rcv.DrainCredit(ctx, nil); err != nil {
		t.Fatalf("drain with nothing to send: %v", err)
	}
	h.queue("echo/drain").ch <- mustMarshal(t, []byte("after"))
	if err := rcv.IssueCredit(1); err != nil {
		t.Fatal(err)
	}
	m, err := rcv.Receive(ctx, nil)
	if err != nil || string(m.GetData()) != "after" {
		t.Fatalf("receive after a drain: %v", err)
	}
}

// TestReplyEdgeCases: a reply to an address no reply link has is dropped (the request is
// still accepted); a full reply queue rejects the request with amqp:resource-limit-exceeded.
func TestReplyEdgeCases(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	snd, err := s.NewSender(ctx, "rpc", nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(to string) error {
		m := goamqp.NewMessage([]byte("q"))
		m.Properties = &goamqp.MessageProperties{ReplyTo: &to}
		return snd.Send(ctx, m, nil)
	}
	if err := send("nobody"); err != nil {
		t.Fatalf("a request whose reply-to has no link: %v", err)
	}
	// A reply link without credit keeps its replies queued until the queue is full.
	if _, err := s.NewReceiver(ctx, "rpc", &goamqp.ReceiverOptions{TargetAddress: "slow", Credit: -1}); err != nil {
		t.Fatal(err)
	}
	for i := range DefaultReplyQueue {
		if err := send("slow"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := send("slow"); condition(err) != condResourceLimit {
		t.Fatalf("a request with a full reply queue: %v, want %s", err, condResourceLimit)
	}
}

// TestLinkChurn: links attached and detached many times on one connection leave nothing
// behind: every handler link is closed and no goroutine accumulates.
func TestLinkChurn(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	before := runtime.NumGoroutine()
	const rounds = 200
	for i := range rounds {
		snd, err := s.NewSender(ctx, "echo/churn", nil)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if err := snd.Send(ctx, goamqp.NewMessage([]byte{byte(i)}), nil); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		snd.Close(ctx)
		rcv, err := s.NewReceiver(ctx, "echo/churn", &goamqp.ReceiverOptions{Credit: 1})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if m, err := rcv.Receive(ctx, nil); err != nil || m.GetData()[0] != byte(i) {
			t.Fatalf("round %d: %v", i, err)
		}
		rcv.Close(ctx)
	}
	waitFor(t, "every handler link closed", func() bool { return h.closed.Load() == 2*rounds })
	waitFor(t, "the link goroutines to end", func() bool { return runtime.NumGoroutine() <= before+5 })
}
