package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// maxPipelined bounds how many requests of one connection may be in progress at once.
const maxPipelined = 32

// conn is one client connection: a reader that parses and starts requests in order, and a
// writer that sends their responses in the same order.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	ip     string // ipKey of the remote host, the key of the per-address connection cap
	port   int32  // the advertised port of the listener the client came in on

	// Set only by the reader goroutine (SASL happens in order, before other requests).
	principal *broker.Principal
	saslMech  string
	clientID  string
	// rawSASL is set after a SASLHandshake v0: the next frame is a bare SASL token.
	rawSASL bool
	// saslFailed is set by a refused SASL exchange: its answer is sent, then the
	// connection is closed, as Kafka does.
	saslFailed error

	// authed is set by the reader once principal is; the writer reads it for deadlines.
	authed       atomic.Bool
	authDeadline time.Time
	// pending counts requests read whose response is not yet written: the connection is
	// not idle while it is above zero.
	pending atomic.Int32
	// fetchHeld is the memory budget this connection's fetch responses hold (being filled or
	// waiting to be written), at most Options.ConnMemoryShare.
	fetchHeld atomic.Int64

	// running counts finish goroutines so serve can wait for them.
	running sync.WaitGroup
}

// request is one parsed request on its way through the pipeline.
type request struct {
	key     int16
	version int16
	corr    int32
	kreq    kmsg.Request
	// finish produces the response; nil response means "send nothing" (acks=0).
	finish func() kmsg.Response
	done   chan struct{}
	resp   kmsg.Response
	fatal  error // closes the connection after earlier responses are written
	// unsupported marks an ApiVersions request at a version above ours.
	unsupported bool
	// raw, when set, is written as a bare length-prefixed frame (SASL v0 exchange).
	raw []byte
	// held is the memory budget the request frame holds until the request is finished;
	// frame is the frame, recycled then when frameRecyclable(key).
	held  int64
	frame []byte
	// sizeHint, when set by the finish step, sizes the encoding buffer. respHeld is the
	// memory budget the response holds and release, when set, returns pooled buffers; both
	// are given back once the response is written or dropped.
	sizeHint int
	respHeld int64
	release  func()
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remote: nc.RemoteAddr().String(), port: s.opts.AdvertisedPort}
	c.ip = c.remote
	if host, _, err := net.SplitHostPort(c.remote); err == nil {
		c.ip = ipKey(host)
	}
	return c
}

func (c *conn) serve() {
	ctx, cancel := context.WithCancel(c.s.ctx)
	defer cancel()
	// Until SASL completes, both directions must be done by the authentication deadline.
	c.authDeadline = time.Now().Add(c.s.opts.AuthTimeout)
	c.nc.SetDeadline(c.authDeadline)
	queue := make(chan *request, maxPipelined)
	werr := make(chan error, 1)
	go func() {
		err := c.writeLoop(ctx, queue)
		cancel()
		c.nc.Close()
		for r := range queue { // responses that will not be written give their budget back
			<-r.done
			c.sent(r)
		}
		werr <- err
	}()
	rerr := c.readLoop(ctx, queue)
	close(queue)
	cancel() // ends this connection's long polls
	c.running.Wait()
	err := <-werr
	c.nc.Close()
	c.closed(rerr, err)
}

// closed counts and logs why the connection ended: the reader's reason, or the writer's
// when the reader only saw the connection being closed under it.
func (c *conn) closed(rerr, werr error) {
	reason := rerr
	var ce *closeError
	if c.s.ctx.Err() != nil {
		reason = closing("server_closed", errors.New("the server is shutting down"))
	} else if werr != nil && !errors.As(rerr, &ce) && !errors.Is(rerr, io.EOF) {
		reason = werr
	}
	kind := closeKind(reason)
	c.s.metrics.closed.WithLabelValues(kind).Inc()
	level := slog.LevelInfo
	switch kind {
	case "client_closed", "server_closed", "sasl_failed": // SASL failures have their own line
		level = slog.LevelDebug
	}
	c.s.closeLog.log(c.s.log, level, "closing Kafka connection", "remote", c.remote, "client", c.clientID,
		"authenticated", c.authed.Load(), "reason_kind", kind, "reason", reason)
}

