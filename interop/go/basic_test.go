package interop

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// GetEventHubProperties and GetPartitionProperties answer with what the SDK requires (it fails
// on a list where an array of strings belongs, a missing georeplication_factor, a number where a
// string offset belongs), for an empty partition and after events arrive.
func TestAMQPProperties(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 4)
	p := e.producer(t, hub)
	before := time.Now()
	props, err := p.GetEventHubProperties(within(t, time.Minute), nil)
	if err != nil {
		t.Fatalf("GetEventHubProperties: %v", err)
	}
	if props.Name != hub || !slices.Equal(props.PartitionIDs, []string{"0", "1", "2", "3"}) || props.GeoReplicationEnabled {
		t.Errorf("hub properties %+v", props)
	}
	if props.CreatedOn.IsZero() || props.CreatedOn.After(before.Add(time.Minute)) {
		t.Errorf("hub created on %v", props.CreatedOn)
	}
	empty, err := p.GetPartitionProperties(within(t, time.Minute), "1", nil)
	if err != nil {
		t.Fatalf("GetPartitionProperties of an empty partition: %v", err)
	}
	if !empty.IsEmpty || empty.PartitionID != "1" || empty.EventHubName != hub || empty.LastEnqueuedSequenceNumber != -1 {
		t.Errorf("empty partition: %+v", empty)
	}

	mustSend(t, p, bodies("p", 3), &azeventhubs.EventDataBatchOptions{PartitionID: ptr("1")})
	full, err := p.GetPartitionProperties(within(t, time.Minute), "1", nil)
	if err != nil {
		t.Fatalf("GetPartitionProperties after sending: %v", err)
	}
	if full.IsEmpty || full.BeginningSequenceNumber != 0 || full.LastEnqueuedSequenceNumber != 2 || full.LastEnqueuedOffset != "2" {
		t.Errorf("partition with 3 events: %+v", full)
	}
	if d := full.LastEnqueuedOn.Sub(before); d < -time.Second || d > 5*time.Minute {
		t.Errorf("last enqueued on %v, the test started at %v", full.LastEnqueuedOn, before)
	}
	// A consumer client asks the same node.
	c := e.consumer(t, hub)
	if cp, err := c.GetPartitionProperties(within(t, time.Minute), "1", nil); err != nil || cp.LastEnqueuedSequenceNumber != 2 {
		t.Errorf("consumer's GetPartitionProperties = %+v, %v", cp, err)
	}
}

// GetPartitionProperties of a partition the hub does not have fails at once with an error that
// names it. The Go SDK retries a $management reply of status 400 as a lost connection (3
// retries with back-off, ~50 s, and a new connection each time) and gives up only at a 404.
func TestAMQPBadPartitionFailsFast(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 4)
	p := e.producer(t, hub)
	start := time.Now()
	_, err := p.GetPartitionProperties(within(t, 2*time.Minute), "4", nil)
	took := time.Since(start)
	if err == nil {
		t.Fatal("GetPartitionProperties of partition 4 of a 4-partition hub succeeded")
	}
	if took > 20*time.Second {
		t.Errorf("GetPartitionProperties of a missing partition took %v to fail (the SDK retried it): %v", took.Round(time.Second), err)
	}
	if !strings.Contains(err.Error(), "4") {
		t.Errorf("the error does not name the partition: %v", err)
	}
}

