package raftwal

import (
	"fmt"
	"sync"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkSave saves 1 KiB entries, one per Save, from 1, 8 and 64 groups at once (one
// goroutine each) on the real filesystem, and reports MB/s of entry data and fsyncs per second.
func BenchmarkSave(b *testing.B) {
	for _, groups := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			w, err := Open(Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, 1024)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := range groups {
				n := b.N / groups
				if g < b.N%groups {
					n++
				}
				wg.Go(func() {
					gid := uint64(g + 1)
					for i := uint64(1); i <= uint64(n); i++ {
						u := Update{Group: gid, Entries: []*raftpb.Entry{newEntry(i, 1, 0, data)}, HardState: hardState(1, 1, i-1)}
						if err := w.Save([]Update{u}); err != nil {
							b.Error(err)
							return
						}
						if i%1024 == 0 {
							w.Release(gid, i-512)
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := w.Stats()
			b.ReportMetric(float64(st.Flushes)/b.Elapsed().Seconds(), "fsyncs/s")
			b.ReportMetric(float64(b.N)/float64(max(st.Flushes, 1)), "saves/fsync")
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
