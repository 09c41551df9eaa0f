package kafka_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/kafka"
)

// stopReading dials a connection that pipelines n huge fetches of hub and never reads the
// answers; its receive buffer is kept small so the answers stay on the server.
func stopReading(t *testing.T, l *limited, hub string, n int) *rawConn {
	t.Helper()
	rc := dialRaw(t, l.addr)
	rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	for range n {
		rc.send(hugeFetch(hub))
	}
	return rc
}

// TestAuditM1a_NonReadingConnectionLeavesBudgetToOthers: a connection pipelines 32 fetches
// of 8 MiB answers (more than the socket buffers take) and never reads them. Its unwritten answers hold at most its share of
// the memory budget (a quarter, or one largest fetch), not all of it, so a second consumer
// still reads all the data long before the write timeout (10 minutes here) would drop the
// first connection.
func TestAuditM1a_NonReadingConnectionLeavesBudgetToOthers(t *testing.T) {
	const budget, fetchMax, recSize, records = 32 << 20, 8 << 20, 64 << 10, 256
	l := startLimited(t, true, kafka.Options{MemoryBudget: budget, FetchMaxBytes: fetchMax,
		WriteTimeout: 10 * time.Minute, IdleTimeout: 10 * time.Minute}, nil)
	plant(t, l, "big", records, recSize)

	stopReading(t, l, "big", 32)
	// The non-reader's answers fill the socket buffers, then hold what they may.
	eventually(t, "the non-reading connection holds budget", func() bool {
		return l.metric(t, "tandem_kafka_memory_in_use_bytes") >= fetchMax
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := l.client(t, kgo.ConsumeTopics("big"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(fetchMax))
	got := 0
	for got < records {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("a second consumer read %d of %d records in 60s while a connection does not read its answers (budget in use %v)",
				got, records, l.metric(t, "tandem_kafka_memory_in_use_bytes"))
		}
		fs.EachRecord(func(*kgo.Record) { got++ })
	}
	if used := l.metric(t, "tandem_kafka_memory_in_use_bytes"); used > budget {
		t.Errorf("budget in use %v, limit %d", used, budget)
	}
	if p := l.metric(t, "tandem_kafka_memory_in_use_peak_bytes"); p > budget+2*(recSize+1024) {
		t.Errorf("budget peak %v, limit %d", p, budget)
	}
}

// TestAuditM1a_WriteTimeoutDropsNonReader: a connection that stops reading its answers is
// closed after --kafka-write-timeout (not the 10-minute idle timeout), the reason names
// the flag, and its answers give their budget back.
func TestAuditM1a_WriteTimeoutDropsNonReader(t *testing.T) {
	const recSize, records = 64 << 10, 64
	l := startLimited(t, true, kafka.Options{FetchMaxBytes: 1 << 20, WriteTimeout: time.Second,
		IdleTimeout: 10 * time.Minute}, nil)
	plant(t, l, "big", records, recSize)
	stopReading(t, l, "big", 32)
	eventually(t, "answers are held", func() bool { return l.metric(t, "tandem_kafka_memory_in_use_bytes") > 0 })
	l.waitMetric(t, 1, "tandem_kafka_connections_closed_total", "reason", "write_timeout")
	if !strings.Contains(l.logs.String(), "--kafka-write-timeout") {
		t.Errorf("the close is not logged with the flag:\n%s", l.logs)
	}
	eventually(t, "the budget is given back", func() bool { return l.metric(t, "tandem_kafka_memory_in_use_bytes") == 0 })
}

// metadataOf asks for n unknown topics: each costs 8 bytes in the request and 16 in the
// answer (v9: error, name, internal, partitions, authorized operations, tags).
func metadataOf(n int) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	for i := range n {
		rt := kmsg.NewMetadataRequestTopic()
		name := fmt.Sprintf("t%05d", i)
		rt.Topic = &name
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// TestAuditM1_NonFetchResponsesCounted: a Metadata answer is counted in the memory budget
// like a fetch answer. With room for it, the budget's peak covers the answer; with a budget
// that holds the request but not its answer, the answer is never built into a write and
// the connection is closed with a reason naming --kafka-memory-budget.
func TestAuditM1_NonFetchResponsesCounted(t *testing.T) {
	const topics = 20000 // a 160 KB request, a 320 KB answer
	l := startLimited(t, true, kafka.Options{MemoryBudget: 1 << 20}, nil)
	rc := dialRaw(t, l.addr)
	req := metadataOf(topics)
	rc.send(req)
	resp, err := rc.recv(req)
	if err != nil {
		t.Fatal(err)
	}
	size := len(resp.AppendTo(nil))
	if size < 300_000 {
		t.Fatalf("the answer is only %d bytes", size)
	}
	if p := l.metric(t, "tandem_kafka_memory_in_use_peak_bytes"); p < float64(size) {
		t.Errorf("budget peak %v is less than the %d-byte Metadata answer: the answer was not counted", p, size)
	}
	eventually(t, "the budget is given back", func() bool { return l.metric(t, "tandem_kafka_memory_in_use_bytes") == 0 })

	small := startLimited(t, true, kafka.Options{MemoryBudget: 256 << 10, MemoryWait: 200 * time.Millisecond}, nil)
	rc = dialRaw(t, small.addr)
	rc.send(metadataOf(topics))
	if !rc.closedByServer() {
		t.Fatal("an answer larger than the whole budget was not refused")
	}
	small.waitMetric(t, 1, "tandem_kafka_connections_closed_total", "reason", "memory_budget")
	// The close is counted before it is logged: wait for the line.
	eventually(t, "the close logged with the budget's name", func() bool {
		return strings.Contains(small.logs.String(), "--kafka-memory-budget=262144")
	})
	// Small answers (produce, ApiVersions) are not counted and still flow.
	cl := small.client(t)
	if err := cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
