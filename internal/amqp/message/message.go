// Package message is the AMQP 1.0 message format (OASIS AMQP 1.0, part 3.2): a scanner that
// splits an encoded message into its sections without re-encoding anything, and builders that
// append sections. Tandem stores what a client sent verbatim and splices fresh annotations in
// front of it on delivery, so every decoded part here comes with the raw bytes it came from.
// It owns no I/O and no protocol state.
package message

import (
	"fmt"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// BatchFormat is the transfer message-format of an Event Hubs batch envelope: its body is one
// data section per event, each holding a whole encoded message.
const BatchFormat uint32 = 0x80013700

// Section descriptor codes (part 3.2).
const (
	CodeHeader                uint64 = 0x70
	CodeDeliveryAnnotations   uint64 = 0x71
	CodeMessageAnnotations    uint64 = 0x72
	CodeProperties            uint64 = 0x73
	CodeApplicationProperties uint64 = 0x74
	CodeData                  uint64 = 0x75
	CodeSequence              uint64 = 0x76
	CodeValue                 uint64 = 0x77
	CodeFooter                uint64 = 0x78
)

// Properties is the properties section (part 3.2.4). MessageID and CorrelationID keep their
// AMQP type: string, uint64, codec.UUID or []byte (a reply must echo the request's type). A zero
// time, an empty string and a zero GroupSequence are absent.
type Properties struct {
	MessageID       any
	UserID          []byte
	To, Subject     string
	ReplyTo         string
	CorrelationID   any
	ContentType     codec.Symbol
	ContentEncoding codec.Symbol
	AbsoluteExpiry  time.Time
	CreationTime    time.Time
	GroupID         string
	GroupSequence   uint32
	ReplyToGroupID  string
}

// Message is a scanned message. Every slice aliases Raw; every …Raw field is a whole section
// (descriptor included), ready to be copied verbatim into another message.
type Message struct {
	Raw                      []byte
	Header                   []byte // the raw header section
	DeliveryAnnotations      *codec.Map
	DeliveryAnnotationsRaw   []byte
	MessageAnnotations       *codec.Map
	MessageAnnotationsRaw    []byte
	Properties               *Properties
	PropertiesRaw            []byte
	ApplicationProperties    *codec.Map
	ApplicationPropertiesRaw []byte
	Data                     [][]byte // payloads of the data sections
	Value                    any      // the amqp-value section's value
	HasValue                 bool     // there is an amqp-value section (Value may be nil)
	BodyRaw                  []byte   // every body section (data, amqp-sequence or amqp-value), raw
	FooterRaw                []byte
}

var sectionNames = map[codec.Symbol]uint64{
	"amqp:header:list": CodeHeader, "amqp:delivery-annotations:map": CodeDeliveryAnnotations,
	"amqp:message-annotations:map": CodeMessageAnnotations, "amqp:properties:list": CodeProperties,
	"amqp:application-properties:map": CodeApplicationProperties, "amqp:data:binary": CodeData,
	"amqp:amqp-sequence:list": CodeSequence, "amqp:amqp-value:*": CodeValue, "amqp:footer:map": CodeFooter,
}

// sectionName is the section's name as the spec writes it, for errors.
func sectionName(code uint64) string {
	names := [...]string{"header", "delivery-annotations", "message-annotations", "properties",
		"application-properties", "data", "amqp-sequence", "amqp-value", "footer"}
	if code >= CodeHeader && code <= CodeFooter {
		return names[code-CodeHeader]
	}
	return fmt.Sprintf("0x%x", code)
}

// rank orders the sections; body sections share one rank.
func rank(code uint64) int {
	switch code {
	case CodeData, CodeSequence, CodeValue:
		return int(CodeData - CodeHeader)
	case CodeFooter:
		return int(CodeData-CodeHeader) + 1
	}
	return int(code - CodeHeader)
}

const specOrder = "header, delivery-annotations, message-annotations, properties, application-properties, body (data, amqp-sequence or amqp-value), footer"

// Parse scans an encoded message. Sections must come in the spec's order, each at most once
// (body sections excepted), and a body must be data sections only, amqp-sequence sections only
// or one amqp-value; anything else is an error naming the section out of place.
func Parse(raw []byte) (*Message, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("amqp message: empty; a message has at least one section")
	}
	m := &Message{Raw: raw}
	last, lastCode, bodyStart := -1, uint64(0), -1
	for off := 0; off < len(raw); {
		code, v, n, err := section(raw[off:])
		if err != nil {
			return nil, fmt.Errorf("amqp message: section at byte %d: %w", off, err)
		}
		sec := raw[off : off+n : off+n]
		r := rank(code)
		switch {
		case r < last:
			return nil, fmt.Errorf("amqp message: the %s section (byte %d) comes after the %s section; sections must be in the order %s",
				sectionName(code), off, sectionName(lastCode), specOrder)
		case r == last && r != rank(CodeData):
			return nil, fmt.Errorf("amqp message: a second %s section at byte %d; it may appear once", sectionName(code), off)
		case r == last && (code != lastCode || code == CodeValue):
			return nil, fmt.Errorf("amqp message: the %s section (byte %d) follows a %s section; a body is one or more data sections, one or more amqp-sequence sections, or one amqp-value section",
				sectionName(code), off, sectionName(lastCode))
		}
		if err := m.set(code, v, sec); err != nil {
			return nil, fmt.Errorf("amqp message: %s section at byte %d: %w", sectionName(code), off, err)
		}
		if r == rank(CodeData) {
			if bodyStart < 0 {
				bodyStart = off
			}
			m.BodyRaw = raw[bodyStart : off+n : off+n]
		}
		last, lastCode = r, code
		off += n
	}
	return m, nil
}

