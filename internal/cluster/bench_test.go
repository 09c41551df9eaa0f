package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// These benchmarks measure the cost of many raft groups on one 3-node
// cluster in one process: three Nodes on 127.0.0.1/2/3 with real WALs
// (fsync) in temp dirs and real TCP, the production tick (100 ms).
//
//	go test ./internal/cluster -run '^$' -bench Idle -benchtime 1x      # a 5 s window each
//	go test ./internal/cluster -run '^$' -bench Load -benchtime 20000x  # 20000 proposals each
//
// BenchmarkIdle reports, for a fixed wall window with nothing proposed, the
// process CPU per second of wall time, goroutines, heap in use and raft
// traffic (all three nodes together). BenchmarkLoad reports proposals/s,
// MB/s, WAL fsyncs/s and the Propose latency of 1 KiB proposals spread over
// the groups from 64 goroutines. The layouts are 1 hub × 256 partitions and 100 hubs × 4
// partitions (one raft group per partition, 3 replicas each).

// counterSM is a trivial state machine: the applied index.
type counterSM struct{ applied atomic.Uint64 }

func (s *counterSM) Applied() uint64 { return s.applied.Load() }

func (s *counterSM) Apply(ents []multiraft.Entry) error {
	s.applied.Store(ents[len(ents)-1].Index)
	return nil
}

func (s *counterSM) Snapshot() ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, s.applied.Load()), nil
}

func (s *counterSM) Restore(snap *raftpb.Snapshot) error {
	s.applied.Store(snap.GetMetadata().GetIndex())
	return nil
}

// benchCluster is three started nodes hosting groups 1..n each.
type benchCluster struct {
	nodes  []*Node
	regs   []*prometheus.Registry
	groups []uint64
}

// layout is hubs × partitions raft groups (one group per partition).
type layout struct{ hubs, partitions int }

func (l layout) String() string { return fmt.Sprintf("hubs=%dx%d", l.hubs, l.partitions) }

func startBenchCluster(b *testing.B, lay layout) *benchCluster {
	b.Helper()
	port := freePortB(b)
	spec := fmt.Sprintf("1=a@127.0.0.1:%d,2=b@127.0.0.2:%d,3=c@127.0.0.3:%d", port, port, port)
	bc := &benchCluster{}
	for h := range lay.hubs {
		for p := range lay.partitions {
			id, err := GroupID(uint64(h+1), p)
			if err != nil {
				b.Fatal(err)
			}
			bc.groups = append(bc.groups, id)
		}
	}
	for i := range 3 {
		cfg, _, err := ParseConfig(uint64(i+1), "", spec, secret)
		if err != nil {
			b.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		n, err := Open(context.Background(), Options{Config: cfg, DataDir: b.TempDir(), Registerer: reg})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = n.Close() })
		for _, g := range bc.groups {
			if err := n.AddGroup(g, []uint64{1, 2, 3}, &counterSM{}, false); err != nil {
				b.Fatal(err)
			}
		}
		bc.nodes, bc.regs = append(bc.nodes, n), append(bc.regs, reg)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, g := range bc.groups {
		for bc.leader(g) == nil {
			if time.Now().After(deadline) {
				b.Fatalf("group %d has no confirmed leader", g)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return bc
}

func freePortB(b *testing.B) int {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (bc *benchCluster) leader(g uint64) *Node {
	for _, n := range bc.nodes {
		if n.Confirmed(g) {
			return n
		}
	}
	return nil
}

// traffic sums a raftnet counter over the three nodes.
func (bc *benchCluster) traffic(name string) float64 {
	var sum float64
	for _, reg := range bc.regs {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func (bc *benchCluster) fsyncs() int64 {
	var sum int64
	for _, n := range bc.nodes {
		sum += n.wal.Stats().Flushes
	}
	return sum
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkIdle(b *testing.B) {
	for _, lay := range []layout{{3, 4}, {1, 256}, {100, 4}} {
		b.Run(lay.String(), func(b *testing.B) {
			bc := startBenchCluster(b, lay)
			time.Sleep(2 * time.Second) // let elections and catch-up settle
			runtime.GC()
			const window = 5 * time.Second
			b.ResetTimer()
			for range b.N {
				msgs0, bytes0 := bc.traffic("tandem_raftnet_messages_sent_total"), bc.traffic("tandem_raftnet_bytes_sent_total")
				frames0, fs0 := bc.traffic("tandem_raftnet_frames_sent_total"), bc.fsyncs()
				cpu0, t0 := cpuTime(), time.Now()
				time.Sleep(window)
				el := time.Since(t0).Seconds()
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/el, "cpu-ms/s")
				b.ReportMetric((bc.traffic("tandem_raftnet_messages_sent_total")-msgs0)/el, "msgs/s")
				b.ReportMetric((bc.traffic("tandem_raftnet_frames_sent_total")-frames0)/el, "frames/s")
				b.ReportMetric((bc.traffic("tandem_raftnet_bytes_sent_total")-bytes0)/el, "bytes/s")
				b.ReportMetric(float64(bc.fsyncs()-fs0)/el, "fsyncs/s")
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, lay := range []layout{{1, 256}, {100, 4}} {
		b.Run(lay.String(), func(b *testing.B) {
			bc := startBenchCluster(b, lay)
			data := make([]byte, 1024)
			const workers = 64
			lat := make([][]time.Duration, workers)
			var next atomic.Int64
			fs0, cpu0 := bc.fsyncs(), cpuTime()
			b.SetBytes(1024)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := 0; ; i++ {
						k := next.Add(1)
						if k > int64(b.N) {
							return
						}
						g := bc.groups[int(k)%len(bc.groups)]
						l := bc.leader(g)
						if l == nil {
							next.Add(-1)
							time.Sleep(time.Millisecond)
							continue
						}
						t0 := time.Now()
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, err := l.Propose(ctx, g, data)
						cancel()
						var nl *multiraft.NotLeaderError
						switch {
						case err == nil:
							lat[w] = append(lat[w], time.Since(t0))
						case errors.As(err, &nl), errors.Is(err, multiraft.ErrLeadershipLost),
							errors.Is(err, multiraft.ErrProposalDropped):
							next.Add(-1) // retry elsewhere
						default:
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			el := time.Since(start).Seconds()
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			b.ReportMetric(float64(len(all))/el, "proposals/s")
			b.ReportMetric(float64(bc.fsyncs()-fs0)/el, "fsyncs/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/el, "cpu-ms/s")
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
