package amqp

import (
	"testing"

	goamqp "github.com/Azure/go-amqp"
)

// BenchmarkSend measures go-amqp sends of 1 KiB messages through the engine to a handler
// that keeps them, with up to 100 sends awaiting their disposition.
func BenchmarkSend(b *testing.B) {
	h := newTestHandler()
	srv := NewServer(Options{Handler: h, Logger: discardLogger()})
	addr, stop := serveBench(b, srv)
	defer stop()
	c, err := goamqp.Dial(b.Context(), "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	snd, err := s.NewSender(b.Context(), "echo/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	q := h.queue("echo/bench")
	go func() {
		for range q.ch { // keep the handler's queue from filling
		}
	}()
	msg := goamqp.NewMessage(make([]byte, 1024))
	receipts := make(chan goamqp.SendReceipt, 100)
	done := make(chan error, 1)
	go func() {
		for r := range receipts {
			if _, err := r.Wait(b.Context()); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	b.SetBytes(1024)
	b.ResetTimer()
	for range b.N {
		r, err := snd.SendWithReceipt(b.Context(), msg, nil)
		if err != nil {
			b.Fatal(err)
		}
		receipts <- r
	}
	close(receipts)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	close(q.ch)
}

// BenchmarkReceive measures pre-settled 1 KiB deliveries to a go-amqp receiver with a
// prefetch of 300 (the Go SDK's default).
func BenchmarkReceive(b *testing.B) {
	h := newTestHandler()
	srv := NewServer(Options{Handler: h, Logger: discardLogger()})
	addr, stop := serveBench(b, srv)
	defer stop()
	q := h.queue("echo/bench")
	payload, err := goamqp.NewMessage(make([]byte, 1024)).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for range b.N {
			q.ch <- payload
		}
	}()
	c, err := goamqp.Dial(b.Context(), "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	rcv, err := s.NewReceiver(b.Context(), "echo/bench", &goamqp.ReceiverOptions{Credit: 300})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1024)
	b.ResetTimer()
	for range b.N {
		if _, err := rcv.Receive(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
	}
}
