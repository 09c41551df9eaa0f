package amqp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// conn is one client connection. serve runs the handshake (protocol headers, SASL, open)
// itself, then becomes the state goroutine: it alone owns the sessions and links, and is fed
// by a reader goroutine (decoded frames), one goroutine per outgoing link (deliveries) and one
// per incoming link (handled messages). A writer goroutine writes what it queues and sends
// the heartbeats.
type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	tls    bool
	remote string
	ip     string
	log    *slog.Logger

	opened bool // the open arrived (guarded by Server.mu)

	info         ConnInfo
	hc           Conn // the handler's connection; nil until Connect succeeded
	peerMaxFrame uint32
	peerIdle     time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	w      *writer
	events chan event
	// readerDone is closed when the reader goroutine has exited.
	readerDone chan struct{}
	// links counts the goroutines of links (incoming workers and outgoing pumps).
	links sync.WaitGroup

	sessions map[uint16]*session // by the client's channel (ours is the same number)

	replyMu sync.Mutex
	replies map[string]*replyLink // reply links by their attach's target address

	closeSent bool

	// held is the budget this connection holds; pendingHeld is the part of it that belongs to
	// the frame being handled (released after it unless a transfer kept its payload).
	held        atomic.Int64
	pendingHeld int64
}

func newConn(s *Server, nc net.Conn, tls bool) *conn {
	c := &conn{s: s, nc: nc, tls: tls, remote: nc.RemoteAddr().String()}
	c.ip = c.remote
	if host, _, err := net.SplitHostPort(c.remote); err == nil {
		c.ip = ipKey(host)
	}
	c.log = s.log.With("remote", c.remote)
	return c
}

// closeError is a reason to close a connection with its metric label and, when set, the
// error our close frame carries.
type closeError struct {
	kind string
	err  error
	amqp *frames.Error
}

func (e *closeError) Error() string { return e.err.Error() }
func (e *closeError) Unwrap() error { return e.err }

func closing(kind string, err error) error { return &closeError{kind: kind, err: err} }

// closeWith closes the connection with e in our close frame.
func closeWith(kind string, e *frames.Error) error { return &closeError{kind: kind, err: e, amqp: e} }

// closeKind is the metric label of a close reason.
func closeKind(err error) string {
	var ce *closeError
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "client_closed"
	case errors.As(err, &ce):
		return ce.kind
	}
	return "io_error"
}

func (c *conn) serve() {
	c.ctx, c.cancel = context.WithCancel(c.s.ctx)
	defer c.cancel()
	// Until the loop runs, a server shutdown interrupts the handshake by closing the socket.
	stop := context.AfterFunc(c.ctx, func() { c.nc.Close() })
	c.nc.SetDeadline(time.Now().Add(c.s.opts.AuthTimeout))
	c.br = bufio.NewReaderSize(c.nc, 32<<10)
	open, err := c.handshake()
	if err == nil {
		err = c.connect(open)
	}
	if !stop() || err != nil {
		if err == nil && c.hc != nil {
			c.hc.Close()
		}
		c.lingerClose()
		c.closed(err)
		return
	}
	err = c.run()
	c.closed(err)
}

// lingerClose closes a connection that never reached its loop: our side first, then what
// the client still sends is read and dropped for a moment, so it reads our last bytes (a
// protocol header, a close) instead of a reset.
func (c *conn) lingerClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(c.nc, 1<<20))
	c.nc.Close()
}

// closed counts and logs why the connection ended.
func (c *conn) closed(reason error) {
	if c.s.ctx.Err() != nil {
		reason = closing("server_closed", errors.New("the server is shutting down"))
	}
	kind := closeKind(reason)
	c.s.metrics.closed.WithLabelValues(kind).Inc()
	level := slog.LevelInfo
	switch kind {
	case "client_closed", "server_closed":
		level = slog.LevelDebug
	}
	c.s.closeLog.log(c.log, level, "closing AMQP connection", "reason_kind", kind, "reason", reason)
}

// writeNow writes frames directly (handshake, before the writer runs).
func (c *conn) writeNow(b []byte) error {
	c.s.metrics.framesOut.Inc()
	_, err := c.nc.Write(b)
	if err != nil {
		return writeErr(err)
	}
	return nil
}

// readHandshakeFrame reads one frame before the open, bounded by PreOpenFrameSize, skipping
// heartbeats; a deadline (AuthTimeout) bounds the whole handshake.
func (c *conn) readHandshakeFrame(typ byte) (frames.Performative, error) {
	for {
		f, err := readFrame(c.br, c.s.opts.PreOpenFrameSize)
		if err != nil {
			return nil, c.readErr(err, false)
		}
		c.s.metrics.framesIn.Inc()
		if len(f.body) == 0 {
			continue
		}
		if f.typ != typ {
			return nil, closeWith("protocol_error", amqpErr(condFramingError, "frame type %d where type %d was expected", f.typ, typ))
		}
		p, err := decodeBody(f.body)
		if err != nil {
			return nil, closeWith("decode_error", amqpErr(condDecode, "malformed frame: %v", err))
		}
		if p == nil {
			continue
		}
		return p, nil
	}
}

