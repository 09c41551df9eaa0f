package multiraft

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPropose3Nodes: three hosts in one process (loopback transport,
// in-memory log store, no fsync), 64 groups, 1 KiB proposals from 256
// concurrent proposers. It measures the host's overhead, not a disk.
func BenchmarkPropose3Nodes(b *testing.B) {
	const groups = 64
	peers := []uint64{1, 2, 3}
	net := &loopNet{hosts: map[uint64]*Host{}}
	stores := map[uint64]*MemLogStore{}
	for _, id := range peers {
		stores[id] = NewMemLogStore()
		h, err := New(Options{NodeID: id, LogStore: stores[id], Transport: loopTransport{net},
			TickInterval: 10 * time.Millisecond, SnapshotEntries: 5000})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		net.mu.Lock()
		net.hosts[id] = h
		net.mu.Unlock()
		for g := uint64(1); g <= groups; g++ {
			if err := h.AddGroup(g, peers, &listSM{data: map[uint64]string{}}, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	leaderOf := func(g uint64) *Host {
		for _, id := range peers {
			if net.hosts[id].Confirmed(g) {
				return net.hosts[id]
			}
		}
		return nil
	}
	for g := uint64(1); g <= groups; g++ {
		for leaderOf(g) == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	data := make([]byte, 1024)
	var next atomic.Int64
	saves0 := stores[1].Saves() + stores[2].Saves() + stores[3].Saves()
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 256 {
		wg.Go(func() {
			g := uint64(w%groups) + 1
			for next.Add(1) <= int64(b.N) {
				l := leaderOf(g)
				if l == nil {
					continue
				}
				if _, err := l.Propose(context.Background(), g, data); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	saves := stores[1].Saves() + stores[2].Saves() + stores[3].Saves() - saves0
	b.ReportMetric(float64(b.N)/el.Seconds(), "proposals/s")
	b.ReportMetric(float64(saves)/float64(b.N), "saves/proposal")
}
