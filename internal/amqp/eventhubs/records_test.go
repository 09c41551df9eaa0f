package eventhubs

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/message"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
)

// stored is what the broker gives back for a record it appended: offset and append time set.
func stored(r batch.Record, offset int64, at time.Time) batch.Record {
	r.Offset, r.Timestamp = offset, at.UnixMilli()
	return r
}

func decodeDelivery(t *testing.T, r batch.Record, rt *runtimeInfo) *goamqp.Message {
	t.Helper()
	raw, err := appendDelivery(nil, r, rt)
	if err != nil {
		t.Fatal(err)
	}
	var m goamqp.Message
	if err := m.UnmarshalBinary(raw); err != nil {
		t.Fatalf("go-amqp cannot decode the delivery: %v", err)
	}
	return &m
}

// An event sent over AMQP comes back with its properties, application properties,
// annotations and footer unchanged, and the Event Hubs annotations in the types the SDKs need.
func TestRecordRoundTrip(t *testing.T) {
	msgID := "id-1"
	ct := "application/json"
	sent := &goamqp.Message{
		Data:       [][]byte{[]byte(`{"a":1}`)},
		Properties: &goamqp.MessageProperties{MessageID: msgID, ContentType: &ct, CorrelationID: uint64(7)},
		ApplicationProperties: map[string]any{
			"s": "text", "n": int64(42), "b": []byte{0xff, 0}, "t": true,
		},
		Annotations: goamqp.Annotations{"x-opt-partition-key": "key-1", "custom": int32(5)},
		Footer:      goamqp.Annotations{"f": "x"},
		Header:      &goamqp.MessageHeader{Durable: true},
	}
	raw, err := sent.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := message.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	key, err := partitionKey(m)
	if err != nil || key != "key-1" {
		t.Fatalf("partition key %q, %v", key, err)
	}
	rec := eventRecord(m, key)
	if string(rec.Key) != "key-1" || string(rec.Value) != `{"a":1}` {
		t.Fatalf("record key %q value %q", rec.Key, rec.Value)
	}
	// Application properties become headers as Event Hubs' Kafka head shows them.
	hdr := map[string][]byte{}
	for _, h := range rec.Headers {
		hdr[h.Key] = h.Value
	}
	n42, _ := codec.Append(nil, int64(42))
	for k, want := range map[string][]byte{"s": []byte("text"), "b": {0xff, 0}, "n": n42} {
		if !bytes.Equal(hdr[k], want) {
			t.Errorf("header %s = %x, want %x", k, hdr[k], want)
		}
	}
	if env := hdr[broker.AMQPMessageHeader]; len(env) == 0 || env[0] != envelopeData {
		t.Fatalf("envelope header %x", env)
	}

	at := time.UnixMilli(1_765_000_000_123).UTC()
	got := decodeDelivery(t, stored(rec, 42, at), nil)
	if got.Annotations["x-opt-offset"] != "42" {
		t.Errorf("x-opt-offset = %#v, want the string \"42\"", got.Annotations["x-opt-offset"])
	}
	if got.Annotations["x-opt-sequence-number"] != int64(42) {
		t.Errorf("x-opt-sequence-number = %#v, want int64 42", got.Annotations["x-opt-sequence-number"])
	}
	if et, ok := got.Annotations["x-opt-enqueued-time"].(time.Time); !ok || !et.Equal(at) {
		t.Errorf("x-opt-enqueued-time = %#v, want the timestamp %v", got.Annotations["x-opt-enqueued-time"], at)
	}
	if got.Annotations["x-opt-partition-key"] != "key-1" || got.Annotations["custom"] != int32(5) {
		t.Errorf("annotations %#v", got.Annotations)
	}
	if !reflect.DeepEqual(got.ApplicationProperties, sent.ApplicationProperties) {
		t.Errorf("application properties %#v, want %#v", got.ApplicationProperties, sent.ApplicationProperties)
	}
	if got.Properties == nil || got.Properties.MessageID != msgID || *got.Properties.ContentType != ct || got.Properties.CorrelationID != uint64(7) {
		t.Errorf("properties %+v", got.Properties)
	}
	if len(got.Data) != 1 || string(got.Data[0]) != `{"a":1}` || got.Footer["f"] != "x" {
		t.Errorf("body %q footer %v", got.Data, got.Footer)
	}
	if got.Header != nil || got.DeliveryAnnotations != nil {
		t.Errorf("per-hop sections were kept: header %+v, delivery annotations %v", got.Header, got.DeliveryAnnotations)
	}
}

