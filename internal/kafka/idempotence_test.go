package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/kafka"
)

// TestIdempotentRetriesWriteOnce drops the responses of the first produce requests after
// the broker has written them, so the client retries batches that are already in the log.
// Each record must be in the log exactly once, in order.
func TestIdempotentRetriesWriteOnce(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Dev: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.CreateHub(context.Background(), "default", broker.HubSpec{Name: "idem", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var dropped atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := kafka.New(ln, kafka.Options{Broker: b, Dev: true, Logger: quietLogger(),
		DropResponse: func(key int16) bool { return key == 0 && dropped.Add(1) <= 3 }})
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() { srv.Close(); <-done }()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.DefaultProduceTopic("idem"),
		kgo.MaxBufferedRecords(10), kgo.RequestRetries(20), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 50
	for i := 0; i < n; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if dropped.Load() < 3 {
		t.Fatalf("only %d responses were dropped; the test did not force retries", dropped.Load())
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.ConsumeTopics("idem"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []string
	for len(got) < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d", len(got), n)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got {
		if v != fmt.Sprint(i) {
			t.Fatalf("record at offset %d is %q, want %d (duplicate or reorder): %v", i, v, i, got)
		}
	}
	p, _ := b.Partition("default", "idem", 0)
	if end := p.EndOffset(); end != n {
		t.Fatalf("log end offset %d, want %d: retries were written twice", end, n)
	}
}

// TestMalformedFramesCloseTheConnection sends garbage and truncated frames; each closes its
// connection, and the node keeps serving real clients with the log intact.
func TestMalformedFramesCloseTheConnection(t *testing.T) {
	n := startNode(t, t.TempDir(), true)
	n.createHub(t, "default", "safe", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := n.client(t, kgo.DefaultProduceTopic("safe"))
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{
		{0, 0, 0, 2, 0, 1},       // frame shorter than a header
		{0x7f, 0xff, 0xff, 0xff}, // 2 GiB frame
		{0, 0, 0, 10, 0x7f, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff},                                         // unknown API key
		append([]byte{0, 0, 0, 20, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0}, bytes.Repeat([]byte{0xff}, 10)...), // produce v9 with a garbage body
	}
	for i, f := range frames {
		c, err := net.Dial("tcp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(f)
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("frame %d: connection was not closed cleanly: %v", i, err)
		}
		c.Close()
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after malformed frames: %v", err)
	}
	part, _ := n.b.Partition("default", "safe", 0)
	if part.EndOffset() != 2 {
		t.Fatalf("log holds %d records, want 2", part.EndOffset())
	}
}
