package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startServer runs a real JetStream server in the test process on a free 127.0.0.1 port.
func startServer(t *testing.T, syncAlways bool) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		SyncAlways: syncAlways, SyncInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server not ready within 30s")
	}
	return s.ClientURL()
}

// streamCounts returns the last sequence of each of the run's streams.
func streamCounts(t *testing.T, ctx context.Context, url, prefix string, n int) []uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]uint64, n)
	for i := range counts {
		s, err := js.Stream(ctx, streamName(prefix, i))
		if err != nil {
			t.Fatalf("stream %s: %v", streamName(prefix, i), err)
		}
		if counts[i], err = lastSeq(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return counts
}

// TestRunStreamPerPartition runs natscmp against a real JetStream server in both durability
// modes: every partition is its own stream, messages spread evenly over them, and the read back
// covers exactly what this run published (a second run reads only its own messages).
func TestRunStreamPerPartition(t *testing.T) {
	for _, tc := range []struct {
		name       string
		syncAlways bool
		partitions int
		producers  int
		records    int64
	}{
		{"interval/1 stream", false, 1, 1, 200},
		{"interval/3 streams 2 producers", false, 3, 2, 301},
		{"always/4 streams", true, 4, 1, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			url := startServer(t, tc.syncAlways)
			o := options{url: url, stream: "t", partitions: tc.partitions, recordSize: 64,
				producers: tc.producers, maxInFlight: 16, records: tc.records}
			var total uint64
			for round := 1; round <= 2; round++ {
				res, err := run(ctx, o)
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if res.Partitions != tc.partitions || res.Produce == nil || res.Consume == nil {
					t.Fatalf("round %d: result %+v: want %d partitions and both phases", round, res, tc.partitions)
				}
				if res.Produce.Records != tc.records || res.Consume.Records != tc.records {
					t.Fatalf("round %d: produced %d, read back %d; want %d each", round, res.Produce.Records, res.Consume.Records, tc.records)
				}
				if res.Consume.Bytes != tc.records*64 {
					t.Fatalf("round %d: read back %d bytes, want %d", round, res.Consume.Bytes, tc.records*64)
				}
				total += uint64(tc.records)
				counts := streamCounts(t, ctx, url, o.stream, tc.partitions)
				lo, hi, sum := counts[0], counts[0], uint64(0)
				for _, c := range counts {
					lo, hi, sum = min(lo, c), max(hi, c), sum+c
				}
				// Each publisher goes round-robin, so it puts at most one message more on one
				// stream than on another, per round.
				if sum != total || hi-lo > uint64(round*tc.producers) {
					t.Fatalf("round %d: messages per stream %v (sum %d, want %d, spread at most %d)",
						round, counts, sum, total, round*tc.producers)
				}
			}
		})
	}
}

func TestOptionsCheck(t *testing.T) {
	good := options{recordSize: 8, partitions: 1, producers: 1, maxInFlight: 1}
	if err := good.check("text"); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*options)
		output string
	}{
		{"record size", func(o *options) { o.recordSize = 7 }, "text"},
		{"no partitions", func(o *options) { o.partitions = 0 }, "text"},
		{"no producers", func(o *options) { o.producers = 0 }, "text"},
		{"no window", func(o *options) { o.maxInFlight = 0 }, "text"},
		{"negative records", func(o *options) { o.records = -1 }, "text"},
		{"output", func(o *options) {}, "yaml"},
	} {
		o := good
		tc.edit(&o)
		if err := o.check(tc.output); err == nil {
			t.Errorf("%s: %+v accepted", tc.name, o)
		} else if testing.Verbose() {
			fmt.Println(tc.name+":", err)
		}
	}
}
