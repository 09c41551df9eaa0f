package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/batch"
)

// BenchmarkPartitionOpen measures the first use of a large partition after a restart (issue
// 17, item 2) and, meanwhile, the latency of produces to a partition of another hub. The big
// partition holds TANDEM_BENCH_OPEN_BATCHES (default 1,048,576) batches of one small record
// from 16 idempotent producers, in segments of TANDEM_BENCH_OPEN_SEGMENT_MIB (default 16) MiB.
// Variants:
//
//	snapshot   the restart follows a clean close (a producer snapshot at the log's end)
//	tail       only the snapshot of the last segment roll is there (as after a crash)
//	full       no snapshot (a log written before snapshots existed): every header is replayed
//
// Run with
//
//	go test -run '^$' -bench PartitionOpen -benchtime 3x ./internal/broker/
func BenchmarkPartitionOpen(b *testing.B) {
	batches := 1 << 20
	if s := os.Getenv("TANDEM_BENCH_OPEN_BATCHES"); s != "" {
		var err error
		if batches, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	segMiB := 16
	if s := os.Getenv("TANDEM_BENCH_OPEN_SEGMENT_MIB"); s != "" {
		var err error
		if segMiB, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	opts := Options{DataDir: dir, SegmentBytes: int64(segMiB) << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	bigDir, rollSnap := fillBigPartition(b, opts, batches)
	snapPath := filepath.Join(bigDir, "producers.snapshot")
	for _, variant := range []string{"snapshot", "tail", "full"} {
		b.Run(variant, func(b *testing.B) {
			var opens, p99s, maxes []time.Duration
			probes := 0
			for range b.N {
				switch variant {
				case "tail":
					if rollSnap == nil {
						b.Skip("no snapshot at a roll (a broker without producer snapshots)")
					}
					if err := os.WriteFile(snapPath, rollSnap, 0o600); err != nil {
						b.Fatal(err)
					}
				case "full":
					if err := os.Remove(snapPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
						b.Fatal(err)
					}
				}
				open, lat := restartAndOpen(b, opts)
				opens = append(opens, open)
				probes += len(lat)
				if len(lat) > 0 {
					slices.Sort(lat)
					p99s = append(p99s, lat[len(lat)*99/100])
					maxes = append(maxes, lat[len(lat)-1])
				}
			}
			b.ReportMetric(float64(median(opens).Microseconds())/1000, "open-ms")
			if len(p99s) > 0 {
				b.ReportMetric(float64(median(p99s).Microseconds())/1000, "other-p99-ms")
				b.ReportMetric(float64(median(maxes).Microseconds())/1000, "other-max-ms")
			}
			b.ReportMetric(float64(probes)/float64(b.N), "other-produces")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// fillBigPartition writes the hubs "big" and "small" and n batches into big's partition 0,
// then closes the broker. It returns big's partition directory and the producer snapshot the
// last segment roll wrote (nil if none).
func fillBigPartition(b *testing.B, opts Options, n int) (string, []byte) {
	ctx := context.Background()
	br, err := Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	if _, err := br.CreateNamespace(ctx, NamespaceSpec{Name: "tenant"}); err != nil {
		b.Fatal(err)
	}
	for _, hub := range []string{"big", "small"} {
		if err := br.CreateHub(ctx, "tenant", HubSpec{Name: hub, Partitions: 1}); err != nil {
			b.Fatal(err)
		}
	}
	p, err := br.Partition("tenant", "big", 0)
	if err != nil {
		b.Fatal(err)
	}
	const producers = 16
	var seqs [producers]int32
	value := make([]byte, 20)
	for i := range n {
		pid := int64(i % producers)
		bb := batch.Build([]batch.Record{{Value: value}}, batch.BuildOptions{ProducerID: 1000 + pid, BaseSequence: seqs[pid]})
		seqs[pid]++
		if _, err := p.Apply(bb, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	h, err := br.Hub("tenant", "big")
	if err != nil {
		b.Fatal(err)
	}
	dir := br.partitionDir(h, 0)
	roll, err := os.ReadFile(filepath.Join(dir, "producers.snapshot"))
	if err != nil {
		roll = nil
	}
	if err := br.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, roll
}

// restartAndOpen opens the broker over opts.DataDir, opens the small hub's partition, then
// times the first use of the big partition while another goroutine produces to the small
// one; it returns the open's duration and the latencies of the produces it overlapped.
func restartAndOpen(b *testing.B, opts Options) (time.Duration, []time.Duration) {
	b.StopTimer()
	br, err := Open(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	rec := batch.Build([]batch.Record{{Value: make([]byte, 100)}}, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
	if _, _, err := br.Append("tenant", "small", 0, slices.Clone(rec)); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var lat []time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			if _, _, err := br.Append("tenant", "small", 0, slices.Clone(rec)); err != nil {
				panic(fmt.Sprintf("produce to the small hub: %v", err))
			}
			lat = append(lat, time.Since(t0))
		}
	}()
	b.StartTimer()
	t0 := time.Now()
	_, err = br.Partition("tenant", "big", 0)
	open := time.Since(t0)
	b.StopTimer()
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	return open, lat
}
