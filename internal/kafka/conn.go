package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
)

// maxPipelined bounds how many requests of one connection may be in progress at once.
const maxPipelined = 32

// conn is one client connection: a reader that parses and starts requests in order, and a
// writer that sends their responses in the same order.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string

	// Set only by the reader goroutine (SASL happens in order, before other requests).
	principal *broker.Principal
	saslMech  string
	clientID  string
	// rawSASL is set after a SASLHandshake v0: the next frame is a bare SASL token.
	rawSASL bool

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
	// sizeHint, when set by the finish step, sizes the encoding buffer; release, when set,
	// is called once the response is encoded (it returns pooled read buffers).
	sizeHint int
	release  func()
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{s: s, nc: nc, remote: nc.RemoteAddr().String()}
}

func (c *conn) serve() {
	ctx, cancel := context.WithCancel(c.s.ctx)
	defer cancel()
	queue := make(chan *request, maxPipelined)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop(queue)
		cancel()
		c.nc.Close()
	}()
	err := c.readLoop(ctx, queue)
	close(queue)
	cancel()
	c.running.Wait()
	if err != nil && err != io.EOF && ctx.Err() == nil {
		c.s.log.Info("closing connection", "remote", c.remote, "client", c.clientID, "reason", err)
	}
	wg.Wait()
	c.nc.Close()
}

func (c *conn) readLoop(ctx context.Context, queue chan<- *request) error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > maxRequestBytes {
			return fmt.Errorf("request frame of %d bytes is outside 8..%d", size, maxRequestBytes)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(br, frame); err != nil {
			return err
		}
		if c.rawSASL {
			r, err := c.rawAuthenticate(ctx, frame)
			if err != nil {
				return err
			}
			select {
			case queue <- r:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		r, err := c.parse(frame)
		if err != nil {
			return err
		}
		c.start(ctx, r)
		select {
		case queue <- r:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.fatal != nil {
			return r.fatal
		}
	}
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
	kreq.SetVersion(version)
	if kreq.IsFlexible() {
		kmsg.SkipTags(&rd)
	}
	if !rd.Ok() {
		return nil, fmt.Errorf("malformed %s v%d request header", kmsg.NameForKey(key), version)
	}
	if err := kreq.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("malformed %s v%d request: %w", kmsg.NameForKey(key), version, err)
	}
	return r, nil
}

// start runs the order-sensitive part of a request now and leaves the rest to a goroutine.
func (c *conn) start(ctx context.Context, r *request) {
	defer func() {
		if p := recover(); p != nil {
			r.fatal = fmt.Errorf("panic handling %s: %v", kmsg.NameForKey(r.key), p)
			r.finish = nil
			c.s.log.Error("request handler panicked", "key", r.key, "panic", p)
		}
	}()
	if c.s.opts.Hook != nil {
		if err := c.s.opts.Hook(r.key); err != nil {
			r.fatal = err
			close(r.done)
			return
		}
	}
	r.finish = c.dispatch(ctx, r)
	if r.finish == nil || r.fatal != nil {
		close(r.done)
		return
	}
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		defer close(r.done)
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

func (c *conn) writeLoop(queue <-chan *request) {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	for r := range queue {
		select {
		case <-r.done:
		default: // the next answer must wait: send what is buffered first
			if err := bw.Flush(); err != nil {
				return
			}
			<-r.done
		}
		if r.fatal != nil {
			bw.Flush()
			return
		}
		if r.raw != nil {
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(r.raw)))
			if _, err := bw.Write(append(hdr[:], r.raw...)); err != nil {
				return
			}
			continue
		}
		if r.resp == nil {
			continue
		}
		if drop := c.s.opts.DropResponse; drop != nil && drop(r.key) {
			bw.Flush()
			return
		}
		if cap(buf) < r.sizeHint {
			buf = make([]byte, 0, r.sizeHint)
		}
		buf = append(buf[:0], 0, 0, 0, 0, 0, 0, 0, 0)
		if r.resp.IsFlexible() && r.key != 18 {
			buf = append(buf, 0)
		}
		buf = r.resp.AppendTo(buf)
		if r.release != nil {
			r.release()
		}
		binary.BigEndian.PutUint32(buf[:4], uint32(len(buf)-4))
		binary.BigEndian.PutUint32(buf[4:8], uint32(r.corr))
		if _, err := bw.Write(buf); err != nil {
			return
		}
		if len(queue) == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
		if cap(buf) > 16<<20 {
			buf = nil
		}
	}
	bw.Flush()
}
