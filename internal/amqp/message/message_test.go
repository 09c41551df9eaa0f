package message

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

func ptr[T any](v T) *T { return &v }

var when = time.UnixMilli(1764633600123).UTC()

// A message using every section, as go-amqp (azeventhubs' AMQP client) encodes it.
func fullGoAMQPMessage() *amqp.Message {
	return &amqp.Message{
		Header:              &amqp.MessageHeader{Durable: true, Priority: 5, TTL: 3 * time.Second, DeliveryCount: 2},
		DeliveryAnnotations: amqp.Annotations{"x-opt-lock-token": "t"},
		Annotations:         amqp.Annotations{"x-opt-partition-key": "pk", "x-opt-sequence-number": int64(42)},
		Properties: &amqp.MessageProperties{
			MessageID: "id-1", UserID: []byte("u"), To: ptr("$cbs"), Subject: ptr("s"), ReplyTo: ptr("$cbs$$cbs-reply-to-1"),
			CorrelationID: uint64(7), ContentType: ptr("application/json"), ContentEncoding: ptr("gzip"),
			AbsoluteExpiryTime: ptr(when.Add(time.Hour)), CreationTime: ptr(when), GroupID: ptr("g"),
			GroupSequence: ptr(uint32(3)), ReplyToGroupID: ptr("rg"),
		},
		ApplicationProperties: map[string]any{"operation": "put-token", "n": int64(-5), "i": int32(300),
			"b": true, "f": 1.5, "bin": []byte{1, 2}, "t": when, "u": amqp.UUID{1, 2, 3}},
		Data:   [][]byte{[]byte("first"), bytes.Repeat([]byte("x"), 300)},
		Footer: amqp.Annotations{"hash": "h"},
	}
}

func TestParseGoAMQPMessage(t *testing.T) {
	src := fullGoAMQPMessage()
	raw, err := src.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%x): %v", raw, err)
	}
	if pk, _ := m.MessageAnnotations.Get("x-opt-partition-key"); pk != "pk" {
		t.Errorf("x-opt-partition-key = %#v", pk)
	}
	if sn, _ := m.MessageAnnotations.Get("x-opt-sequence-number"); sn != int64(42) {
		t.Errorf("x-opt-sequence-number = %#v", sn)
	}
	// go-amqp writes annotation keys as symbols.
	if _, ok := m.MessageAnnotations.Pairs[0].Key.(codec.Symbol); !ok {
		t.Errorf("annotation key is a %T, want a symbol", m.MessageAnnotations.Pairs[0].Key)
	}
	if v, _ := m.DeliveryAnnotations.Get("x-opt-lock-token"); v != "t" {
		t.Errorf("delivery annotation = %#v", v)
	}
	want := &Properties{MessageID: "id-1", UserID: []byte("u"), To: "$cbs", Subject: "s", ReplyTo: "$cbs$$cbs-reply-to-1",
		CorrelationID: uint64(7), ContentType: "application/json", ContentEncoding: "gzip",
		AbsoluteExpiry: when.Add(time.Hour), CreationTime: when, GroupID: "g", GroupSequence: 3, ReplyToGroupID: "rg"}
	if !reflect.DeepEqual(m.Properties, want) {
		t.Errorf("properties:\n got %#v\nwant %#v", m.Properties, want)
	}
	for k, v := range map[string]any{"operation": "put-token", "n": int64(-5), "i": int32(300), "b": true, "f": 1.5,
		"bin": []byte{1, 2}, "t": when, "u": codec.UUID{1, 2, 3}} {
		if got, _ := m.ApplicationProperties.Get(k); !reflect.DeepEqual(got, v) {
			t.Errorf("application property %s = %#v, want %#v", k, got, v)
		}
	}
	if !reflect.DeepEqual(m.Data, src.Data) || m.HasValue {
		t.Errorf("data = %q, value %v", m.Data, m.HasValue)
	}
	// The raw sections put back together are the message, and each is the section it names.
	joined := bytes.Join([][]byte{m.Header, m.DeliveryAnnotationsRaw, m.MessageAnnotationsRaw, m.PropertiesRaw,
		m.ApplicationPropertiesRaw, m.BodyRaw, m.FooterRaw}, nil)
	if !bytes.Equal(joined, raw) {
		t.Errorf("raw sections joined differ from the message")
	}
	for code, sec := range map[uint64][]byte{CodeHeader: m.Header, CodeMessageAnnotations: m.MessageAnnotationsRaw,
		CodeProperties: m.PropertiesRaw, CodeApplicationProperties: m.ApplicationPropertiesRaw, CodeData: m.BodyRaw, CodeFooter: m.FooterRaw} {
		if got, _, _, _ := section(sec); got != code {
			t.Errorf("raw section for 0x%x starts with section 0x%x", code, got)
		}
	}
}