// Bodies that are not one data section (an amqp-value, several data sections) are kept as sent.
func TestRecordRawBody(t *testing.T) {
	for name, sent := range map[string]*goamqp.Message{
		"value":    {Value: map[string]any{"k": int64(1)}},
		"two data": {Data: [][]byte{[]byte("a"), []byte("b")}},
		"sequence": {Sequence: [][]any{{"x", int64(2)}}},
	} {
		raw, err := sent.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m, err := message.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeDelivery(t, stored(eventRecord(m, ""), 0, time.Unix(1, 0)), nil)
		if !reflect.DeepEqual(got.Value, sent.Value) || !reflect.DeepEqual(got.Data, sent.Data) || !reflect.DeepEqual(got.Sequence, sent.Sequence) {
			t.Errorf("%s: body came back as value %#v data %q sequence %#v", name, got.Value, got.Data, got.Sequence)
		}
		if _, ok := got.Annotations["x-opt-partition-key"]; ok {
			t.Errorf("%s: a keyless event got a partition key", name)
		}
	}
}

// Events produced over Kafka or HTTP come with their headers as application properties.
func TestRecordFromKafka(t *testing.T) {
	r := batch.Record{Key: []byte("k"), Value: []byte("v"), Offset: 3, Timestamp: 1000,
		Headers: []batch.RecordHeader{{Key: "text", Value: []byte("hello")}, {Key: "bin", Value: []byte{0xff, 0xfe}}, {Key: "text", Value: []byte("again")}}}
	got := decodeDelivery(t, r, nil)
	want := map[string]any{"text": "hello", "bin": []byte{0xff, 0xfe}}
	if !reflect.DeepEqual(got.ApplicationProperties, want) {
		t.Errorf("application properties %#v, want %#v", got.ApplicationProperties, want)
	}
	if string(got.GetData()) != "v" || got.Annotations["x-opt-partition-key"] != "k" || got.Properties != nil {
		t.Errorf("data %q annotations %v properties %+v", got.GetData(), got.Annotations, got.Properties)
	}
	// A record with no value (a Kafka tombstone) is an empty data section.
	got = decodeDelivery(t, batch.Record{Offset: 4, Timestamp: 1000}, nil)
	if len(got.Data) != 1 || len(got.Data[0]) != 0 {
		t.Errorf("tombstone body %q", got.Data)
	}
}

func TestRuntimeMetric(t *testing.T) {
	last := time.UnixMilli(5000).UTC()
	now := time.UnixMilli(9000).UTC()
	got := decodeDelivery(t, batch.Record{Value: []byte("x"), Offset: 1, Timestamp: 10}, &runtimeInfo{lastSeq: 7, lastTime: last, now: now})
	da := got.DeliveryAnnotations
	if da["last_enqueued_sequence_number"] != int64(7) || da["last_enqueued_offset"] != "7" {
		t.Errorf("delivery annotations %#v", da)
	}
	if lt, ok := da["last_enqueued_time_utc"].(time.Time); !ok || !lt.Equal(last) {
		t.Errorf("last_enqueued_time_utc %#v", da["last_enqueued_time_utc"])
	}
	if rt, ok := da["runtime_info_retrieval_time_utc"].(time.Time); !ok || !rt.Equal(now) {
		t.Errorf("runtime_info_retrieval_time_utc %#v", da["runtime_info_retrieval_time_utc"])
	}
}

func TestBatchEnvelope(t *testing.T) {
	var inner [][]byte
	for i, body := range []string{"one", "two", "three"} {
		m := &goamqp.Message{Data: [][]byte{[]byte(body)}}
		if i == 1 {
			m.Annotations = goamqp.Annotations{"x-opt-partition-key": "own"}
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		inner = append(inner, b)
	}
	env := &goamqp.Message{Data: inner, Annotations: goamqp.Annotations{"x-opt-partition-key": "shared"}}
	raw, err := env.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	evs, err := unpackEvents(message.BatchFormat, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].key != "shared" || evs[1].key != "own" || evs[2].key != "shared" || string(evs[2].m.Data[0]) != "three" {
		t.Fatalf("events %+v", evs)
	}
	// Format 0 is one event, whatever its body.
	if evs, err := unpackEvents(0, raw); err != nil || len(evs) != 1 {
		t.Fatalf("format 0: %d events, %v", len(evs), err)
	}
	empty, _ := (&goamqp.Message{Value: "x"}).MarshalBinary()
	if _, err := unpackEvents(message.BatchFormat, empty); err == nil {
		t.Fatal("a batch without data sections was accepted")
	}
	bad, _ := (&goamqp.Message{Data: [][]byte{[]byte("not a message")}}).MarshalBinary()
	if _, err := unpackEvents(message.BatchFormat, bad); err == nil {
		t.Fatal("a batch whose data section is not a message was accepted")
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, m := range []*goamqp.Message{
		{Data: [][]byte{[]byte("x")}, Annotations: goamqp.Annotations{"x-opt-partition-key": "k"}},
		{Value: "v", ApplicationProperties: map[string]any{"a": int64(1)}},
	} {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := message.Parse(raw)
		if err != nil {
			return
		}
		rec := eventRecord(m, "k")
		if _, err := appendDelivery(nil, stored(rec, 1, time.Unix(1, 0)), nil); err != nil {
			t.Fatalf("a parsed message cannot be delivered: %v", err)
		}
		_, _ = unpackEvents(message.BatchFormat, raw)
	})
}
