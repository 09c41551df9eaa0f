package kafka_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/kafka"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// limited is a broker with a Kafka listener built from test options, its metrics and its
// log kept for assertions.
type limited struct {
	b    *broker.Broker
	srv  *kafka.Server
	addr string
	reg  *prometheus.Registry
	logs *syncBuffer
	done chan error
}

// startLimited starts a listener with opts (Broker, Logger and Registerer are filled in);
// ln, when set, is the listener to serve on.
func startLimited(t *testing.T, dev bool, opts kafka.Options, ln net.Listener) *limited {
	t.Helper()
	b, err := broker.Open(context.Background(), broker.Options{
		DataDir: t.TempDir(), Dev: dev, Logger: quietLogger(),
		Fsync: seglog.FsyncPolicy{Mode: seglog.FsyncInterval, Interval: 2e6},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	l := &limited{b: b, addr: ln.Addr().String(), reg: prometheus.NewRegistry(), logs: &syncBuffer{}, done: make(chan error, 1)}
	opts.Broker, opts.Dev, opts.Registerer = b, dev, l.reg
	opts.Logger = slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l.srv = kafka.New(ln, opts)
	go func() { l.done <- l.srv.Serve() }()
	t.Cleanup(func() {
		l.srv.Close()
		select {
		case err := <-l.done:
			if err != nil {
				t.Errorf("Serve returned %v after Close, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return after Close")
		}
		b.Close()
	})
	return l
}

// metric returns the value of a counter or gauge, summed over the series whose labels
// include every given name=value pair.
func (l *limited) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := l.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// waitMetric waits until a metric (as metric sums it) reaches want: connections are
// counted just after they are closed.
func (l *limited) waitMetric(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	var got float64
	deadline := time.Now().Add(30 * time.Second)
	for got = l.metric(t, name, labels...); got != want && time.Now().Before(deadline); got = l.metric(t, name, labels...) {
		time.Sleep(20 * time.Millisecond)
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *limited) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(l.addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) count(substr string) int { return strings.Count(s.String(), substr) }

// rawConn speaks the Kafka framing by hand, to send what no real client would.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

// send writes req as one frame and returns its correlation id.
func (rc *rawConn) send(req kmsg.Request) int32 {
	rc.t.Helper()
	rc.corr++
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(rc.corr))
	b = binary.BigEndian.AppendUint16(b, 3)
	b = append(b, "raw"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	rc.write(b)
	return rc.corr
}

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	rc.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatalf("writing %d bytes: %v", len(b), err)
	}
}

// recv reads one response to req.
func (rc *rawConn) recv(req kmsg.Request) (kmsg.Response, error) {
	rc.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(rc.nc, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(rc.nc, frame); err != nil {
		return nil, err
	}
	resp := req.ResponseKind()
	rd := kbin.Reader{Src: frame[4:]}
	if resp.IsFlexible() && req.Key() != 18 {
		kmsg.SkipTags(&rd)
	}
	return resp, resp.ReadFrom(rd.Src)
}

// closedByServer reports whether the server closes the connection within 30 seconds,
// discarding anything it sends first.
func (rc *rawConn) closedByServer() bool {
	rc.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, rc.nc)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// saslPlain runs the SASL PLAIN exchange (handshake v1, authenticate v2) and returns the
// authentication response.
func (rc *rawConn) saslPlain(user, pass string) *kmsg.SASLAuthenticateResponse {
	rc.t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	rc.send(hs)
	if resp, err := rc.recv(hs); err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
		rc.t.Fatalf("SASL handshake: %v %+v", err, resp)
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version = 2
	au.SASLAuthBytes = []byte("\x00" + user + "\x00" + pass)
	rc.send(au)
	resp, err := rc.recv(au)
	if err != nil {
		rc.t.Fatalf("SASL authenticate: no answer: %v", err)
	}
	return resp.(*kmsg.SASLAuthenticateResponse)
}

// claimFrame sends a frame header claiming size bytes, then body bytes of it.
func (rc *rawConn) claimFrame(size uint32, body int) {
	rc.t.Helper()
	b := binary.BigEndian.AppendUint32(nil, size)
	rc.write(append(b, make([]byte, body)...))
}
