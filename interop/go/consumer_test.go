package interop

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/go-amqp"
)

// A backlog of 100,000 events is read through with the SDK's default prefetch (300 credits,
// refilled as the SDK counts settled deliveries): a server that sends deliveries unsettled
// stalls the SDK after its first window.
func TestAMQPBacklog100k(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 1)
	p, c := e.producer(t, hub), e.consumer(t, hub)
	const total = 100_000
	start := time.Now()
	events := make([]*azeventhubs.EventData, total)
	for i := range events {
		events[i] = &azeventhubs.EventData{Body: fmt.Appendf(nil, "backlog-%06d", i)}
	}
	if err := send(within(t, 5*time.Minute), p, events, &azeventhubs.EventDataBatchOptions{PartitionID: ptr("0")}); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	pc, err := c.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: ptr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	start = time.Now()
	next := int64(0)
	for next < total {
		// No progress for 60 s is a stall, whatever the machine's load.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		evs, err := pc.ReceiveEvents(ctx, 1000, nil)
		cancel()
		if len(evs) == 0 {
			t.Fatalf("the receive stalled at sequence number %d of %d: %v", next, total, err)
		}
		for _, ev := range evs {
			if ev.SequenceNumber != next || string(ev.Body) != fmt.Sprintf("backlog-%06d", next) {
				t.Fatalf("expected event %d, got sequence number %d body %q", next, ev.SequenceNumber, ev.Body)
			}
			next++
		}
	}
	t.Logf("100,000 events: sent in %v, read in %v", sent.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// Owner levels (epochs) as Event Hubs has them: a higher one takes the partition from the
// current reader, whose next receive fails with ErrorCodeOwnershipLost; a lower one is refused;
// at most 5 readers without an owner level per consumer group and partition.
func TestAMQPOwnerLevel(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 1)
	if _, err := e.n.api.CreateConsumerGroup(within(t, time.Minute), e.ns, hub, "quota", ""); err != nil {
		t.Fatal(err)
	}
	p, c := e.producer(t, hub), e.consumer(t, hub)
	mustSend(t, p, bodies("epoch", 1), nil)
	open := func(c *azeventhubs.ConsumerClient, level *int64) *azeventhubs.PartitionClient {
		pc, err := c.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{OwnerLevel: level,
			StartPosition: azeventhubs.StartPosition{Earliest: ptr(true)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close(context.Background()) })
		return pc
	}
	first := func(pc *azeventhubs.PartitionClient, who string) {
		if evs, err := pc.ReceiveEvents(within(t, time.Minute), 1, nil); len(evs) != 1 {
			t.Fatalf("%s received %d events: %v", who, len(evs), err)
		}
	}
	a := open(c, ptr(int64(0)))
	first(a, "reader A (owner level 0)")
	b := open(c, ptr(int64(1)))
	first(b, "reader B (owner level 1)")
	evs, err := a.ReceiveEvents(within(t, time.Minute), 1, nil)
	if len(evs) != 0 || codeOf(err) != azeventhubs.ErrorCodeOwnershipLost {
		t.Errorf("reader A after B took over: %d events, error %v (code %q), want ErrorCodeOwnershipLost", len(evs), err, codeOf(err))
	}
	// No retries for this client: whatever the refusal looks like, it comes at once.
	once, err := azeventhubs.NewConsumerClientFromConnectionString(e.connString(), hub, azeventhubs.DefaultConsumerGroup,
		&azeventhubs.ConsumerClientOptions{RetryOptions: azeventhubs.RetryOptions{MaxRetries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer once.Close(context.Background())
	lower := open(once, ptr(int64(0)))
	evs, err = lower.ReceiveEvents(within(t, 2*time.Minute), 1, nil)
	if len(evs) != 0 || codeOf(err) != azeventhubs.ErrorCodeOwnershipLost {
		t.Errorf("a reader with owner level 0 while B holds 1: %d events, error %v (code %q); want ErrorCodeOwnershipLost", len(evs), err, codeOf(err))
	}
	t.Logf("a lower owner level is refused with: %v (code %q)", err, codeOf(err))

	// Five readers without an owner level in group quota, then a sixth.
	q, err := azeventhubs.NewConsumerClientFromConnectionString(e.connString(), hub, "quota", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	for i := range 5 {
		first(open(q, nil), "non-epoch reader "+strconv.Itoa(i+1))
	}
	sixth := open(q, nil)
	evs, err = sixth.ReceiveEvents(within(t, time.Minute), 1, nil)
	if len(evs) != 0 || err == nil || isDeadline(err) {
		t.Errorf("a 6th reader without an owner level: %d events, error %v; want refused (5 per group and partition)", len(evs), err)
	}
	t.Logf("the 6th reader is refused with: %v", err)
}

// Receivers parked on empty partitions, and a bare connection, stay up for 3 minutes: the
// server sends heartbeats within half of each client's idle time-out (go-amqp's is 1 minute),
// and a receive after the silence works. TANDEM_INTEROP_IDLE shortens or lengthens the wait
// (a Go duration).
func TestAMQPIdleReceivers(t *testing.T) {
	t.Parallel()
	idle := 3 * time.Minute
	if s := os.Getenv("TANDEM_INTEROP_IDLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("TANDEM_INTEROP_IDLE=%q: %v", s, err)
		}
		idle = d
	}
	e := sharedEnv(t)
	hub := e.newHub(t, 2)
	p, c := e.producer(t, hub), e.consumer(t, hub)

	// A bare go-amqp connection with its default idle time-out (60 s): it closes itself when
	// nothing arrives for that long.
	conn, err := amqp.Dial(within(t, time.Minute), "amqp://"+e.n.addrs().amqp, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatalf("dialing the AMQP listener: %v", err)
	}
	defer conn.Close()

	pcs := make([]*azeventhubs.PartitionClient, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range pcs {
		pc, err := c.NewPartitionClient(strconv.Itoa(i), &azeventhubs.PartitionClientOptions{
			StartPosition: azeventhubs.StartPosition{Earliest: ptr(true)}})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close(context.Background())
		pcs[i] = pc
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), idle)
			defer cancel()
			var evs []*azeventhubs.ReceivedEventData
			evs, errs[i] = pc.ReceiveEvents(ctx, 1, nil)
			if len(evs) > 0 {
				errs[i] = fmt.Errorf("received %d events from an empty partition", len(evs))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !isDeadline(err) {
			t.Errorf("receiver on empty partition %d during %v idle: %v, want only the deadline", i, idle, err)
		}
	}
	if _, err := conn.NewSession(within(t, 30*time.Second), nil); err != nil {
		t.Errorf("the bare connection after %v idle: %v (heartbeats missing?)", idle, err)
	}
	// The node's metrics: its AMQP connections are counted (the engine's metrics are wired), and
	// none of them was closed for silence.
	metrics := e.n.metrics(t)
	if v, ok := metrics[`tandem_amqp_connections`]; !ok || v < 2 {
		t.Errorf("tandem_amqp_connections = %v (present: %v), want at least this test's 2 connections", v, ok)
	}
	if v := metrics[`tandem_amqp_connections_closed_total{reason="idle_timeout"}`]; v != 0 {
		t.Errorf("%v AMQP connections were closed for an idle time-out", v)
	}
	for i, pc := range pcs {
		mustSend(t, p, bodies("after-idle", 1), &azeventhubs.EventDataBatchOptions{PartitionID: ptr(strconv.Itoa(i))})
		if evs, err := pc.ReceiveEvents(within(t, time.Minute), 1, nil); len(evs) != 1 || string(evs[0].Body) != "after-idle-0" {
			t.Errorf("receiver on partition %d after %v idle: %d events, %v", i, idle, len(evs), err)
		}
	}
}

// The SDK's prefetch modes all read a backlog through: manual credit (-1: each ReceiveEvents
// issues its own), the default window (300), and the largest (5000).
func TestAMQPPrefetchModes(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 1)
	p, c := e.producer(t, hub), e.consumer(t, hub)
	const total = 6000
	mustSend(t, p, bodies("pf", total), &azeventhubs.EventDataBatchOptions{PartitionID: ptr("0")})
	for _, prefetch := range []int32{-1, 0, 5000} {
		pc, err := c.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{Prefetch: prefetch,
			StartPosition: azeventhubs.StartPosition{Earliest: ptr(true)}})
		if err != nil {
			t.Fatal(err)
		}
		next := int64(0)
		for next < total {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			evs, err := pc.ReceiveEvents(ctx, 1000, nil) // ≤ 5000: the most one manual-credit call may ask
			cancel()
			if len(evs) == 0 {
				t.Fatalf("prefetch %d: stalled at sequence number %d of %d: %v", prefetch, next, total, err)
			}
			for _, ev := range evs {
				if ev.SequenceNumber != next {
					t.Fatalf("prefetch %d: expected sequence number %d, got %d", prefetch, next, ev.SequenceNumber)
				}
				next++
			}
		}
		pc.Close(context.Background())
	}
}