// section decodes one section at the start of b: its code, its decoded value and its length.
func section(b []byte) (uint64, any, int, error) {
	if b[0] != 0x00 {
		return 0, nil, 0, fmt.Errorf("constructor 0x%02x is not a section (a described value, 0x00)", b[0])
	}
	d, n1, err := codec.Decode(b[1:])
	if err != nil {
		return 0, nil, 0, fmt.Errorf("descriptor: %w", err)
	}
	var code uint64
	switch d := d.(type) {
	case uint64:
		code = d
	case codec.Symbol:
		code = sectionNames[d]
	}
	if code < CodeHeader || code > CodeFooter {
		return 0, nil, 0, fmt.Errorf("descriptor %v is not a message section (0x70…0x78)", d)
	}
	v, n2, err := codec.Decode(b[1+n1:])
	if err != nil {
		return 0, nil, 0, err
	}
	return code, v, 1 + n1 + n2, nil
}

func (m *Message) set(code uint64, v any, sec []byte) error {
	var err error
	switch code {
	case CodeHeader:
		if _, ok := v.([]any); !ok && v != nil {
			return fmt.Errorf("is a %T; expected a list", v)
		}
		m.Header = sec
	case CodeDeliveryAnnotations:
		m.DeliveryAnnotations, err = asMap(v)
		m.DeliveryAnnotationsRaw = sec
	case CodeMessageAnnotations:
		m.MessageAnnotations, err = asMap(v)
		m.MessageAnnotationsRaw = sec
	case CodeProperties:
		m.Properties, err = decodeProperties(v)
		m.PropertiesRaw = sec
	case CodeApplicationProperties:
		m.ApplicationProperties, err = asMap(v)
		m.ApplicationPropertiesRaw = sec
	case CodeData:
		b, ok := v.([]byte)
		if !ok {
			return fmt.Errorf("is a %T; expected binary", v)
		}
		m.Data = append(m.Data, b)
	case CodeSequence:
		if _, ok := v.([]any); !ok {
			return fmt.Errorf("is a %T; expected a list", v)
		}
	case CodeValue:
		m.Value, m.HasValue = v, true
	case CodeFooter:
		_, err = asMap(v)
		m.FooterRaw = sec
	}
	return err
}

func asMap(v any) (*codec.Map, error) {
	switch m := v.(type) {
	case *codec.Map:
		return m, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("is a %T; expected a map", v)
}

func decodeProperties(v any) (*Properties, error) {
	f, ok := v.([]any)
	if !ok {
		if v == nil {
			return &Properties{}, nil
		}
		return nil, fmt.Errorf("is a %T; expected a list", v)
	}
	get := func(i int) any {
		if i < len(f) {
			return f[i]
		}
		return nil
	}
	var err error
	str := func(i int, name string) string {
		switch s := get(i).(type) {
		case nil:
		case string:
			return s
		case codec.Symbol:
			return string(s)
		default:
			if err == nil {
				err = fmt.Errorf("field %d (%s) is a %T; expected a string", i, name, s)
			}
		}
		return ""
	}
	when := func(i int, name string) time.Time {
		switch t := get(i).(type) {
		case nil:
		case time.Time:
			return t
		default:
			if err == nil {
				err = fmt.Errorf("field %d (%s) is a %T; expected a timestamp", i, name, t)
			}
		}
		return time.Time{}
	}
	p := &Properties{
		MessageID:       get(0),
		To:              str(2, "to"),
		Subject:         str(3, "subject"),
		ReplyTo:         str(4, "reply-to"),
		CorrelationID:   get(5),
		ContentType:     codec.Symbol(str(6, "content-type")),
		ContentEncoding: codec.Symbol(str(7, "content-encoding")),
		AbsoluteExpiry:  when(8, "absolute-expiry-time"),
		CreationTime:    when(9, "creation-time"),
		GroupID:         str(10, "group-id"),
		ReplyToGroupID:  str(12, "reply-to-group-id"),
	}
	switch u := get(1).(type) {
	case nil:
	case []byte:
		p.UserID = u
	default:
		return nil, fmt.Errorf("field 1 (user-id) is a %T; expected binary", u)
	}
	switch g := get(11).(type) {
	case nil:
	case uint32:
		p.GroupSequence = g
	default:
		return nil, fmt.Errorf("field 11 (group-sequence) is a %T; expected a uint", g)
	}
	for i, id := range []any{p.MessageID, p.CorrelationID} {
		switch id.(type) {
		case nil, string, uint64, codec.UUID, []byte:
		default:
			return nil, fmt.Errorf("field %d (%s) is a %T; expected a string, ulong, uuid or binary",
				[]int{0, 5}[i], []string{"message-id", "correlation-id"}[i], id)
		}
	}
	return p, err
}

// Unbatch parses the inner messages of a batch envelope (transfer message-format BatchFormat):
// one per data section.
func (m *Message) Unbatch() ([]*Message, error) {
	out := make([]*Message, 0, len(m.Data))
	for i, d := range m.Data {
		inner, err := Parse(d)
		if err != nil {
			return nil, fmt.Errorf("batch entry %d: %w", i, err)
		}
		out = append(out, inner)
	}
	return out, nil
}