// closeError is a reason to close a connection with its metric label.
type closeError struct {
	kind string
	err  error
}

func (e *closeError) Error() string { return e.err.Error() }
func (e *closeError) Unwrap() error { return e.err }

func closing(kind string, err error) error { return &closeError{kind: kind, err: err} }

// closeKind is the metric label of a close reason.
func closeKind(err error) string {
	var ce *closeError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return "client_closed"
	case errors.As(err, &ce):
		return ce.kind
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "client_closed"
	}
	return "io_error"
}

// frameLimit is the largest frame the connection may send now.
func (c *conn) frameLimit() frameLimit {
	// With --dev a connection that never authenticates acts in the dev namespace from its
	// first request on (dispatch), so its requests get the full limit from the start: a
	// producer's own connection may send a 1 MiB Produce as its first request after
	// ApiVersions.
	if c.principal == nil && !c.s.opts.Dev {
		return frameLimit{c.s.opts.PreAuthFrameBytes, "--kafka-sasl-max-receive-bytes, before SASL authentication"}
	}
	return frameLimit{c.s.opts.MaxRequestBytes, "--kafka-max-request-bytes"}
}

func (c *conn) readLoop(ctx context.Context, queue chan<- *request) error {
	fr := newFrameReader(c.nc, c.s.budget, c.s.opts.MemoryWait, preAuthReadBuf)
	defer fr.close()
	for {
		if c.authed.Load() {
			c.nc.SetReadDeadline(time.Now().Add(c.s.opts.IdleTimeout))
			fr.wait = c.s.opts.MemoryWait
		} else {
			fr.wait = min(c.s.opts.MemoryWait, time.Until(c.authDeadline))
		}
		frame, held, err := fr.next(ctx, c.frameLimit())
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if !c.authed.Load() {
				return closing("auth_timeout", errcode.New(errcode.Timeout,
					"not authenticated within %s (--kafka-auth-timeout)", c.s.opts.AuthTimeout))
			}
			if c.pending.Load() > 0 {
				continue // a long poll or a slow write is in flight: not idle
			}
			return closing("idle_timeout", errcode.New(errcode.Timeout,
				"idle for %s with nothing in flight (--kafka-idle-timeout)", c.s.opts.IdleTimeout))
		}
		if err != nil {
			return err
		}
		if err := c.handleFrame(ctx, queue, frame, held); err != nil {
			return err
		}
		if c.principal != nil && !c.authed.Load() {
			c.authed.Store(true)
			fr.setBufSize(authedReadBuf)
		}
	}
}

// handleFrame parses and starts one frame and queues it for the writer.
func (c *conn) handleFrame(ctx context.Context, queue chan<- *request, frame []byte, held int64) error {
	var r *request
	if c.rawSASL {
		c.s.budget.release(held)
		var err error
		if r, err = c.rawAuthenticate(ctx, frame); err != nil {
			return closing("sasl_failed", err)
		}
	} else {
		var err error
		if r, err = c.parse(frame); err != nil {
			c.s.budget.release(held)
			putFrameBuf(frame) // a request that failed to decode is dropped with it
			return closing("bad_request", err)
		}
		r.held, r.frame = held, frame
		c.start(ctx, r)
	}
	c.pending.Add(1)
	select {
	case queue <- r:
	case <-ctx.Done():
		<-r.done // ends soon: ctx is what its handler waits on
		c.sent(r)
		return ctx.Err()
	}
	if r.fatal != nil {
		return closing("bad_request", r.fatal)
	}
	if c.saslFailed != nil {
		return closing("sasl_failed", c.saslFailed)
	}
	return nil
}

