package kafka

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// FuzzRequestFrame feeds arbitrary request frames through parsing and dispatch against a
// real broker. A frame must either be refused with an error (the connection would close) or
// be handled; nothing may panic, and the partition log must stay readable.
func FuzzRequestFrame(f *testing.F) {
	for _, req := range []kmsg.Request{
		kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(), kmsg.NewPtrProduceRequest(),
		kmsg.NewPtrFetchRequest(), kmsg.NewPtrListOffsetsRequest(), kmsg.NewPtrSASLHandshakeRequest(),
		kmsg.NewPtrCreateTopicsRequest(), kmsg.NewPtrOffsetCommitRequest(),
	} {
		lo, hi, _ := supported(req.Key())
		for _, v := range []int16{lo, hi} {
			req.SetVersion(v)
			f.Add(frame(req, v))
		}
	}
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

	dir := f.TempDir()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Dev: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	if err := b.CreateHub(context.Background(), "default", broker.HubSpec{Name: "fuzz", Partitions: 2}); err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	s := New(ln, Options{Broker: b, Dev: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Cleanup(func() { s.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		c := &conn{s: s, remote: "fuzz"}
		r, err := c.parse(data)
		if err != nil {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if finish := c.dispatch(ctx, r); finish != nil {
			cancel() // do not wait on long polls or group barriers
			if resp := finish(); resp != nil {
				resp.AppendTo(nil)
			}
		}
		p, err := b.Partition("default", "fuzz", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Read(p.StartOffset(), 1<<20); err != nil {
			t.Fatalf("log unreadable after a fuzzed request: %v", err)
		}
	})
}

// frame encodes req as a request frame body (header + body, without the size prefix).
func frame(req kmsg.Request, version int16) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 7)
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "fuzz"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}
