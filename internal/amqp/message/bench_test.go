package message

import (
	"testing"

	"github.com/Azure/go-amqp"
)

// Parse of an event as azeventhubs sends it, and of a 100-event batch envelope.
func BenchmarkParseEvent(b *testing.B) {
	raw, _ := (&amqp.Message{Annotations: amqp.Annotations{"x-opt-partition-key": "pk"},
		ApplicationProperties: map[string]any{"k": "v", "n": int64(1)}, Data: [][]byte{make([]byte, 1024)}}).MarshalBinary()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBatch100(b *testing.B) {
	inner, _ := (&amqp.Message{ApplicationProperties: map[string]any{"k": "v"}, Data: [][]byte{make([]byte, 256)}}).MarshalBinary()
	env := &amqp.Message{Format: BatchFormat, Annotations: amqp.Annotations{"x-opt-partition-key": "pk"}}
	for i := 0; i < 100; i++ {
		env.Data = append(env.Data, inner)
	}
	raw, _ := env.MarshalBinary()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		m, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Unbatch(); err != nil {
			b.Fatal(err)
		}
	}
}
