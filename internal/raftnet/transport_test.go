package raftnet

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-streaming/tandem/internal/faultproxy"
)

// startCluster starts transports for ids on 127.0.0.<id> and tells each about the others.
func startCluster(t *testing.T, ids []uint64, edit func(*Options)) map[uint64]*node {
	t.Helper()
	nodes := map[uint64]*node{}
	for _, id := range ids {
		nodes[id] = newNode(t, id, edit).start(t)
	}
	for _, a := range ids {
		for _, b := range ids {
			if a != b {
				nodes[a].t.SetPeer(b, nodes[b].addr())
			}
		}
	}
	return nodes
}

func TestThreeNodesExchangeBatchesInOrder(t *testing.T) {
	ids := []uint64{1, 2, 3}
	const perPeer, chunk, groups = 3000, 50, 7
	nodes := startCluster(t, ids, func(o *Options) { o.QueueLen = perPeer })
	done := make(chan struct{})
	for _, from := range ids {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < perPeer; i += chunk {
				var batch []Envelope
				for j := i; j < i+chunk; j++ {
					for _, to := range ids {
						if to != from {
							batch = append(batch, Envelope{Group: uint64(j % groups), Msg: msg(raftpb.MsgApp, from, to, uint64(j))})
						}
					}
				}
				nodes[from].t.Send(batch)
			}
		}()
	}
	for range ids {
		<-done
	}
	for _, to := range ids {
		n := nodes[to]
		n.in.waitFor(t, 2*perPeer)
		next := map[uint64]uint64{}
		for _, e := range n.in.all() {
			from := e.Msg.GetFrom()
			if e.Msg.GetTo() != to || e.Msg.GetType() != raftpb.MsgApp {
				t.Fatalf("node %d got %v", to, e.Msg)
			}
			if idx := e.Msg.GetIndex(); idx != next[from] || e.Group != idx%groups {
				t.Fatalf("node %d: from %d got index %d group %d, want index %d group %d", to, from, idx, e.Group, next[from], next[from]%groups)
			}
			next[from]++
		}
		for _, from := range ids {
			if from != to && next[from] != perPeer {
				t.Fatalf("node %d got %d messages from %d, want %d", to, next[from], from, perPeer)
			}
		}
	}
	for _, id := range ids {
		for _, peer := range ids {
			if peer == id {
				continue
			}
			l := map[string]string{"peer": peerLabel(peer)}
			sent := nodes[id].metric(t, "tandem_raftnet_messages_sent_total", l)
			frames := nodes[id].metric(t, "tandem_raftnet_frames_sent_total", l)
			if sent != perPeer || frames < 1 || frames > sent {
				t.Errorf("node %d -> %d: %v messages in %v frames", id, peer, sent, frames)
			}
			if d := nodes[id].metric(t, "tandem_raftnet_messages_dropped_total", l); d != 0 {
				t.Errorf("node %d -> %d: %v dropped", id, peer, d)
			}
		}
	}
}

// Everything queued when the sender wakes goes out as one frame.
func TestQueuedMessagesGoOutAsOneFrame(t *testing.T) {
	b := newNode(t, 2, nil).start(t)
	a := newNode(t, 1, func(o *Options) { o.Peers = map[uint64]string{2: b.addr()} })
	const n = 500
	for i := range n {
		a.t.Send(envs(uint64(i), msg(raftpb.MsgApp, 1, 2, uint64(i))))
	}
	a.start(t)
	b.in.waitFor(t, n)
	b.in.mu.Lock()
	batches := len(b.in.batches)
	b.in.mu.Unlock()
	if batches != 1 {
		t.Fatalf("%d queued messages arrived in %d batches, want 1", n, batches)
	}
	if f := a.metric(t, "tandem_raftnet_frames_sent_total", nil); f != 1 {
		t.Fatalf("frames sent = %v, want 1", f)
	}
}