// Sends without a partition spread over the hub; a partition key lands where lookup3 says
// (as the SDKs compute it client-side); a partition id lands there.
func TestAMQPSendRouting(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	const parts = 4
	hub := e.newHub(t, parts)
	p, c := e.producer(t, hub), e.consumer(t, hub)

	// Round-robin: 8 single-event batches.
	for i := range 8 {
		mustSend(t, p, bodies("rr"+strconv.Itoa(i), 1), nil)
	}
	used, total := 0, int64(0)
	for id := range parts {
		pp, err := p.GetPartitionProperties(within(t, time.Minute), strconv.Itoa(id), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !pp.IsEmpty {
			used++
			total += pp.LastEnqueuedSequenceNumber + 1
		}
	}
	if total != 8 || used < 2 {
		t.Errorf("8 batches without a partition: %d events in %d partitions, want 8 over at least 2", total, used)
	}

	// Partition keys: each batch goes where lookup3 puts its key, every event with the key. The
	// keys cover every partition and hashes of both signs (abs(int16 % n) differs from the
	// unsigned remainder for negative hashes).
	keys := []string{"alphabet", "TheBestParitionEver", "ü-ñ-€"}
	for i := range 16 {
		keys = append(keys, "customer-"+strconv.Itoa(i))
	}
	for _, key := range keys {
		mustSend(t, p, bodies("key-"+key, 2), &azeventhubs.EventDataBatchOptions{PartitionKey: ptr(key)})
	}
	found := map[string][]string{} // key → partitions its events are in
	for id := range parts {
		part := strconv.Itoa(id)
		pp, err := p.GetPartitionProperties(within(t, time.Minute), part, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range receive(t, c, part, azeventhubs.StartPosition{Earliest: ptr(true)}, int(pp.LastEnqueuedSequenceNumber+1), time.Minute) {
			if key, ok := strings.CutPrefix(string(ev.Body), "key-"); ok {
				key = key[:strings.LastIndexByte(key, '-')]
				found[key] = append(found[key], part)
				if ev.PartitionKey == nil || *ev.PartitionKey != key {
					t.Errorf("event %q has partition key %v, want %q", ev.Body, ev.PartitionKey, key)
				}
			}
		}
	}
	for _, key := range keys {
		want := strconv.Itoa(keyPartition(key, parts))
		if got := found[key]; !slices.Equal(got, []string{want, want}) {
			t.Errorf("key %q: events in partitions %v, want both in %s (lookup3, as the SDKs compute it)", key, got, want)
		}
	}

	// A partition id.
	mustSend(t, p, bodies("to-3", 5), &azeventhubs.EventDataBatchOptions{PartitionID: ptr("3")})
	pp, err := p.GetPartitionProperties(within(t, time.Minute), "3", nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := receive(t, c, "3", azeventhubs.StartPosition{Earliest: ptr(true)}, int(pp.LastEnqueuedSequenceNumber+1), time.Minute)
	var to3 []string
	for _, ev := range evs {
		if bytes.HasPrefix(ev.Body, []byte("to-3-")) {
			to3 = append(to3, string(ev.Body))
		}
	}
	if !slices.Equal(to3, []string{"to-3-0", "to-3-1", "to-3-2", "to-3-3", "to-3-4"}) {
		t.Errorf("partition 3 holds %q of the batch sent to it", to3)
	}
}

// One batch as large as the link allows (the attach's max-message-size) goes over in several
// transfer frames and arrives whole.
func TestAMQPBatchFillsMaxMessageSize(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	hub := e.newHub(t, 1)
	p, c := e.producer(t, hub), e.consumer(t, hub)
	ctx := within(t, 2*time.Minute)
	batch, err := p.NewEventDataBatch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), 10_000)
	n := 0
	for {
		body := append(fmt.Appendf(nil, "%06d:", n), payload...)
		if err := batch.AddEventData(&azeventhubs.EventData{Body: body}, nil); err != nil {
			if err != azeventhubs.ErrEventDataTooLarge {
				t.Fatalf("AddEventData: %v", err)
			}
			break
		}
		n++
	}
	if batch.NumBytes() < 900_000 {
		t.Fatalf("the batch is full at %d bytes (%d events): the link's max message size is below the 1 MiB Event Hubs uses", batch.NumBytes(), n)
	}
	if err := p.SendEventDataBatch(ctx, batch, nil); err != nil {
		t.Fatalf("sending a full batch of %d bytes: %v", batch.NumBytes(), err)
	}
	evs := receive(t, c, "0", azeventhubs.StartPosition{Earliest: ptr(true)}, n, 2*time.Minute)
	for i, ev := range evs {
		if want := append(fmt.Appendf(nil, "%06d:", i), payload...); !bytes.Equal(ev.Body, want) || ev.SequenceNumber != int64(i) {
			t.Fatalf("event %d: sequence number %d, body of %d bytes starting %q", i, ev.SequenceNumber, len(ev.Body), ev.Body[:min(10, len(ev.Body))])
		}
	}
	receiveNone(t, c, "0", int64(n-1), 3*time.Second)

	// One event larger than the link allows cannot even be added (the SDK checks the attach's
	// max-message-size).
	big, err := p.NewEventDataBatch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := big.AddEventData(&azeventhubs.EventData{Body: bytes.Repeat([]byte("y"), 2<<20)}, nil); err != azeventhubs.ErrEventDataTooLarge {
		t.Errorf("adding a 2 MiB event: %v, want ErrEventDataTooLarge", err)
	}
}