// parse decodes the request header and body. A frame that cannot be decoded closes the
// connection: Kafka has no way to answer a request whose key or correlation id is unknown.
func (c *conn) parse(frame []byte) (*request, error) {
	rd := kbin.Reader{Src: frame}
	key := rd.Int16()
	version := rd.Int16()
	corr := rd.Int32()
	clientID := rd.NullableString()
	if !rd.Ok() {
		return nil, fmt.Errorf("malformed request header (%d bytes)", len(frame))
	}
	if clientID != nil {
		c.clientID = *clientID
	}
	kreq := kmsg.RequestForKey(key)
	if kreq == nil {
		return nil, fmt.Errorf("unknown API key %d (correlation id %d)", key, corr)
	}
	r := &request{key: key, version: version, corr: corr, kreq: kreq, done: make(chan struct{})}
	lo, hi, ok := supported(key)
	if !ok || version < lo || version > hi {
		if key == 18 { // ApiVersions: answer at v0 with our ranges (KIP-511)
			kreq.SetVersion(0)
			r.version = 0
			r.unsupported = true
			return r, nil
		}
		return nil, fmt.Errorf("API key %d (%s) version %d is not supported (supported: %d-%d)",
			key, kmsg.NameForKey(key), version, lo, hi)
	}
	if c.principal == nil && !c.s.opts.Dev && !preAuthKeys[key] {
		return nil, fmt.Errorf("%s before SASL authentication; connect with SASL PLAIN, user $ConnectionString and a connection string as password", kmsg.NameForKey(key))
	}
	kreq.SetVersion(version)
	if kreq.IsFlexible() {
		skipTags(&rd)
	}
	if !rd.Ok() {
		return nil, fmt.Errorf("malformed %s v%d request header", kmsg.NameForKey(key), version)
	}
	if c.principal == nil {
		if err := checkPreAuthBody(key, version, rd.Src); err != nil {
			return nil, err
		}
	}
	if err := kreq.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("malformed %s v%d request: %w", kmsg.NameForKey(key), version, err)
	}
	return r, nil
}

// finished marks r done and gives back its frame's budget, and its frame's buffer when no
// part of the decoded request can still point into it (frameRecyclable): the frame is not
// used after the handler returns.
func (c *conn) finished(r *request) {
	c.s.budget.release(r.held)
	if frameRecyclable(r.key) {
		putFrameBuf(r.frame)
	}
	r.held, r.frame = 0, nil
	close(r.done)
}

// start runs the order-sensitive part of a request now and leaves the rest to a goroutine.
func (c *conn) start(ctx context.Context, r *request) {
	defer func() {
		if p := recover(); p != nil {
			r.fatal = fmt.Errorf("panic handling %s: %v", kmsg.NameForKey(r.key), p)
			r.finish = nil
			c.s.log.Error("request handler panicked", "key", r.key, "panic", p)
			c.finished(r)
		}
	}()
	if c.s.opts.Hook != nil {
		if err := c.s.opts.Hook(r.key); err != nil {
			r.fatal = err
			c.finished(r)
			return
		}
	}
	r.finish = c.dispatch(ctx, r)
	if r.finish == nil || r.fatal != nil {
		c.finished(r)
		return
	}
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		defer c.finished(r)
		defer func() {
			if p := recover(); p != nil {
				r.resp = nil
				r.fatal = fmt.Errorf("panic handling %s: %v", kmsg.NameForKey(r.key), p)
				c.s.log.Error("request handler panicked", "key", r.key, "panic", p)
			}
		}()
		r.resp = r.finish()
	}()
}

// sent gives back what a response held, once it is written or will never be.
func (c *conn) sent(r *request) {
	c.pending.Add(-1)
	if r.release != nil {
		r.release()
		r.release = nil
	}
	c.releaseFetch(r.respHeld)
	r.respHeld = 0
}

