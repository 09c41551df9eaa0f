package interop

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// Every start position the SDK offers, as its filter expressions say it: earliest, latest
// (receiving first, since the SDK's link is lazy), offset and sequence number inclusive and
// exclusive, enqueued time.
func TestAMQPStartPositions(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 1)
	p, c := e.producer(t, hub), e.consumer(t, hub)
	// Ten events, one send each, so enqueued times may differ.
	for i := range 10 {
		mustSend(t, p, bodies("pos"+strconv.Itoa(i), 1), nil)
	}
	all := receive(t, c, "0", azeventhubs.StartPosition{Earliest: ptr(true)}, 10, time.Minute)
	for i, ev := range all {
		if ev.SequenceNumber != int64(i) || ev.Offset != strconv.Itoa(i) || string(ev.Body) != fmt.Sprintf("pos%d-0", i) {
			t.Fatalf("event %d from earliest: seq %d, offset %q, body %q", i, ev.SequenceNumber, ev.Offset, ev.Body)
		}
		if ev.EnqueuedTime == nil || (i > 0 && ev.EnqueuedTime.Before(*all[i-1].EnqueuedTime)) {
			t.Fatalf("event %d: enqueued time %v after %v", i, ev.EnqueuedTime, all[max(i-1, 0)].EnqueuedTime)
		}
	}
	t6 := *all[6].EnqueuedTime
	firstAt := func(inclusive bool) int64 { // the first event an enqueued-time filter (milliseconds) admits
		for i, ev := range all {
			if ms, at := ev.EnqueuedTime.UnixMilli(), t6.UnixMilli(); ms > at || (inclusive && ms == at) {
				return int64(i)
			}
		}
		return -1
	}
	for _, tc := range []struct {
		name  string
		start azeventhubs.StartPosition
		first int64
	}{
		{"offset 3 inclusive", azeventhubs.StartPosition{Offset: ptr("3"), Inclusive: true}, 3},
		{"offset 3 exclusive", azeventhubs.StartPosition{Offset: ptr("3")}, 4},
		{"sequence number 5 inclusive", azeventhubs.StartPosition{SequenceNumber: ptr(int64(5)), Inclusive: true}, 5},
		{"sequence number 5 exclusive", azeventhubs.StartPosition{SequenceNumber: ptr(int64(5))}, 6},
		{"enqueued time of event 6 inclusive", azeventhubs.StartPosition{EnqueuedTime: &t6, Inclusive: true}, firstAt(true)},
		{"enqueued time of event 6 exclusive", azeventhubs.StartPosition{EnqueuedTime: &t6}, firstAt(false)},
		{"offset -1 (earliest as an offset)", azeventhubs.StartPosition{Offset: ptr("-1")}, 0},
	} {
		if tc.first < 0 {
			continue // every event shares event 6's millisecond: nothing after it to check
		}
		evs := receive(t, c, "0", tc.start, int(10-tc.first), time.Minute)
		if evs[0].SequenceNumber != tc.first {
			t.Errorf("%s: first event %d, want %d", tc.name, evs[0].SequenceNumber, tc.first)
		}
	}

	// Latest: the receiver starts first and sees only what is sent after its link is open. The
	// SDK opens the link on the first ReceiveEvents, so keep sending until something arrives.
	pc, err := c.NewPartitionClient("0", &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Latest: ptr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got []*azeventhubs.ReceivedEventData
	var rerr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer cancel()
		got, rerr = pc.ReceiveEvents(ctx, 1, nil)
	})
	for i := 0; ctx.Err() == nil; i++ {
		if err := send(ctx, p, bodies("late"+strconv.Itoa(i), 1), nil); err != nil && ctx.Err() == nil {
			t.Errorf("sending while a Latest receiver waits: %v", err)
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	wg.Wait()
	if len(got) != 1 {
		t.Fatalf("a Latest receiver got %d events: %v", len(got), rerr)
	}
	if got[0].SequenceNumber < 10 || string(got[0].Body)[:4] != "late" {
		t.Errorf("a Latest receiver got event %d (%q), one from before it started", got[0].SequenceNumber, got[0].Body)
	}
}

// What the SDK sends is what it receives: body, application properties of several types,
// message id, content type, correlation id; the system properties have the types the SDK
// requires (x-opt-offset a string, the sequence number a long, the enqueued time a timestamp).
func TestAMQPRoundTrip(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 2)
	p, c := e.producer(t, hub), e.consumer(t, hub)
	sent := &azeventhubs.EventData{
		Body: []byte{0, 1, 2, 0xff, 'h', 'i'},
		Properties: map[string]any{"s": "text", "n": int64(-7), "i32": int32(42), "b": true, "f": 2.5,
			"bin": []byte{9, 8}, "t": time.UnixMilli(1_700_000_000_123).UTC()},
		MessageID:     ptr("msg-1"),
		ContentType:   ptr("application/octet-stream"),
		CorrelationID: "corr-9",
	}
	before := time.Now().Add(-time.Second)
	mustSend(t, p, []*azeventhubs.EventData{sent, {Body: []byte("second"), CorrelationID: uint64(77)}},
		&azeventhubs.EventDataBatchOptions{PartitionKey: ptr("rt-key")})
	part := strconv.Itoa(keyPartition("rt-key", 2))
	evs := receive(t, c, part, azeventhubs.StartPosition{Earliest: ptr(true)}, 2, time.Minute)
	got := evs[0]
	if string(got.Body) != string(sent.Body) {
		t.Errorf("body %q, sent %q", got.Body, sent.Body)
	}
	gotT, _ := got.Properties["t"].(time.Time)
	if !gotT.Equal(sent.Properties["t"].(time.Time)) {
		t.Errorf("timestamp property %#v, sent %v", got.Properties["t"], sent.Properties["t"])
	}
	gotProps, sentProps := maps.Clone(got.Properties), maps.Clone(sent.Properties)
	delete(gotProps, "t")
	delete(sentProps, "t")
	if !reflect.DeepEqual(gotProps, sentProps) {
		t.Errorf("properties\n got %#v\nsent %#v", got.Properties, sent.Properties)
	}
	if got.MessageID == nil || *got.MessageID != "msg-1" || got.ContentType == nil || *got.ContentType != *sent.ContentType ||
		got.CorrelationID != "corr-9" {
		t.Errorf("message id %v, content type %v, correlation id %#v", got.MessageID, got.ContentType, got.CorrelationID)
	}
	if got.PartitionKey == nil || *got.PartitionKey != "rt-key" || got.SequenceNumber != 0 || got.Offset != "0" {
		t.Errorf("partition key %v, sequence number %d, offset %q", got.PartitionKey, got.SequenceNumber, got.Offset)
	}
	if got.EnqueuedTime == nil || got.EnqueuedTime.Before(before) || got.EnqueuedTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("enqueued time %v, sent after %v", got.EnqueuedTime, before)
	}
	if evs[1].CorrelationID != uint64(77) || string(evs[1].Body) != "second" || evs[1].SequenceNumber != 1 {
		t.Errorf("second event: correlation id %#v, body %q, seq %d", evs[1].CorrelationID, evs[1].Body, evs[1].SequenceNumber)
	}
	// The annotations as they came, with the AMQP types Event Hubs uses.
	ann := got.RawAMQPMessage.MessageAnnotations
	for k, want := range map[string]any{"x-opt-offset": "0", "x-opt-sequence-number": int64(0),
		"x-opt-enqueued-time": *got.EnqueuedTime, "x-opt-partition-key": "rt-key"} {
		if v := ann[k]; reflect.TypeOf(v) != reflect.TypeOf(want) || fmt.Sprint(v) != fmt.Sprint(want) {
			t.Errorf("annotation %s = %#v, want %#v", k, v, want)
		}
	}
}
