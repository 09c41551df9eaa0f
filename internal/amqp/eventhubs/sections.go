package eventhubs

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// Message sections (AMQP 1.0 part 3.2), as far as the Event Hubs nodes need them: a scanner
// that finds each section's bytes without re-encoding anything, and the few builders the
// replies and deliveries use.

const (
	secHeader          uint64 = 0x70
	secDeliveryAnn     uint64 = 0x71
	secMessageAnn      uint64 = 0x72
	secProperties      uint64 = 0x73
	secAppProperties   uint64 = 0x74
	secData            uint64 = 0x75
	secSequence        uint64 = 0x76
	secValue           uint64 = 0x77
	secFooter          uint64 = 0x78
	batchMessageFormat uint32 = 0x80013700
)

// msgView is a parsed message; every slice aliases the message's bytes.
type msgView struct {
	MessageAnnRaw []byte     // the whole message-annotations section, or nil
	MessageAnn    *codec.Map // its map
	PropertiesRaw []byte
	MessageID     any    // properties.message-id
	ReplyTo       string // properties.reply-to
	AppPropsRaw   []byte
	AppProps      *codec.Map
	BodyRaw       []byte   // every body section, as sent
	Data          [][]byte // the payloads of the data sections
	Value         any      // the amqp-value, when HasValue
	HasValue      bool
	FooterRaw     []byte
	BodySections  int // how many body sections there were
}

// parseMessage scans the sections of an encoded message. Sections must come in the spec's
// order; header and delivery-annotations (per-hop sections) are skipped.
func parseMessage(raw []byte) (*msgView, error) {
	m := &msgView{}
	last := uint64(0)
	bodyStart, bodyEnd := -1, -1
	for off := 0; off < len(raw); {
		v, n, err := codec.Decode(raw[off:])
		if err != nil {
			return nil, fmt.Errorf("message section at byte %d: %w", off, err)
		}
		d, ok := v.(codec.Described)
		code, isCode := d.Descriptor.(uint64)
		if !ok || !isCode || code < secHeader || code > secFooter {
			return nil, fmt.Errorf("message section at byte %d is not a section of AMQP 1.0 part 3.2 (descriptor %v)", off, d.Descriptor)
		}
		isBody := code == secData || code == secSequence || code == secValue
		if code < last || (code == last && !isBody) {
			return nil, fmt.Errorf("message section 0x%x at byte %d comes after section 0x%x; sections must be in the spec's order", code, off, last)
		}
		last = code
		sec := raw[off : off+n]
		switch code {
		case secMessageAnn:
			m.MessageAnnRaw = sec
			m.MessageAnn, _ = d.Value.(*codec.Map)
		case secProperties:
			m.PropertiesRaw = sec
			if f, ok := d.Value.([]any); ok {
				if len(f) > 0 {
					m.MessageID = f[0]
				}
				if len(f) > 4 {
					m.ReplyTo, _ = f[4].(string)
				}
			}
		case secAppProperties:
			m.AppPropsRaw = sec
			m.AppProps, _ = d.Value.(*codec.Map)
		case secData:
			b, ok := d.Value.([]byte)
			if !ok && d.Value != nil {
				return nil, fmt.Errorf("data section at byte %d holds a %T, not binary", off, d.Value)
			}
			m.Data = append(m.Data, b)
		case secValue:
			m.Value, m.HasValue = d.Value, true
		case secFooter:
			m.FooterRaw = sec
		}
		if isBody {
			m.BodySections++
			if bodyStart < 0 {
				bodyStart = off
			}
			bodyEnd = off + n
		}
		off += n
	}
	if bodyStart >= 0 {
		m.BodyRaw = raw[bodyStart:bodyEnd]
	}
	return m, nil
}

// annotation returns the value of a message annotation (keys are symbols; strings match too).
func (m *msgView) annotation(key string) (any, bool) { return m.MessageAnn.Get(key) }

// appendSection appends a section: its descriptor and value.
func appendSection(dst []byte, code uint64, v any) ([]byte, error) {
	return codec.Append(codec.AppendDescriptor(dst, code), v)
}

// appendData appends a data section holding payload.
func appendData(dst, payload []byte) []byte {
	if payload == nil {
		payload = []byte{}
	}
	return codec.AppendBinary(codec.AppendDescriptor(dst, secData), payload)
}

// appendCorrelationProperties appends a properties section with only correlation-id set (a
// reply's), or nothing when id is nil.
func appendCorrelationProperties(dst []byte, id any) ([]byte, error) {
	if id == nil {
		return dst, nil
	}
	return appendSection(dst, secProperties, []any{nil, nil, nil, nil, nil, id})
}