// encodeBufs recycles response encoding buffers across connections, so an idle connection
// does not keep the buffer of its largest response.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// writeDeadline is when the next write must be done: the authentication deadline until
// SASL completes, then one write timeout from now (a client that stops reading is dropped).
func (c *conn) writeDeadline() time.Time {
	if !c.authed.Load() {
		return c.authDeadline
	}
	return time.Now().Add(c.s.opts.WriteTimeout)
}

func (c *conn) writeLoop(ctx context.Context, queue <-chan *request) error {
	bw := bufio.NewWriterSize(c.nc, preAuthReadBuf)
	large := false
	for r := range queue {
		if !large && c.authed.Load() && bw.Buffered() == 0 {
			bw, large = bufio.NewWriterSize(c.nc, authedReadBuf), true
		}
		c.nc.SetWriteDeadline(c.writeDeadline())
		select {
		case <-r.done:
		default: // the next answer must wait: send what is buffered first
			if err := bw.Flush(); err != nil {
				c.sent(r)
				return writeErr(err)
			}
			<-r.done
			c.nc.SetWriteDeadline(c.writeDeadline())
		}
		err := c.writeResponse(ctx, bw, r, len(queue) == 0)
		c.sent(r)
		if err != nil {
			return err
		}
	}
	return writeErr(bw.Flush())
}

// smallResponse is the encoded size below which a response is not counted in the memory
// budget: produce answers (a few dozen bytes a partition), heartbeats, commits. The writer
// encodes one response at a time, so uncounted responses hold at most this much per
// connection, less than the connection's read and write buffers, which the connection caps
// bound; the hot produce path takes no lock for them.
const smallResponse = 4 << 10

// writeResponse writes one response; flush sends the buffer (nothing else is queued). An
// encoded response of smallResponse bytes or more is counted in the memory budget until it
// is written, beyond what a fetch already holds for its records, waiting for room as a frame
// does.
func (c *conn) writeResponse(ctx context.Context, bw *bufio.Writer, r *request, flush bool) error {
	if r.fatal != nil {
		bw.Flush()
		return closing("bad_request", r.fatal)
	}
	if r.raw != nil {
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(r.raw)))
		if _, err := bw.Write(append(hdr[:], r.raw...)); err != nil {
			return writeErr(err)
		}
		return writeErr(bw.Flush())
	}
	if r.resp == nil {
		return nil
	}
	if drop := c.s.opts.DropResponse; drop != nil && drop(r.key) {
		bw.Flush()
		return closing("dropped_by_hook", errors.New("response dropped by the test hook"))
	}
	bufp := encodeBufs.Get().(*[]byte)
	defer func() {
		if cap(*bufp) <= 16<<20 {
			encodeBufs.Put(bufp)
		}
	}()
	buf := slicesGrow((*bufp)[:0], r.sizeHint)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
	if r.resp.IsFlexible() && r.key != 18 {
		buf = append(buf, 0)
	}
	buf = r.resp.AppendTo(buf)
	*bufp = buf
	binary.BigEndian.PutUint32(buf[:4], uint32(len(buf)-4))
	binary.BigEndian.PutUint32(buf[4:8], uint32(r.corr))
	if extra := int64(len(buf)) - r.respHeld/2; extra >= smallResponse {
		if err := c.s.budget.acquire(ctx, extra, c.s.opts.MemoryWait); err != nil {
			return closing("memory_budget", err)
		}
		defer c.s.budget.release(extra)
	}
	if _, err := bw.Write(buf); err != nil {
		return writeErr(err)
	}
	if flush {
		return writeErr(bw.Flush())
	}
	return nil
}

func slicesGrow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, 0, n)
	}
	return b
}

// writeErr names a failed write as a close reason.
func writeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return closing("write_timeout", fmt.Errorf("the client did not read its responses within the write timeout (--kafka-write-timeout): %w", err))
	case errors.Is(err, net.ErrClosed):
		return err
	}
	return closing("write_failed", err)
}