// A frame never exceeds MaxFrameBytes: a queue larger than one frame goes out as several,
// in order.
func TestFrameCapSplitsBatches(t *testing.T) {
	const maxFrame = 4 << 10
	b := newNode(t, 2, func(o *Options) { o.MaxFrameBytes = maxFrame }).start(t)
	a := newNode(t, 1, func(o *Options) { o.MaxFrameBytes = maxFrame; o.Peers = map[uint64]string{2: b.addr()} })
	const n = 300
	for i := range n {
		m := msg(raftpb.MsgApp, 1, 2, uint64(i))
		m.Entries = []*raftpb.Entry{{Data: make([]byte, 100)}}
		a.t.Send(envs(1, m))
	}
	big := msg(raftpb.MsgApp, 1, 2, 999)
	big.Entries = []*raftpb.Entry{{Data: make([]byte, maxFrame)}}
	a.t.Send(envs(1, big))
	a.start(t)
	b.in.waitFor(t, n)
	for i, e := range b.in.all() {
		if e.Msg.GetIndex() != uint64(i) {
			t.Fatalf("message %d has index %d", i, e.Msg.GetIndex())
		}
	}
	if f := a.metric(t, "tandem_raftnet_frames_sent_total", nil); f < n*100/maxFrame {
		t.Fatalf("%v frames for %d bytes of entries under a %d-byte cap", f, n*100, maxFrame)
	}
	if d := a.metric(t, "tandem_raftnet_messages_dropped_total", map[string]string{"reason": dropTooLarge}); d != 1 {
		t.Fatalf("too_large drops = %v, want 1", d)
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	b := newNode(t, 2, nil).start(t)
	a := newNode(t, 1, func(o *Options) {
		o.Secret = []byte("not-the-cluster-secret!!")
		o.Peers = map[uint64]string{2: b.addr()}
	}).start(t)
	a.t.Send(envs(1, msg(raftpb.MsgHeartbeat, 1, 2, 1)))
	eventually(t, "two refusals", func() bool {
		return b.metric(t, "tandem_raftnet_handshake_failures_total", map[string]string{"side": "accept", "reason": "bad_mac"}) >= 2
	})
	if got := a.metric(t, "tandem_raftnet_handshake_failures_total", map[string]string{"side": "dial", "reason": "refused"}); got < 1 {
		t.Errorf("dialer counted %v refusals", got)
	}
	if !strings.Contains(b.log.String(), "raft connection refused") || !strings.Contains(b.log.String(), "cluster secret") {
		t.Errorf("refusal not logged:\n%s", b.log.String())
	}
	if b.in.count() != 0 {
		t.Fatalf("a node with the wrong secret delivered %d messages", b.in.count())
	}
	if c := a.metric(t, "tandem_raftnet_connects_total", nil); c != 0 {
		t.Fatalf("connects = %v with a wrong secret", c)
	}
}

// A listener with the wrong secret never receives raft traffic: the dialer checks the
// listener's proof before it sends anything.
func TestDialerRefusesListenerWithoutSecret(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	impostor := handshaker{self: 2, secret: []byte("an impostor's secret"), rand: strings.NewReader(strings.Repeat("x", 1000))}
	got := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		fr := newFrameReader(c)
		// Answer like a listener but with a proof made from the wrong secret.
		p, _ := fr.next(handshakeFrameMax)
		hl, _ := decodeHello(p)
		ch := challenge{from: 2}
		c.Write(ch.append(nil))
		fr.next(handshakeFrameMax)
		wel := auth{mac: computeMAC(impostor.secret, labelServer, hl.from, 2, &hl.nonce, &ch.nonce)}
		c.Write(wel.append(nil, kindWelcome))
		_, err = fr.next(DefaultMaxFrameBytes)
		got <- err
	}()
	a := newNode(t, 1, func(o *Options) { o.Peers = map[uint64]string{2: ln.Addr().String()} }).start(t)
	a.t.Send(envs(1, msg(raftpb.MsgApp, 1, 2, 1)))
	if err := <-got; err == nil {
		t.Fatal("the dialer sent a frame to a listener that failed to prove the secret")
	}
	eventually(t, "dial bad_mac counted", func() bool {
		return a.metric(t, "tandem_raftnet_handshake_failures_total", map[string]string{"side": "dial", "reason": "bad_mac"}) >= 1
	})
}

func TestSilentPeerIsDropped(t *testing.T) {
	b := newNode(t, 2, func(o *Options) { o.HandshakeTimeout = 200 * time.Millisecond }).start(t)
	for _, greeting := range []string{"", "GET / HTTP/1.1\r\n\r\n"} {
		c, err := net.Dial("tcp", b.addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(greeting))
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		start := time.Now()
		_, err = io.ReadAll(c)
		c.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("greeting %q: connection still open after %v", greeting, time.Since(start))
		}
	}
	if b.in.count() != 0 {
		t.Fatal("delivered messages from a peer without a handshake")
	}
}

