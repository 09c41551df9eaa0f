package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Read-ahead buffer sizes: small until the connection authenticates, so thousands of
// silent connections cost little, and larger afterwards for pipelined small requests.
const (
	preAuthReadBuf = 4 << 10
	authedReadBuf  = 64 << 10
	// frameChunk is the most a frame buffer starts with; it doubles as bytes arrive.
	frameChunk = 64 << 10
)

// frameLimit is the largest frame accepted now and the flag that sets it (for the error).
type frameLimit struct {
	bytes int
	flag  string
}

// frameReader reads length-prefixed request frames. It never allocates what a client
// claims: a frame's buffer starts at most frameChunk bytes and doubles as bytes arrive,
// each growth taken from the memory budget first. A read that fails (a deadline) leaves
// the frame in progress; calling next again resumes it.
type frameReader struct {
	src    io.Reader
	budget *memBudget
	wait   time.Duration // longest wait for budget before the connection is given up

	rbuf []byte // read-ahead; rbuf[r:w] is unread
	r, w int

	// The frame in progress.
	hdr   [4]byte
	nhdr  int
	frame []byte
	held  int64 // budget taken for frame
}

func newFrameReader(src io.Reader, budget *memBudget, wait time.Duration, bufSize int) *frameReader {
	return &frameReader{src: src, budget: budget, wait: wait, rbuf: make([]byte, bufSize)}
}

// setBufSize grows the read-ahead buffer, keeping what it holds.
func (fr *frameReader) setBufSize(n int) {
	if n <= len(fr.rbuf) {
		return
	}
	nb := make([]byte, n)
	fr.w = copy(nb, fr.rbuf[fr.r:fr.w])
	fr.r, fr.rbuf = 0, nb
}

// next returns the next frame (without its size prefix) and the budget bytes it holds,
// which the caller releases when the frame is no longer used. A frame outside 8..lim.bytes
// is refused before any of its body is read.
func (fr *frameReader) next(ctx context.Context, lim frameLimit) ([]byte, int64, error) {
	for fr.nhdr < len(fr.hdr) {
		if err := fr.fill(fr.nhdr > 0); err != nil {
			return nil, 0, err
		}
		n := copy(fr.hdr[fr.nhdr:], fr.rbuf[fr.r:fr.w])
		fr.r += n
		fr.nhdr += n
	}
	size := int(int32(binary.BigEndian.Uint32(fr.hdr[:])))
	if size < 8 || size > lim.bytes {
		return nil, 0, closing("frame_too_large", errcode.New(errcode.QuotaExceeded,
			"request frame of %d bytes is outside 8..%d bytes (%s)", size, lim.bytes, lim.flag))
	}
	if fr.frame == nil {
		if err := fr.grow(ctx, min(size, frameChunk)); err != nil {
			return nil, 0, err
		}
	}
	for len(fr.frame) < size {
		if len(fr.frame) == cap(fr.frame) {
			if err := fr.grow(ctx, min(size, 2*cap(fr.frame))); err != nil {
				return nil, 0, err
			}
		}
		// A pooled buffer may be larger than the frame: never read past the frame's end.
		room := min(cap(fr.frame), size)
		if fr.r == fr.w && room-len(fr.frame) >= len(fr.rbuf) {
			// Large reads go straight into the frame, not through the read-ahead.
			n, err := fr.src.Read(fr.frame[len(fr.frame):room])
			fr.frame = fr.frame[:len(fr.frame)+n]
			if n == 0 && err != nil {
				return nil, 0, unexpectedEOF(err)
			}
			continue
		}
		if err := fr.fill(true); err != nil {
			return nil, 0, err
		}
		n := copy(fr.frame[len(fr.frame):room], fr.rbuf[fr.r:fr.w])
		fr.frame = fr.frame[:len(fr.frame)+n]
		fr.r += n
	}
	frame, held := fr.frame, fr.held
	fr.frame, fr.held, fr.nhdr = nil, 0, 0
	return frame, held, nil
}

// grow replaces the frame buffer with a (pooled) one of at least n bytes, taking the
// difference of their capacities from the budget, and recycles the one it replaces.
func (fr *frameReader) grow(ctx context.Context, n int) error {
	c := frameCap(n)
	more := int64(c - cap(fr.frame))
	if err := fr.budget.acquire(ctx, more, fr.wait); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return closing("memory_budget", err)
	}
	fr.held += more
	nb := getFrameBuf(c)[:len(fr.frame)]
	copy(nb, fr.frame)
	putFrameBuf(fr.frame)
	fr.frame = nb
	return nil
}

// fill makes sure the read-ahead holds unread bytes. midFrame turns EOF into
// ErrUnexpectedEOF.
func (fr *frameReader) fill(midFrame bool) error {
	if fr.r < fr.w {
		return nil
	}
	fr.r, fr.w = 0, 0
	for {
		n, err := fr.src.Read(fr.rbuf)
		fr.w = n
		if n > 0 {
			return nil
		}
		if err != nil {
			if midFrame {
				return unexpectedEOF(err)
			}
			return err
		}
	}
}

// close returns the budget and the buffer of a frame left half read.
func (fr *frameReader) close() {
	fr.budget.release(fr.held)
	putFrameBuf(fr.frame)
	fr.frame, fr.held = nil, 0
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// preAuthKeys are the requests decoded before SASL completes (outside --dev): any other
// closes the connection before its body is decoded.
var preAuthKeys = map[int16]bool{17: true, 18: true, 36: true}

// skipTags skips a tagged-field block. Unlike kmsg.SkipTags it stops at the end of the
// input: a claimed count of 2^32 in five bytes does not cost 2^32 iterations.
func skipTags(rd *kbin.Reader) {
	for num := rd.Uvarint(); num > 0 && rd.Ok(); num-- {
		rd.Uvarint()
		rd.Span(int(rd.Uvarint()))
	}
}

// checkPreAuthBody walks the body of a flexible request read before authentication and
// checks its tag block, before kmsg decodes it: kmsg loops over a tag count without
// checking it against the bytes left, so five bytes could cost a minute of CPU.
// ApiVersions v3+ is two compact strings and tags; SaslAuthenticate v2 compact bytes and
// tags; SaslHandshake is never flexible.
func checkPreAuthBody(key, version int16, body []byte) error {
	fields := 0
	switch {
	case key == 18 && version >= 3:
		fields = 2
	case key == 36 && version >= 2:
		fields = 1
	default:
		return nil
	}
	rd := kbin.Reader{Src: body}
	for range fields {
		rd.CompactBytes()
	}
	if n := rd.Uvarint(); rd.Ok() && int64(n) > int64(len(rd.Src)) {
		return fmt.Errorf("malformed %s v%d request: %d tagged fields in %d bytes", kmsg.NameForKey(key), version, n, len(rd.Src))
	}
	return nil
}