// Messages built here decode in go-amqp to what was built.
func TestBuildDecodesInGoAMQP(t *testing.T) {
	ann := &codec.Map{}
	ann.Set(codec.Symbol("x-opt-sequence-number"), int64(9))
	ann.Set(codec.Symbol("x-opt-offset"), "9")
	ann.Set(codec.Symbol("x-opt-enqueued-time"), when)
	ann.Set(codec.Symbol("x-opt-partition-key"), "pk")
	da := &codec.Map{}
	da.Set(codec.Symbol("last_enqueued_sequence_number"), int64(10))
	ap := &codec.Map{}
	ap.Set("status-code", int32(200))
	ap.Set("status-description", "OK")
	props := &Properties{MessageID: codec.UUID{9}, CorrelationID: []byte("req"), To: "to", ContentType: "text/plain",
		CreationTime: when, GroupSequence: 4}
	var b []byte
	var err error
	steps := []func([]byte) ([]byte, error){
		func(b []byte) ([]byte, error) { return AppendDeliveryAnnotations(b, da) },
		func(b []byte) ([]byte, error) { return AppendMessageAnnotations(b, ann) },
		func(b []byte) ([]byte, error) { return AppendProperties(b, props) },
		func(b []byte) ([]byte, error) { return AppendApplicationProperties(b, ap) },
		func(b []byte) ([]byte, error) { return AppendData(b, []byte("payload")), nil },
		func(b []byte) ([]byte, error) {
			return AppendFooter(b, &codec.Map{Pairs: []codec.Pair{{Key: codec.Symbol("f"), Value: "v"}}})
		},
	}
	for _, step := range steps {
		if b, err = step(b); err != nil {
			t.Fatal(err)
		}
	}
	var got amqp.Message
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("go-amqp UnmarshalBinary(%x): %v", b, err)
	}
	if got.Annotations["x-opt-sequence-number"] != int64(9) || got.Annotations["x-opt-offset"] != "9" ||
		!isTime(got.Annotations["x-opt-enqueued-time"], when) || got.Annotations["x-opt-partition-key"] != "pk" {
		t.Errorf("annotations %#v", got.Annotations)
	}
	if got.DeliveryAnnotations["last_enqueued_sequence_number"] != int64(10) {
		t.Errorf("delivery annotations %#v", got.DeliveryAnnotations)
	}
	p := got.Properties
	if p == nil || p.MessageID != (amqp.UUID{9}) || !bytes.Equal(p.CorrelationID.([]byte), []byte("req")) || *p.To != "to" ||
		*p.ContentType != "text/plain" || !p.CreationTime.Equal(when) || *p.GroupSequence != 4 || p.Subject != nil {
		t.Errorf("properties %#v", p)
	}
	if got.ApplicationProperties["status-code"] != int32(200) || got.ApplicationProperties["status-description"] != "OK" {
		t.Errorf("application properties %#v", got.ApplicationProperties)
	}
	if len(got.Data) != 1 || string(got.Data[0]) != "payload" || got.Footer["f"] != "v" {
		t.Errorf("data %q footer %#v", got.Data, got.Footer)
	}

	// A value body, as the $management and $cbs replies use.
	v, err := AppendValue(nil, map[string]any{"partition_ids": []string{"0", "1"}, "name": "hub"})
	if err != nil {
		t.Fatal(err)
	}
	var mv amqp.Message
	if err := mv.UnmarshalBinary(v); err != nil {
		t.Fatal(err)
	}
	body, _ := mv.Value.(map[string]any)
	if ids, _ := body["partition_ids"].([]string); !reflect.DeepEqual(ids, []string{"0", "1"}) {
		t.Errorf("go-amqp reads partition_ids as %#v (want an array of strings)", body["partition_ids"])
	}
}

// A CBS or management reply echoes the request's message-id as correlation-id with its type.
func TestCorrelationIDKeepsType(t *testing.T) {
	for _, id := range []any{"string-id", uint64(77), amqp.UUID{1, 2, 3, 4}, []byte{0xbe, 0xef}} {
		req := &amqp.Message{Properties: &amqp.MessageProperties{MessageID: id, ReplyTo: ptr("reply")}, Value: "token"}
		raw, err := req.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !m.HasValue || m.Value != "token" {
			t.Errorf("request value %#v", m.Value)
		}
		reply, err := AppendProperties(nil, &Properties{CorrelationID: m.Properties.MessageID})
		if err != nil {
			t.Fatal(err)
		}
		ap := &codec.Map{}
		ap.Set("status-code", int32(202))
		reply, _ = AppendApplicationProperties(reply, ap)
		reply, _ = AppendValue(reply, nil)
		var got amqp.Message
		if err := got.UnmarshalBinary(reply); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Properties.CorrelationID, id) {
			t.Errorf("message-id %#v (%T) echoed as correlation-id %#v (%T)", id, id, got.Properties.CorrelationID, got.Properties.CorrelationID)
		}
		ours, err := Parse(reply)
		if err != nil || !reflect.DeepEqual(ours.Properties.CorrelationID, m.Properties.MessageID) {
			t.Errorf("our reply's correlation-id parses as %#v (%T), want %#v: %v", ours.Properties.CorrelationID,
				ours.Properties.CorrelationID, m.Properties.MessageID, err)
		}
	}
}