func TestReconnectsThroughFaultProxy(t *testing.T) {
	b := newNode(t, 2, nil).start(t)
	proxy, err := faultproxy.New("127.0.0.1:0", b.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	a := newNode(t, 1, func(o *Options) {
		o.Peers = map[uint64]string{2: proxy.Addr()}
		o.Dialer = nil // the proxy only dials loopback; the default dialer is enough
	}).start(t)

	// sendUntil sends fresh messages until b has received want of them.
	index := uint64(0)
	sendUntil := func(want int) {
		eventually(t, "delivery", func() bool {
			index++
			a.t.Send(envs(1, msg(raftpb.MsgApp, 1, 2, index)))
			return b.in.count() >= want
		})
	}
	sendUntil(1)
	proxy.Cut()
	eventually(t, "connection lost", func() bool {
		index++
		a.t.Send(envs(1, msg(raftpb.MsgApp, 1, 2, index)))
		return strings.Contains(a.log.String(), "raft connection to peer lost")
	})
	before := b.in.count()
	proxy.Heal()
	sendUntil(before + 10)
	if c := a.metric(t, "tandem_raftnet_connects_total", nil); c < 2 {
		t.Fatalf("connects = %v, want a reconnect", c)
	}
	last := uint64(0)
	for _, e := range b.in.all() {
		if e.Msg.GetIndex() <= last {
			t.Fatalf("index %d after %d: reordered across the reconnect", e.Msg.GetIndex(), last)
		}
		last = e.Msg.GetIndex()
	}
}

func TestDeadPeerDoesNotBlockALivePeer(t *testing.T) {
	live := newNode(t, 2, nil).start(t)
	// Node 3 accepts TCP but never answers: its handshakes time out and its queue fills.
	dead, err := faultproxy.New("127.0.0.1:0", live.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	dead.Blackhole(true)
	const queueLen, total = 64, 2000
	a := newNode(t, 1, func(o *Options) {
		o.QueueLen = queueLen
		o.HandshakeTimeout = time.Second
		o.Dialer = nil
		o.Peers = map[uint64]string{2: live.addr(), 3: dead.Addr()}
	}).start(t)
	for i := range total {
		a.t.Send(append(envs(1, msg(raftpb.MsgApp, 1, 2, uint64(i))), envs(1, msg(raftpb.MsgApp, 1, 3, uint64(i)))...))
		if i%(queueLen/2) == 0 {
			live.in.waitFor(t, i+1) // keep the live peer's queue from filling
		}
	}
	live.in.waitFor(t, total)
	drops := a.metric(t, "tandem_raftnet_messages_dropped_total", map[string]string{"peer": "3", "reason": dropQueueFull})
	if drops < total-queueLen {
		t.Fatalf("dead peer: %v drops counted, want at least %d", drops, total-queueLen)
	}
	if d := a.metric(t, "tandem_raftnet_messages_dropped_total", map[string]string{"peer": "2"}); d != 0 {
		t.Fatalf("live peer: %v drops", d)
	}
}

// With a queue full of MsgApp, a heartbeat and a vote still go out, ahead of them.
func TestVotesAndHeartbeatsGoFirst(t *testing.T) {
	b := newNode(t, 2, nil).start(t)
	const queueLen = 100
	a := newNode(t, 1, func(o *Options) { o.QueueLen = queueLen; o.Peers = map[uint64]string{2: b.addr()} })
	for i := range queueLen + 10 {
		a.t.Send(envs(1, msg(raftpb.MsgApp, 1, 2, uint64(i))))
	}
	a.t.Send(envs(7, msg(raftpb.MsgHeartbeat, 1, 2, 1000), msg(raftpb.MsgPreVote, 1, 2, 1001)))
	if d := a.metric(t, "tandem_raftnet_messages_dropped_total", map[string]string{"reason": dropQueueFull}); d != 10 {
		t.Fatalf("queue_full drops = %v, want 10", d)
	}
	a.start(t)
	b.in.waitFor(t, queueLen+2)
	got := b.in.all()
	if got[0].Msg.GetType() != raftpb.MsgHeartbeat || got[1].Msg.GetType() != raftpb.MsgPreVote || got[0].Group != 7 {
		t.Fatalf("first messages are %v, %v; want the heartbeat and the pre-vote", got[0].Msg.GetType(), got[1].Msg.GetType())
	}
	for i, e := range got[2:] {
		if e.Msg.GetType() != raftpb.MsgApp || e.Msg.GetIndex() != uint64(i) {
			t.Fatalf("message %d: %v index %d", i+2, e.Msg.GetType(), e.Msg.GetIndex())
		}
	}
}

// Messages whose From or To do not match the authenticated link are dropped, so one node
// cannot speak for another.
func TestMessagesMustMatchTheLink(t *testing.T) {
	b := newNode(t, 2, nil).start(t)
	a := newNode(t, 1, func(o *Options) { o.Peers = map[uint64]string{2: b.addr()} })
	a.t.Send(envs(1, msg(raftpb.MsgApp, 3, 2, 1), msg(raftpb.MsgApp, 1, 2, 2)))
	a.start(t)
	b.in.waitFor(t, 1)
	eventually(t, "invalid counted", func() bool {
		return b.metric(t, "tandem_raftnet_messages_dropped_total", map[string]string{"peer": "1", "reason": dropInvalid}) == 1
	})
	if got := b.in.all(); len(got) != 1 || got[0].Msg.GetIndex() != 2 {
		t.Fatalf("got %v", got)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	ok := Options{NodeID: 1, Secret: testSecret, Handler: func([]Envelope) {}}
	for name, edit := range map[string]func(*Options){
		"zero id":      func(o *Options) { o.NodeID = 0 },
		"short secret": func(o *Options) { o.Secret = []byte("short") },
		"no handler":   func(o *Options) { o.Handler = nil },
		"half tls":     func(o *Options) { o.ServerTLS = testTLS(t, newTestCA(t), 1).server },
		"tiny frames":  func(o *Options) { o.MaxFrameBytes = 100 },
	} {
		o := ok
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
}

// SetPeer with a new address moves the link: the old connection is closed and the sender
// dials the new address. RemovePeer stops sending.
func TestSetPeerMovesTheLink(t *testing.T) {
	old := newNode(t, 2, nil).start(t)
	a := newNode(t, 1, func(o *Options) { o.Peers = map[uint64]string{2: old.addr()} }).start(t)
	a.t.Send(envs(1, msg(raftpb.MsgApp, 1, 2, 1)))
	old.in.waitFor(t, 1)
	moved := newNode(t, 2, func(o *Options) { o.Addr = "127.0.0.4:0" }).start(t)
	a.t.SetPeer(2, moved.addr())
	index := uint64(1)
	eventually(t, "delivery to the new address", func() bool {
		index++
		a.t.Send(envs(1, msg(raftpb.MsgApp, 1, 2, index)))
		return moved.in.count() > 0
	})
	a.t.RemovePeer(2)
	a.t.Send(envs(1, msg(raftpb.MsgApp, 1, 2, 0)))
	if d := a.metric(t, "tandem_raftnet_messages_dropped_total", map[string]string{"reason": dropUnknownPeer}); d != 1 {
		t.Fatalf("unknown_peer drops = %v after RemovePeer", d)
	}
}

// TestHeartbeatsArriveExactly: over a real link, plain heartbeats and responses (compact on
// the wire) and heartbeats with a ReadIndex context (protobuf) reach the handler exactly as
// raft sent them, in order, and the compact ones cost a few bytes each.
func TestHeartbeatsArriveExactly(t *testing.T) {
	nodes := startCluster(t, []uint64{1, 2}, nil)
	withCtx := heartbeat(1, 2, 7, 3)
	withCtx.Context = []byte("read-index-ctx")
	respCtx := heartbeatResp(1, 2, 7)
	respCtx.Context = []byte("read-index-ctx")
	var sent []Envelope
	for g := uint64(1); g <= 500; g++ {
		sent = append(sent, Envelope{Group: g << 20, Msg: heartbeat(1, 2, g, g*3)},
			Envelope{Group: g << 20, Msg: heartbeatResp(1, 2, g)})
	}
	sent = append(sent, Envelope{Group: 9, Msg: withCtx}, Envelope{Group: 9, Msg: respCtx})
	nodes[1].t.Send(sent)
	n2 := nodes[2]
	n2.in.waitFor(t, len(sent))
	got := n2.in.all()
	if len(got) != len(sent) {
		t.Fatalf("%d messages, want %d", len(got), len(sent))
	}
	for i := range sent {
		if got[i].Group != sent[i].Group || !proto.Equal(got[i].Msg, sent[i].Msg) {
			t.Fatalf("message %d: got %v in group %d, want %v in group %d", i, got[i].Msg, got[i].Group, sent[i].Msg, sent[i].Group)
		}
	}
	// 1000 compact heartbeats: group (3 bytes), tag, a few bytes of term and commit each.
	if b := nodes[1].metric(t, "tandem_raftnet_bytes_sent_total", map[string]string{"peer": "2"}); b > 10000 {
		t.Fatalf("%v bytes on the wire for 1002 heartbeats", b)
	}
}
