package httpapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
)

// wideZstdBatch is recs as a Kafka batch whose zstd frame declares a window of its whole
// content (over 8 MiB), as a producer with a large zstd window writes it.
func wideZstdBatch(t *testing.T, recs []batch.Record) []byte {
	t.Helper()
	const headerSize, offLength, offCRC, offAttributes = 61, 8, 17, 21
	plain := batch.Build(recs, batch.BuildOptions{ProducerID: -1, Timestamp: time.Now().UnixMilli()})
	enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(32<<20))
	if err != nil {
		t.Fatal(err)
	}
	body := enc.EncodeAll(plain[headerSize:], nil)
	enc.Close()
	b := append(append([]byte(nil), plain[:headerSize]...), body...)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	binary.BigEndian.PutUint16(b[offAttributes:], attrs&^7|uint16(batch.Zstd))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestAuditH8_WideZstdWindowsShareDecodeMemory: a producer plants batches whose zstd window
// is 12 MiB (decoded as a stream with that window, formerly whole). Each receive reserves
// the window from the node's decode memory (--receive-memory-budget, here 20 MiB): six
// concurrent receives are served one or two at a time, never more than the budget; a
// receive that finds no room within its wait gets 503 Unavailable naming the flag; the
// data stays readable.
func TestAuditH8_WideZstdWindowsShareDecodeMemory(t *testing.T) {
	const limit = 20 << 20
	e := newEnvBroker(t, Options{}, broker.Options{DecodeMemory: limit})
	e.setup("shop-eu1", "orders", 1)
	recs := make([]batch.Record, 24)
	for i := range recs {
		recs[i] = batch.Record{Value: bytes.Repeat([]byte{byte('a' + i)}, 512<<10)}
	}
	for range 2 {
		if _, _, err := e.b.Append("shop-eu1", "orders", 0, wideZstdBatch(t, recs)); err != nil {
			t.Fatal(err)
		}
	}
	path := "/namespaces/shop-eu1/eventhubs/orders/partitions/0/messages?from=start&max=2"

	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.do("GET", path, e.admin, nil).status
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("receive %d: %d", i, c)
		}
	}
	used, peak := e.b.DecodeMemoryUsage()
	if used != 0 || peak < 12<<20 || peak > limit {
		t.Fatalf("decode memory: %d held after the receives, peak %d, want 12 MiB..%d", used, peak, limit)
	}

	// A reader holds a window (a receive in the middle of a wide batch); another receive
	// finds no room within its wait and is refused, naming the flag.
	holding, unblock := make(chan struct{}), make(chan struct{})
	go func() {
		first := true
		e.b.ReadEach(context.Background(), "shop-eu1", "orders", 0, 0, broker.ReadLimits{Max: 2}, func(broker.ReceivedEvent) error {
			if first {
				first = false
				close(holding)
				<-unblock
			}
			return nil
		})
	}()
	<-holding
	e.srv.Config.Handler.(*Server).slotWait = 100 * time.Millisecond
	r := e.must(503, e.do("GET", path, e.admin, nil))
	if r.code() != "Unavailable" || !strings.Contains(r.message(), "--receive-memory-budget=20971520") {
		t.Fatalf("receive without decode memory: %s", r.raw)
	}
	close(unblock)
	// Once the memory is free the data is readable, every event of both batches.
	got := 0
	for next := "start"; got < 48; {
		r := e.must(200, e.do("GET", "/namespaces/shop-eu1/eventhubs/orders/partitions/0/messages?max=100&from="+next, e.admin, nil))
		evs := r.json["events"].([]any)
		if len(evs) == 0 {
			t.Fatalf("no events after %d", got)
		}
		for _, ev := range evs {
			body := ev.(map[string]any)["body"].(string)
			if want := strings.Repeat(string(rune('a'+got%24)), 512<<10); body != want {
				t.Fatalf("event %d: body of %d bytes starting %q", got, len(body), body[:1])
			}
			got++
		}
		next = fmt.Sprintf("offset:%d", int64(r.json["nextOffset"].(float64)))
	}
}
