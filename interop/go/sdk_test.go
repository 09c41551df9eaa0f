package interop

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// producer is a v2 ProducerClient for hub, closed with the test.
func (e env) producer(t testing.TB, hub string) *azeventhubs.ProducerClient {
	t.Helper()
	p, err := azeventhubs.NewProducerClientFromConnectionString(e.connString(), hub, nil)
	if err != nil {
		t.Fatalf("NewProducerClientFromConnectionString: %v", err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// consumer is a v2 ConsumerClient for hub's $Default group, closed with the test.
func (e env) consumer(t testing.TB, hub string) *azeventhubs.ConsumerClient {
	t.Helper()
	c, err := azeventhubs.NewConsumerClientFromConnectionString(e.connString(), hub, azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatalf("NewConsumerClientFromConnectionString: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// send sends events in as many batches as they need, with opts (partition or key).
func send(ctx context.Context, p *azeventhubs.ProducerClient, events []*azeventhubs.EventData, opts *azeventhubs.EventDataBatchOptions) error {
	for len(events) > 0 {
		batch, err := p.NewEventDataBatch(ctx, opts)
		if err != nil {
			return fmt.Errorf("NewEventDataBatch: %w", err)
		}
		n := 0
		for _, ev := range events {
			if err := batch.AddEventData(ev, nil); errors.Is(err, azeventhubs.ErrEventDataTooLarge) && n > 0 {
				break
			} else if err != nil {
				return fmt.Errorf("AddEventData (event %d of the batch): %w", n, err)
			}
			n++
		}
		if err := p.SendEventDataBatch(ctx, batch, nil); err != nil {
			return fmt.Errorf("SendEventDataBatch of %d events: %w", n, err)
		}
		events = events[n:]
	}
	return nil
}

// mustSend is send that fails the test.
func mustSend(t testing.TB, p *azeventhubs.ProducerClient, events []*azeventhubs.EventData, opts *azeventhubs.EventDataBatchOptions) {
	t.Helper()
	if err := send(within(t, 2*time.Minute), p, events, opts); err != nil {
		t.Fatal(err)
	}
}

// bodies are events with bodies prefix-0, prefix-1, ….
func bodies(prefix string, n int) []*azeventhubs.EventData {
	out := make([]*azeventhubs.EventData, n)
	for i := range out {
		out[i] = &azeventhubs.EventData{Body: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	return out
}

// receive reads n events of partition from start with a new partition client, failing the
// test when they do not come within d.
func receive(t testing.TB, c *azeventhubs.ConsumerClient, partition string, start azeventhubs.StartPosition, n int, d time.Duration) []*azeventhubs.ReceivedEventData {
	t.Helper()
	pc, err := c.NewPartitionClient(partition, &azeventhubs.PartitionClientOptions{StartPosition: start})
	if err != nil {
		t.Fatalf("NewPartitionClient(%s): %v", partition, err)
	}
	defer pc.Close(context.Background())
	got, err := receiveFrom(within(t, d), pc, n)
	if err != nil {
		t.Fatalf("partition %s: %d of %d events within %v: %v", partition, len(got), n, d, err)
	}
	return got
}

// receiveFrom reads n events from pc, or fewer when ctx ends (with its error).
func receiveFrom(ctx context.Context, pc *azeventhubs.PartitionClient, n int) ([]*azeventhubs.ReceivedEventData, error) {
	var got []*azeventhubs.ReceivedEventData
	for len(got) < n {
		evs, err := pc.ReceiveEvents(ctx, min(n-len(got), 1000), nil)
		got = append(got, evs...)
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// receiveNone checks that partition has nothing more after the events already read: a receive
// from just after seq finds nothing within d.
func receiveNone(t testing.TB, c *azeventhubs.ConsumerClient, partition string, afterSeq int64, d time.Duration) {
	t.Helper()
	pc, err := c.NewPartitionClient(partition, &azeventhubs.PartitionClientOptions{
		StartPosition: azeventhubs.StartPosition{SequenceNumber: &afterSeq}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	evs, err := pc.ReceiveEvents(within(t, d), 10, nil)
	if len(evs) > 0 {
		t.Fatalf("partition %s has events after sequence number %d: the first is %d (%q)", partition, afterSeq,
			evs[0].SequenceNumber, evs[0].Body)
	}
	if !isDeadline(err) {
		t.Fatalf("an empty receive ended with %v, want the deadline", err)
	}
}

func ptr[T any](v T) *T { return &v }

// codeOf is the azeventhubs error code of err, "" when it has none.
func codeOf(err error) azeventhubs.ErrorCode {
	var e *azeventhubs.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
