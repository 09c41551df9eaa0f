package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

func TestFrameCap(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{8, 1 << 10}, {1 << 10, 1 << 10}, {1<<10 + 1, 2 << 10}, {64 << 10, 64 << 10},
		{100 << 10, 128 << 10}, {8 << 20, 8 << 20}, {8<<20 + 1, 8<<20 + 1}, {100 << 20, 100 << 20},
	} {
		if got := frameCap(c.n); got != c.want {
			t.Errorf("frameCap(%d) = %d, want %d", c.n, got, c.want)
		}
		_, pooled := frameClass(frameCap(c.n))
		if want := c.n <= 8<<20; pooled != want {
			t.Errorf("frameCap(%d) pooled = %v, want %v", c.n, pooled, want)
		}
	}
}

// chunkyReader returns what it holds in reads of random sizes, as a socket does.
type chunkyReader struct {
	src *bytes.Reader
	rng *rand.Rand
}

func (r *chunkyReader) Read(p []byte) (int, error) {
	if n := 1 + r.rng.IntN(96<<10); len(p) > n {
		p = p[:n]
	}
	return r.src.Read(p)
}

// TestFrameReaderRecycledBuffers reads frames of random sizes back to back through recycled,
// dirty buffers: every frame must come out exactly as sent (a read past a frame's end into a
// larger pooled buffer would take the next frame's bytes), hold the budget of its buffer's
// whole capacity, and give all of it back.
func TestFrameReaderRecycledBuffers(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	var stream bytes.Buffer
	var frames [][]byte
	for range 300 {
		n := 8 + rng.IntN(300<<10)
		if rng.IntN(4) == 0 {
			n = 8 + rng.IntN(2<<10)
		}
		f := make([]byte, n)
		for i := range f {
			f[i] = byte(rng.Uint32())
		}
		frames = append(frames, f)
		stream.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
		stream.Write(f)
	}
	budget := newMemBudget(64<<20, nil)
	fr := newFrameReader(&chunkyReader{bytes.NewReader(stream.Bytes()), rng}, budget, time.Second, authedReadBuf)
	lim := frameLimit{bytes: 1 << 20, flag: "test"}
	for i, want := range frames {
		got, held, err := fr.next(context.Background(), lim)
		if err != nil {
			t.Fatalf("seed %d: frame %d: %v", seed, i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: frame %d (%d bytes) differs from what was sent", seed, i, len(want))
		}
		if held != int64(cap(got)) {
			t.Fatalf("seed %d: frame %d holds %d bytes of budget for a buffer of %d", seed, i, held, cap(got))
		}
		if used, _ := budget.usage(); used != held {
			t.Fatalf("seed %d: frame %d: budget in use %d, the frame holds %d", seed, i, used, held)
		}
		for j := range got {
			got[j] = 0xAA // dirty the buffer for whoever gets it next
		}
		putFrameBuf(got)
		budget.release(held)
	}
	if _, _, err := fr.next(context.Background(), lim); err != io.EOF {
		t.Fatalf("seed %d: after the last frame: %v, want EOF", seed, err)
	}
	fr.close()
	if used, _ := budget.usage(); used != 0 {
		t.Fatalf("seed %d: %d bytes of budget not given back", seed, used)
	}
}

// BenchmarkFrameReader reads 100 KiB produce-sized frames and gives each back as a finished
// Produce does.
//
//	go test -run '^$' -bench FrameReader -benchmem ./internal/kafka/
func BenchmarkFrameReader(b *testing.B) {
	const size = 100 << 10
	frame := append(binary.BigEndian.AppendUint32(nil, size), make([]byte, size)...)
	src := bytes.NewReader(nil)
	budget := newMemBudget(1<<30, nil)
	fr := newFrameReader(src, budget, time.Second, authedReadBuf)
	lim := frameLimit{bytes: 1 << 20, flag: "test"}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(frame)
		got, held, err := fr.next(context.Background(), lim)
		if err != nil {
			b.Fatal(err)
		}
		putFrameBuf(got)
		budget.release(held)
	}
}
