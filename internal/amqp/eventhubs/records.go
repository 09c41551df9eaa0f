package eventhubs

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/message"
	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/broker"
)

// One event is one event on every protocol (CONTRACT.md, issue 13):
//
// AMQP → record: Key = x-opt-partition-key (as the HTTP API stores a partition key); Value =
// the payload when the body is exactly one data section, else the body sections as sent;
// Timestamp = append time; Headers = one per application property (string → UTF-8, binary →
// bytes, anything else its AMQP encoding) and then broker.AMQPMessageHeader: a flag byte
// (envelopeData or envelopeRawBody) followed by the message-annotations, properties,
// application-properties and footer sections as sent.
//
// record → AMQP: message-annotations = the stored ones with x-opt-sequence-number (long),
// x-opt-offset (decimal string), x-opt-enqueued-time (timestamp) and x-opt-partition-key
// (string, from Key) set; then the stored properties and application-properties, or for
// events that did not come over AMQP one application property per header (string when valid
// UTF-8, else binary); the body; the stored footer.

// Flag byte of the stored envelope.
const (
	envelopeData    byte = 0 // Value is the payload of one data section
	envelopeRawBody byte = 1 // Value is the message's body sections as sent
)

// Message annotations Event Hubs sets on delivered events (types matter to the SDKs).
const (
	annSequenceNumber = "x-opt-sequence-number"
	annOffset         = "x-opt-offset"
	annEnqueuedTime   = "x-opt-enqueued-time"
	annPartitionKey   = "x-opt-partition-key"
)

// eventRecord maps one AMQP message (an event, or one inner event of a batch) to a record.
// key is the partition key the event is sent with ("" for none).
func eventRecord(m *message.Message, key string) batch.Record {
	r := batch.Record{}
	if key != "" {
		r.Key = []byte(key)
	}
	flag := envelopeData
	switch {
	case len(m.Data) == 1: // the body is exactly one data section (message.Parse refuses mixed bodies)
		r.Value = m.Data[0]
		if r.Value == nil {
			r.Value = []byte{}
		}
	default:
		flag = envelopeRawBody
		r.Value = m.BodyRaw
	}
	if m.ApplicationProperties != nil {
		for _, p := range m.ApplicationProperties.Pairs {
			k, ok := p.Key.(string)
			if !ok {
				if s, isSym := p.Key.(codec.Symbol); isSym {
					k, ok = string(s), true
				}
			}
			if !ok {
				continue // application-properties keys are strings (part 3.2.5)
			}
			r.Headers = append(r.Headers, batch.RecordHeader{Key: k, Value: headerValue(p.Value)})
		}
	}
	env := make([]byte, 0, 1+len(m.MessageAnnotationsRaw)+len(m.PropertiesRaw)+len(m.ApplicationPropertiesRaw)+len(m.FooterRaw))
	env = append(env, flag)
	env = append(env, m.MessageAnnotationsRaw...)
	env = append(env, m.PropertiesRaw...)
	env = append(env, m.ApplicationPropertiesRaw...)
	env = append(env, m.FooterRaw...)
	r.Headers = append(r.Headers, batch.RecordHeader{Key: broker.AMQPMessageHeader, Value: env})
	return r
}

// headerValue is an application property as a Kafka header value: strings as UTF-8, binary
// as is, anything else in its AMQP encoding (as Event Hubs' Kafka head shows them).
func headerValue(v any) []byte {
	switch v := v.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	b, err := codec.Append(nil, v)
	if err != nil {
		return nil
	}
	return b
}

// storedEnvelope is a record's AMQP envelope header, split into its sections.
type storedEnvelope struct {
	flag                                  byte
	messageAnn                            *codec.Map
	propertiesRaw, appPropsRaw, footerRaw []byte
}

