package message

import (
	"bytes"
	"testing"

	"github.com/Azure/go-amqp"
)

// FuzzMessageParse: Parse never panics; the raw sections of a parsed message put back together
// are the message; properties rebuilt from what was parsed reach a fixed point.
func FuzzMessageParse(f *testing.F) {
	seeds := []*amqp.Message{
		fullGoAMQPMessage(),
		{Value: "token", Properties: &amqp.MessageProperties{MessageID: uint64(1)}},
		{Sequence: [][]any{{int64(1)}}},
		{Data: [][]byte{[]byte("a"), []byte("b")}, Format: BatchFormat},
	}
	for _, s := range seeds {
		b, err := s.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw)
		if err != nil {
			return
		}
		joined := bytes.Join([][]byte{m.Header, m.DeliveryAnnotationsRaw, m.MessageAnnotationsRaw, m.PropertiesRaw,
			m.ApplicationPropertiesRaw, m.BodyRaw, m.FooterRaw}, nil)
		if !bytes.Equal(joined, raw) {
			t.Fatalf("raw sections joined %x differ from the message %x", joined, raw)
		}
		if m.Properties == nil {
			return
		}
		b1, err := AppendProperties(nil, m.Properties)
		if err != nil {
			t.Fatalf("parsed properties do not encode: %v", err)
		}
		m1, err := Parse(b1)
		if err != nil {
			t.Fatalf("rebuilt properties %x do not parse: %v", b1, err)
		}
		b2, err := AppendProperties(nil, m1.Properties)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("properties unstable: %x then %x (%v)", b1, b2, err)
		}
	})
}