// A batch envelope as azeventhubs builds it: one data section per event, each a whole message.
func TestBatchEnvelope(t *testing.T) {
	var inner [][]byte
	for i, body := range []string{"e0", "e1", "e2"} {
		msg := &amqp.Message{Data: [][]byte{[]byte(body)}, ApplicationProperties: map[string]any{"i": int64(i)}}
		b, err := msg.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		inner = append(inner, b)
	}
	env := &amqp.Message{Format: BatchFormat, Annotations: amqp.Annotations{"x-opt-partition-key": "pk"}, Data: inner}
	raw, err := env.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	events, err := m.Unbatch()
	if err != nil || len(events) != 3 {
		t.Fatalf("Unbatch: %d events, %v", len(events), err)
	}
	for i, e := range events {
		if n, _ := e.ApplicationProperties.Get("i"); n != int64(i) || len(e.Data) != 1 || string(e.Data[0]) != []string{"e0", "e1", "e2"}[i] {
			t.Errorf("event %d: %#v %q", i, n, e.Data)
		}
	}
	m.Data = append(m.Data, []byte{0x40})
	if _, err := m.Unbatch(); err == nil || !strings.Contains(err.Error(), "batch entry 3") {
		t.Errorf("a bad inner message: %v", err)
	}
}

func TestOtherBodies(t *testing.T) {
	seq := &amqp.Message{Sequence: [][]any{{int64(1), "a"}, {true}}}
	raw, err := seq.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(raw)
	if err != nil || !bytes.Equal(m.BodyRaw, raw) || m.Data != nil || m.HasValue {
		t.Fatalf("sequence body: %#v %v", m, err)
	}
	b, _ := AppendSequence(nil, []any{"x"})
	b, _ = AppendSequence(b, nil)
	var got amqp.Message
	if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got.Sequence, [][]any{{"x"}, nil}) {
		t.Errorf("go-amqp reads our sequences as %#v, %v", got.Sequence, err)
	}
	// A null amqp-value is a value.
	v, _ := AppendValue(nil, nil)
	if m, err := Parse(v); err != nil || !m.HasValue || m.Value != nil {
		t.Errorf("null value: %#v %v", m, err)
	}
}

func isTime(v any, want time.Time) bool {
	t, ok := v.(time.Time)
	return ok && t.Equal(want)
}

func TestParseErrors(t *testing.T) {
	sec := func(code uint64, v any) []byte {
		b, err := codec.Append(codec.AppendDescriptor(nil, code), v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	props, ap := sec(CodeProperties, []any{"id"}), sec(CodeApplicationProperties, &codec.Map{})
	data, value := AppendData(nil, []byte("x")), sec(CodeValue, "v")
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"properties after application-properties", cat(ap, props), "the properties section (byte 6) comes after the application-properties section"},
		{"header after body", cat(data, sec(CodeHeader, []any{})), "the header section (byte 6) comes after the data section"},
		{"annotations after footer", cat(data, sec(CodeFooter, &codec.Map{}), sec(CodeMessageAnnotations, &codec.Map{})), "message-annotations section (byte 12) comes after the footer"},
		{"two properties", cat(props, props), "a second properties section"},
		{"data after value", cat(value, data), "the data section (byte 6) follows a amqp-value section"},
		{"two values", cat(value, value), "follows a amqp-value section"},
		{"value after data", cat(data, value), "the amqp-value section (byte 6) follows a data section"},
		{"not a section", []byte{0x40}, "constructor 0x40 is not a section"},
		{"unknown descriptor", sec(0x79, "x"), "descriptor 121 is not a message section"},
		{"truncated", data[:len(data)-1], "value truncated"},
		{"data not binary", sec(CodeData, "s"), "data section at byte 0: is a string; expected binary"},
		{"annotations not a map", sec(CodeMessageAnnotations, []any{}), "expected a map"},
		{"message-id of a bad type", sec(CodeProperties, []any{int32(1)}), "message-id) is a int32"},
		{"to of a bad type", sec(CodeProperties, []any{nil, nil, int32(1)}), "field 2 (to) is a int32"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.raw)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	// Symbolic section descriptors are sections too.
	b, _ := codec.Append(nil, codec.Described{Descriptor: codec.Symbol("amqp:data:binary"), Value: []byte("d")})
	if m, err := Parse(b); err != nil || string(m.Data[0]) != "d" {
		t.Errorf("symbolic data section: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := AppendProperties(nil, &Properties{MessageID: 5}); err == nil || !strings.Contains(err.Error(), "is a int") {
		t.Errorf("int message-id: %v", err)
	}
	bad := &codec.Map{Pairs: []codec.Pair{{Key: "k", Value: struct{}{}}}}
	if out, err := AppendMessageAnnotations([]byte("x"), bad); err == nil || string(out) != "x" {
		t.Errorf("unencodable annotation: %q %v", out, err)
	}
	if out, _ := AppendMessageAnnotations([]byte("x"), nil); string(out) != "x" {
		t.Errorf("nil annotations appended %q", out)
	}
}
