package amqp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// Error conditions the engine sends (part 2.8.15 and the link, session and connection
// error sections).
const (
	condInternal           = "amqp:internal-error"
	condNotAllowed         = "amqp:not-allowed"
	condResourceLimit      = "amqp:resource-limit-exceeded"
	condDecode             = "amqp:decode-error"
	condConnForced         = "amqp:connection:forced"
	condFramingError       = "amqp:connection:framing-error"
	condUnattachedHandle   = "amqp:session:unattached-handle"
	condHandleInUse        = "amqp:session:handle-in-use"
	condMessageSize        = "amqp:link:message-size-exceeded"
	condTransferLimit      = "amqp:link:transfer-limit-exceeded"
	protoHeaderLen         = 8
	heartbeatFloor         = 50 * time.Millisecond
	maxTransferFrameHeader = 128 // a transfer performative with a 32-byte tag is well under this
)

func amqpErr(cond, format string, args ...any) *frames.Error {
	return &frames.Error{Condition: codec.Symbol(cond), Description: fmt.Sprintf(format, args...)}
}

// protoHeader is "AMQP" id 1 0 0 (part 2.2, part 5.2).
func protoHeader(id byte) []byte { return []byte{'A', 'M', 'Q', 'P', id, 1, 0, 0} }

// parseProtoHeader returns the protocol id of an 8-byte protocol header, or an error when it
// is not AMQP 1.0.0.
func parseProtoHeader(b []byte) (byte, error) {
	if len(b) < protoHeaderLen || string(b[:4]) != "AMQP" {
		return 0, fmt.Errorf("not an AMQP protocol header: % x", b)
	}
	if b[5] != 1 || b[6] != 0 || b[7] != 0 {
		return 0, fmt.Errorf("AMQP version %d.%d.%d is not supported; only 1.0.0 is", b[5], b[6], b[7])
	}
	return b[4], nil
}

// frameError is a malformed or oversized frame: the connection is closed with
// amqp:connection:framing-error (or the condition given).
type frameError struct{ err *frames.Error }

func (e *frameError) Error() string { return e.err.Error() }

// rawFrame is one frame read: its type, channel and body (after the extended header). An
// empty body is a heartbeat.
type rawFrame struct {
	typ     byte
	channel uint16
	body    []byte
}

// readFrame reads one frame of at most limit bytes from br. It never allocates more than the
// frame's real size, which limit bounds.
func readFrame(br *bufio.Reader, limit uint32) (rawFrame, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return rawFrame{}, err
	}
	size := binary.BigEndian.Uint32(hdr[0:4])
	doff := hdr[4]
	f := rawFrame{typ: hdr[5], channel: binary.BigEndian.Uint16(hdr[6:8])}
	switch {
	case size < 8:
		return f, &frameError{amqpErr(condFramingError, "frame size %d is below the 8-byte header", size)}
	case size > limit:
		return f, &frameError{amqpErr(condFramingError, "frame of %d bytes exceeds the max-frame-size %d", size, limit)}
	case doff < 2 || uint32(doff)*4 > size:
		return f, &frameError{amqpErr(condFramingError, "frame data offset %d is invalid for a %d-byte frame", doff, size)}
	}
	body := make([]byte, size-8)
	if _, err := io.ReadFull(br, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return f, err
	}
	f.body = body[int(doff)*4-8:]
	return f, nil
}

// writer owns the writing side of a connection: frames queued by the state goroutine are
// written in order and flushed when the queue is empty. heartbeat is the longest silence
// allowed (half the peer's idle-time-out): a ticker at half of it sends an empty frame when
// nothing was written since the last tick, so no gap exceeds heartbeat.
type writer struct {
	nc           net.Conn
	m            *metrics
	out          chan []byte
	done         chan struct{} // closed when the writer has exited
	heartbeat    time.Duration // 0: none
	writeTimeout time.Duration

	errMu sync.Mutex
	err   error
}

func newWriter(nc net.Conn, m *metrics, heartbeat, writeTimeout time.Duration) *writer {
	if heartbeat > 0 {
		heartbeat = max(heartbeat, heartbeatFloor)
	}
	return &writer{nc: nc, m: m, out: make(chan []byte, 64), done: make(chan struct{}),
		heartbeat: heartbeat, writeTimeout: writeTimeout}
}

// run writes until out is closed (after the final frames) or a write fails.
func (w *writer) run() {
	defer close(w.done)
	bw := bufio.NewWriterSize(w.nc, 64<<10)
	var tick <-chan time.Time
	if w.heartbeat > 0 {
		t := time.NewTicker(w.heartbeat / 2)
		defer t.Stop()
		tick = t.C
	}
	wrote := false
	for {
		select {
		case b, ok := <-w.out:
			if !ok {
				w.setErr(bw.Flush())
				return
			}
			w.nc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
			closed, err := w.write(bw, b)
			if err != nil || closed {
				w.setErr(err)
				return
			}
			wrote = true
		case <-tick:
			if !wrote {
				w.nc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
				if closed, err := w.write(bw, appendEmptyFrame(nil)); err != nil || closed {
					w.setErr(err)
					return
				}
			}
			wrote = false
		}
	}
}

// write writes b and whatever else is queued, then flushes; closed reports that out was
// closed (everything before it is written).
func (w *writer) write(bw *bufio.Writer, b []byte) (closed bool, err error) {
	for {
		w.m.framesOut.Inc()
		if _, err := bw.Write(b); err != nil {
			return false, err
		}
		select {
		case next, ok := <-w.out:
			if !ok {
				return true, bw.Flush()
			}
			b = next
			continue
		default:
		}
		return false, bw.Flush()
	}
}

func (w *writer) setErr(err error) {
	w.errMu.Lock()
	w.err = err
	w.errMu.Unlock()
}

func (w *writer) failed() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// writeErr names a failed write as a close reason.
func writeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return closing("write_timeout", fmt.Errorf("the client did not read within the write timeout: %w", err))
	}
	return closing("write_failed", err)
}

// appendEmptyFrame appends a heartbeat: an empty AMQP frame on channel 0.
func appendEmptyFrame(dst []byte) []byte {
	return append(dst, 0, 0, 0, 8, 2, 0, 0, 0)
}
