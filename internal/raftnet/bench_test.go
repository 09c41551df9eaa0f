package raftnet

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkSend measures one-way throughput over loopback TCP: MsgApp messages carrying one
// entry of size bytes, sent in runs of 64 (one Ready's worth), across 16 raft groups.
//
//	go test -run XXX -bench Send -benchtime 100000x ./internal/raftnet/
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{100, 1 << 10, 16 << 10} {
		for _, tlsOn := range []bool{false, true} {
			b.Run(fmt.Sprintf("entry=%d/tls=%v", size, tlsOn), func(b *testing.B) { benchSend(b, size, tlsOn) })
		}
	}
}

func benchSend(b *testing.B, size int, tlsOn bool) {
	t := &testing.T{}
	var pa, pb tlsPair
	if tlsOn {
		ca := newTestCA(t)
		pa, pb = testTLS(t, ca, 1), testTLS(t, ca, 2)
	}
	recv := newInbox()
	opts := func(id uint64, p tlsPair) Options {
		o := Options{NodeID: id, Addr: loopback(id) + ":0", Secret: testSecret, Handler: func([]Envelope) {},
			Dialer: bindDialer(id), QueueLen: 1 << 14}
		if tlsOn {
			o.ServerTLS, o.ClientTLS = p.server, p.client
		}
		return o
	}
	ob := opts(2, pb)
	ob.Handler = recv.handle
	tb, err := New(ob)
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	if err := tb.Start(); err != nil {
		b.Fatal(err)
	}
	oa := opts(1, pa)
	oa.Peers = map[uint64]string{2: tb.Addr().String()}
	ta, err := New(oa)
	if err != nil {
		b.Fatal(err)
	}
	defer ta.Close()
	if err := ta.Start(); err != nil {
		b.Fatal(err)
	}
	const run = 64
	batch := make([]Envelope, run)
	for i := range batch {
		m := msg(raftpb.MsgApp, 1, 2, uint64(i))
		m.Entries = []*raftpb.Entry{{Data: make([]byte, size)}}
		batch[i] = Envelope{Group: uint64(i % 16), Msg: m}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		ta.Send(batch)
		sent += run
		// Keep at most 4096 messages or 8 MiB in flight so the queue never drops (raft's
		// MaxInflightMsgs and MaxInflightBytes do the same).
		for sent-recv.count() > min(4096, max(run, 8<<20/size)) {
			<-recv.changed
		}
	}
	for recv.count() < sent {
		<-recv.changed
	}
	b.StopTimer()
	b.ReportMetric(float64(recv.count())/b.Elapsed().Seconds(), "msgs/s")
}