// readErr names a read failure as a close reason.
func (c *conn) readErr(err error, opened bool) error {
	var fe *frameError
	switch {
	case errors.As(err, &fe):
		return closeWith("framing_error", fe.err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !opened {
			return closing("auth_timeout", fmt.Errorf("no open within %s of accept (the AMQP auth timeout)", c.s.opts.AuthTimeout))
		}
		return closeWith("idle_timeout", amqpErr(condConnForced, "no frame for %s (the idle-time-out in our open); send empty frames at half of it", c.s.opts.IdleTimeout))
	}
	return err
}

// handshake runs the protocol header exchange, SASL when asked for, and reads the open.
func (c *conn) handshake() (*frames.Open, error) {
	var hdr [protoHeaderLen]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return nil, c.readErr(err, false)
	}
	id, err := parseProtoHeader(hdr[:])
	if err == nil && id != frames.ProtoSASL && id != frames.ProtoAMQP {
		err = fmt.Errorf("protocol id %d is not supported (only 0, AMQP, and 3, SASL)", id)
	}
	if err != nil {
		// Part 2.2: answer with a header we support, then close.
		c.writeNow(protoHeader(frames.ProtoSASL))
		return nil, closing("bad_header", err)
	}
	if id == frames.ProtoSASL {
		if err := c.sasl(); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			return nil, c.readErr(err, false)
		}
		if id, err = parseProtoHeader(hdr[:]); err == nil && id != frames.ProtoAMQP {
			err = fmt.Errorf("protocol id %d after SASL; the AMQP header (id 0) was expected", id)
		}
		if err != nil {
			c.writeNow(protoHeader(frames.ProtoAMQP))
			return nil, closing("bad_header", err)
		}
	}
	if err := c.writeNow(protoHeader(frames.ProtoAMQP)); err != nil {
		return nil, err
	}
	p, err := c.readHandshakeFrame(frames.TypeAMQP)
	if err != nil {
		// After the AMQP header a refusal is our open and a close with the error (part 2.4.1).
		if ce := (*closeError)(nil); errors.As(err, &ce) && ce.amqp != nil {
			c.refuseOpen(ce.amqp)
		}
		return nil, err
	}
	open, ok := p.(*frames.Open)
	if !ok {
		err := amqpErr(condNotAllowed, "the first frame must be open, got %T", p)
		c.refuseOpen(err)
		return nil, closing("protocol_error", err)
	}
	c.s.authenticated(c)
	return open, nil
}

// ourOpen is the open we answer with.
func (c *conn) ourOpen() *frames.Open {
	o := c.s.opts
	return &frames.Open{
		ContainerID:  o.ContainerID,
		MaxFrameSize: o.MaxFrameSize,
		ChannelMax:   uint16(o.MaxSessions - 1),
		IdleTimeout:  uint32(o.IdleTimeout / time.Millisecond),
	}
}

// refuseOpen sends our open and then a close with err, as part 2.4.1 requires of a peer that
// refuses a connection.
func (c *conn) refuseOpen(err *frames.Error) {
	b := appendFrame(nil, frames.TypeAMQP, 0, c.ourOpen(), nil)
	b = appendFrame(b, frames.TypeAMQP, 0, &frames.Close{Error: err}, nil)
	c.writeNow(b)
}

// connect takes the peer's open, asks the handler, and answers with our open.
func (c *conn) connect(open *frames.Open) error {
	c.info.RemoteAddr = c.nc.RemoteAddr()
	c.info.TLS = c.tls
	c.info.Hostname = open.Hostname
	c.info.ContainerID = open.ContainerID
	c.log = c.log.With("container", open.ContainerID)
	c.peerMaxFrame = min(max(open.MaxFrameSize, 512), c.s.opts.MaxFrameSize)
	if open.MaxFrameSize == 0 {
		c.peerMaxFrame = c.s.opts.MaxFrameSize
	}
	c.peerIdle = time.Duration(open.IdleTimeout) * time.Millisecond
	var hc Conn
	ferr := c.guard("Connect", func() (ferr *frames.Error) {
		hc, ferr = c.s.opts.Handler.Connect(c.ctx, c.info)
		return ferr
	})
	if ferr != nil {
		c.refuseOpen(ferr)
		return closing("refused", ferr)
	}
	if hc == nil {
		err := amqpErr(condInternal, "the handler accepted the connection without state")
		c.refuseOpen(err)
		return closing("refused", err)
	}
	c.hc = hc
	if err := c.writeNow(appendFrame(nil, frames.TypeAMQP, 0, c.ourOpen(), nil)); err != nil {
		hc.Close()
		c.hc = nil
		return err
	}
	return nil
}
