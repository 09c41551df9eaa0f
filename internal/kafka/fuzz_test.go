package kafka

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

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

// FuzzPreAuthFrames feeds arbitrary bytes to an unauthenticated connection, as any TCP
// client may: through the frame reader, parsing, SASL and dispatch, with the responses
// read back. Nothing may panic; the memory budget taken never exceeds twice the bytes
// sent plus one 64 KiB chunk (a frame is never allocated at the size it claims), and every
// byte of it is given back when the connection ends.
func FuzzPreAuthFrames(f *testing.F) {
	sized := func(body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version, au.SASLAuthBytes = 2, []byte("\x00$ConnectionString\x00Endpoint=sb://default/;SharedAccessKeyName=r;SharedAccessKey=k")
	hs0 := kmsg.NewPtrSASLHandshakeRequest()
	hs0.Mechanism = "PLAIN"
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	f.Add(append(append(sized(frame(av, 3)), sized(frame(hs, 1))...), sized(frame(au, 2))...))
	f.Add(append(sized(frame(hs0, 0)), sized([]byte("\x00user\x00pass"))...))
	f.Add(append(sized(frame(hs, 1)), sized(frame(hs, 1))...))
	f.Add([]byte{0x06, 0x40, 0, 0, 1, 2, 3})           // claims 100 MiB
	f.Add([]byte{0, 7, 0xff, 0xf0, 0, 18, 0, 0, 0, 1}) // claims just under the cap
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(sized(frame(kmsg.NewPtrMetadataRequest(), 0)))
	f.Add([]byte{0, 0, 0, 0x12, 0, 0x25, 0, 3, 0x30, 0x30, 0x30, 0x30, 0, 4, 0x30, 0x30, 0x30, 0x30, 0xec, 0xec, 0xec, 0x30})

	dir := f.TempDir()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	s := New(ln, Options{Broker: b, AuthTimeout: 5 * time.Second, MemoryWait: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Cleanup(func() { s.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		s.budget = newMemBudget(DefaultMemoryBudget, nil)
		client, server := net.Pipe()
		c := newConn(s, server)
		done := make(chan struct{})
		go func() { defer close(done); c.serve() }()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(10 * time.Second))
		client.Write(data) // fails once the server closes; the rest is never read
		client.Close()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("the connection did not end after the client closed")
		}
		used, peak := s.budget.usage()
		if used != 0 {
			t.Fatalf("%d bytes of memory budget still held after the connection ended", used)
		}
		if bound := int64(2*len(data) + frameChunk); peak > bound {
			t.Fatalf("the connection took %d bytes of budget for %d bytes sent (bound %d)", peak, len(data), bound)
		}
	})
}