func findEnvelope(r batch.Record) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == broker.AMQPMessageHeader {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

func parseEnvelope(b []byte) (storedEnvelope, error) {
	if len(b) == 0 || b[0] > envelopeRawBody {
		return storedEnvelope{}, fmt.Errorf("the %s header is not an envelope Tandem wrote", broker.AMQPMessageHeader)
	}
	if len(b) == 1 {
		return storedEnvelope{flag: b[0]}, nil // the message had only a header and a body
	}
	m, err := message.Parse(b[1:])
	if err != nil {
		return storedEnvelope{}, fmt.Errorf("the %s header: %w", broker.AMQPMessageHeader, err)
	}
	return storedEnvelope{flag: b[0], messageAnn: m.MessageAnnotations, propertiesRaw: m.PropertiesRaw,
		appPropsRaw: m.ApplicationPropertiesRaw, footerRaw: m.FooterRaw}, nil
}

// runtimeInfo is the partition's last enqueued event, sent in delivery annotations to
// receivers that asked for com.microsoft:enable-receiver-runtime-metric.
type runtimeInfo struct {
	lastSeq  int64
	lastTime time.Time
	now      time.Time
}

// appendDelivery encodes record r (of a partition) as the AMQP message a receiver gets. A
// record whose envelope header is damaged is delivered as a non-AMQP record would be.
func appendDelivery(dst []byte, r batch.Record, rt *runtimeInfo) ([]byte, error) {
	var env storedEnvelope
	hasEnv := false
	if raw, ok := findEnvelope(r); ok {
		if e, err := parseEnvelope(raw); err == nil {
			env, hasEnv = e, true
		}
	}
	var err error
	if rt != nil {
		da := &codec.Map{}
		da.Set(codec.Symbol("last_enqueued_sequence_number"), rt.lastSeq)
		da.Set(codec.Symbol("last_enqueued_offset"), strconv.FormatInt(rt.lastSeq, 10))
		da.Set(codec.Symbol("last_enqueued_time_utc"), rt.lastTime)
		da.Set(codec.Symbol("runtime_info_retrieval_time_utc"), rt.now)
		if dst, err = message.AppendDeliveryAnnotations(dst, da); err != nil {
			return dst, err
		}
	}
	ma := &codec.Map{}
	if env.messageAnn != nil {
		ma.Pairs = append(ma.Pairs, env.messageAnn.Pairs...)
	}
	ma.Set(codec.Symbol(annSequenceNumber), r.Offset)
	ma.Set(codec.Symbol(annOffset), strconv.FormatInt(r.Offset, 10))
	ma.Set(codec.Symbol(annEnqueuedTime), time.UnixMilli(r.Timestamp).UTC())
	if len(r.Key) > 0 && utf8.Valid(r.Key) {
		ma.Set(codec.Symbol(annPartitionKey), string(r.Key))
	}
	if dst, err = message.AppendMessageAnnotations(dst, ma); err != nil {
		return dst, err
	}
	if hasEnv {
		dst = append(dst, env.propertiesRaw...)
		dst = append(dst, env.appPropsRaw...)
	} else if ap := headerProperties(r.Headers); ap != nil {
		if dst, err = message.AppendApplicationProperties(dst, ap); err != nil {
			return dst, err
		}
	}
	if hasEnv && env.flag == envelopeRawBody && len(r.Value) > 0 {
		dst = append(dst, r.Value...)
	} else {
		dst = message.AppendData(dst, r.Value)
	}
	if hasEnv {
		dst = append(dst, env.footerRaw...)
	}
	return dst, nil
}

// headerProperties maps the headers of a record that did not come over AMQP to application
// properties: strings when valid UTF-8, else binary; a repeated key keeps its first value.
func headerProperties(hs []batch.RecordHeader) *codec.Map {
	if len(hs) == 0 {
		return nil
	}
	ap := &codec.Map{}
	seen := make(map[string]bool, len(hs))
	for _, h := range hs {
		if h.Key == broker.AMQPMessageHeader || seen[h.Key] {
			continue
		}
		seen[h.Key] = true
		if utf8.Valid(h.Value) {
			ap.Pairs = append(ap.Pairs, codec.Pair{Key: h.Key, Value: string(h.Value)})
		} else {
			ap.Pairs = append(ap.Pairs, codec.Pair{Key: h.Key, Value: h.Value})
		}
	}
	if len(ap.Pairs) == 0 {
		return nil
	}
	return ap
}

func timeMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
