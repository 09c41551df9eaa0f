package eventhubs

import (
	"bytes"
	"context"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp/message"
)

// BenchmarkReceiverNext reads a partition of 1 KiB events stored in batches of 100 (as the Go
// SDK sends them) with the credit the Go SDK gives at its default prefetch of 300: it refills
// at half, so each Next is asked for about 150 events. ns/op is per event.
func BenchmarkReceiverNext(b *testing.B) {
	const events, perBatch, credit = 20000, 100, 150
	f := newFixture(b, false)
	c := f.authed()
	in := incoming(b, c, "hub1/Partitions/0")
	body := bytes.Repeat([]byte("x"), 1024)
	for sent := 0; sent < events; sent += perBatch {
		batch := make([]*goamqp.Message, perBatch)
		for i := range batch {
			batch[i] = &goamqp.Message{Data: [][]byte{body}, ApplicationProperties: map[string]any{"n": int64(sent + i)}}
		}
		send(b, in, message.BatchFormat, batchOf(b, "", batch...))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	read := 0
	for read < b.N {
		out, ferr := c.AttachOutgoing(ctx, receiverAttach("hub1/ConsumerGroups/$Default/Partitions/0",
			"amqp.annotation.x-opt-offset > '-1'", nil, "bench"))
		if ferr != nil {
			b.Fatal(ferr)
		}
		for got := 0; got < events && read < b.N; {
			ds, err := out.Next(ctx, credit)
			if err != nil {
				b.Fatal(err)
			}
			got += len(ds)
			read += len(ds)
		}
		out.Close()
	}
}
