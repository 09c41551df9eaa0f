package raftnet

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSecret = []byte("0123456789abcdef-cluster-secret")

// msg builds a raft message; index tells messages apart in order checks.
func msg(typ raftpb.MessageType, from, to, index uint64) *raftpb.Message {
	return &raftpb.Message{Type: typ.Enum(), From: proto.Uint64(from), To: proto.Uint64(to),
		Term: proto.Uint64(3), Index: proto.Uint64(index)}
}

// inbox collects what a transport's Handler receives.
type inbox struct {
	mu      sync.Mutex
	batches [][]Envelope
	n       int
	changed chan struct{} // capacity 1
}

func newInbox() *inbox { return &inbox{changed: make(chan struct{}, 1)} }

func (b *inbox) handle(envs []Envelope) {
	b.mu.Lock()
	b.batches = append(b.batches, envs)
	b.n += len(envs)
	b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

func (b *inbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *inbox) all() []Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Envelope
	for _, bt := range b.batches {
		out = append(out, bt...)
	}
	return out
}

// waitFor waits until the inbox holds at least n messages.
func (b *inbox) waitFor(t *testing.T, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d messages received", n), func() bool { return b.count() >= n })
}

// eventually polls cond until it holds or a generous deadline passes (the machine is slow
// and shared; the deadline only bounds a failing test).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// node is one transport under test, listening on 127.0.0.<id> and dialling from it.
type node struct {
	t   *Transport
	in  *inbox
	reg *prometheus.Registry
	log *syncBuffer
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

func loopback(id uint64) string { return fmt.Sprintf("127.0.0.%d", id) }

// bindDialer dials from 127.0.0.<id>, so a listener sees which node a connection comes from.
func bindDialer(id uint64) func(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(loopback(id))}}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
}

// newNode creates (but does not start) a transport for id; edit may change its options.
func newNode(t *testing.T, id uint64, edit func(*Options)) *node {
	t.Helper()
	n := &node{in: newInbox(), reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	opts := Options{
		NodeID:     id,
		Addr:       loopback(id) + ":0",
		Secret:     testSecret,
		Handler:    n.in.handle,
		Logger:     slog.New(slog.NewTextHandler(n.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: n.reg,
		Dialer:     bindDialer(id),
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
	}
	if edit != nil {
		edit(&opts)
	}
	tr, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	n.t = tr
	t.Cleanup(func() { tr.Close() })
	return n
}

func (n *node) start(t *testing.T) *node {
	t.Helper()
	if err := n.t.Start(); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) addr() string { return n.t.Addr().String() }

// metric sums the series of a counter whose labels include want.
func (n *node) metric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	families, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelsMatch(m, want) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(want)
}

// envs wraps messages in envelopes of group g.
func envs(g uint64, msgs ...*raftpb.Message) []Envelope {
	out := make([]Envelope, len(msgs))
	for i, m := range msgs {
		out[i] = Envelope{Group: g, Msg: m}
	}
	return out
}
