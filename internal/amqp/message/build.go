package message

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// Builders append one section each. Call them in the spec's order (header,
// delivery-annotations, message-annotations, properties, application-properties, body, footer);
// raw sections from a parsed Message can be appended in between as they are. A nil map or nil
// *Properties appends nothing. They fail only for Go values the codec cannot encode.

// AppendDeliveryAnnotations appends a delivery-annotations section.
func AppendDeliveryAnnotations(dst []byte, m *codec.Map) ([]byte, error) {
	return appendMapSection(dst, CodeDeliveryAnnotations, m)
}

// AppendMessageAnnotations appends a message-annotations section. Event Hubs keys are symbols
// (codec.Symbol("x-opt-offset")).
func AppendMessageAnnotations(dst []byte, m *codec.Map) ([]byte, error) {
	return appendMapSection(dst, CodeMessageAnnotations, m)
}

// AppendApplicationProperties appends an application-properties section (string keys).
func AppendApplicationProperties(dst []byte, m *codec.Map) ([]byte, error) {
	return appendMapSection(dst, CodeApplicationProperties, m)
}

// AppendFooter appends a footer section.
func AppendFooter(dst []byte, m *codec.Map) ([]byte, error) {
	return appendMapSection(dst, CodeFooter, m)
}

func appendMapSection(dst []byte, code uint64, m *codec.Map) ([]byte, error) {
	if m == nil {
		return dst, nil
	}
	out, err := codec.Append(codec.AppendDescriptor(dst, code), m)
	if err != nil {
		return dst, fmt.Errorf("amqp message: %s section: %w", sectionName(code), err)
	}
	return out, nil
}

// AppendData appends a data section holding payload.
func AppendData(dst []byte, payload []byte) []byte {
	return codec.AppendBinary(codec.AppendDescriptor(dst, CodeData), payload)
}

// AppendValue appends an amqp-value section holding v (a management or CBS body).
func AppendValue(dst []byte, v any) ([]byte, error) {
	out, err := codec.Append(codec.AppendDescriptor(dst, CodeValue), v)
	if err != nil {
		return dst, fmt.Errorf("amqp message: amqp-value section: %w", err)
	}
	return out, nil
}

// AppendSequence appends an amqp-sequence section holding the list l.
func AppendSequence(dst []byte, l []any) ([]byte, error) {
	if l == nil {
		l = []any{}
	}
	out, err := codec.Append(codec.AppendDescriptor(dst, CodeSequence), l)
	if err != nil {
		return dst, fmt.Errorf("amqp message: amqp-sequence section: %w", err)
	}
	return out, nil
}

// AppendProperties appends a properties section; absent fields (see Properties) are null and
// trailing nulls are left out. MessageID and CorrelationID must be a string, uint64,
// codec.UUID or []byte.
func AppendProperties(dst []byte, p *Properties) ([]byte, error) {
	if p == nil {
		return dst, nil
	}
	for _, id := range []any{p.MessageID, p.CorrelationID} {
		switch id.(type) {
		case nil, string, uint64, codec.UUID, []byte:
		default:
			return dst, fmt.Errorf("amqp message: a message-id or correlation-id is a %T; use a string, uint64, codec.UUID or []byte", id)
		}
	}
	f := []any{
		p.MessageID, optBinary(p.UserID), optString(p.To), optString(p.Subject), optString(p.ReplyTo),
		p.CorrelationID, optSymbol(p.ContentType), optSymbol(p.ContentEncoding), nil, nil,
		optString(p.GroupID), nil, optString(p.ReplyToGroupID),
	}
	if !p.AbsoluteExpiry.IsZero() {
		f[8] = p.AbsoluteExpiry
	}
	if !p.CreationTime.IsZero() {
		f[9] = p.CreationTime
	}
	if p.GroupSequence != 0 {
		f[11] = p.GroupSequence
	}
	for len(f) > 0 && f[len(f)-1] == nil {
		f = f[:len(f)-1]
	}
	out, err := codec.Append(codec.AppendDescriptor(dst, CodeProperties), f)
	if err != nil {
		return dst, fmt.Errorf("amqp message: properties section: %w", err)
	}
	return out, nil
}

func optBinary(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func optString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func optSymbol(s codec.Symbol) any {
	if s == "" {
		return nil
	}
	return s
}
