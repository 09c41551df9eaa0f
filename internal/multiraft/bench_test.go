package multiraft

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
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

// countTransport counts what passes through to the loopback network.
type countTransport struct {
	loopTransport
	msgs *atomic.Int64
}

func (t countTransport) Send(envs []Envelope) {
	t.msgs.Add(int64(len(envs)))
	t.loopTransport.Send(envs)
}

// BenchmarkIdleHosts: three hosts in one process (loopback transport, in-memory log store),
// the production tick (100 ms), nothing proposed. It reports the process CPU per second of
// wall time and the raft messages per second, to separate the cost of ticking groups and
// stepping their heartbeats from the network's (internal/cluster's BenchmarkIdle has real
// TCP and WALs). Use -benchtime 1x: each iteration is a 5 s window.
func BenchmarkIdleHosts(b *testing.B) {
	for _, bc := range []struct{ groups, heartbeatTick int }{{400, 1}, {400, 3}, {1200, 1}} {
		b.Run(fmt.Sprintf("groups=%d/heartbeat=%d", bc.groups, bc.heartbeatTick), func(b *testing.B) {
			peers := []uint64{1, 2, 3}
			net := &loopNet{hosts: map[uint64]*Host{}}
			var msgs atomic.Int64
			var hosts []*Host
			for _, id := range peers {
				h, err := New(Options{NodeID: id, LogStore: NewMemLogStore(),
					Transport: countTransport{loopTransport{net}, &msgs}, HeartbeatTick: bc.heartbeatTick})
				if err != nil {
					b.Fatal(err)
				}
				defer h.Close()
				net.mu.Lock()
				net.hosts[id] = h
				net.mu.Unlock()
				hosts = append(hosts, h)
				for g := uint64(1); g <= uint64(bc.groups); g++ {
					if err := h.AddGroup(g, peers, &listSM{data: map[uint64]string{}}, false); err != nil {
						b.Fatal(err)
					}
				}
			}
			for g := uint64(1); g <= uint64(bc.groups); g++ {
				for !hosts[0].Confirmed(g) && !hosts[1].Confirmed(g) && !hosts[2].Confirmed(g) {
					time.Sleep(20 * time.Millisecond)
				}
			}
			time.Sleep(time.Second)
			b.ResetTimer()
			for range b.N {
				m0, cpu0, t0 := msgs.Load(), processCPU(), time.Now()
				time.Sleep(5 * time.Second)
				el := time.Since(t0).Seconds()
				b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/el, "cpu-ms/s")
				b.ReportMetric(float64(msgs.Load()-m0)/el, "msgs/s")
			}
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
