package amqp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// The front door follows amqp:connection:redirect for the client. A handler refuses a
// connection with the redirect (part 2.8.15: hostname, network-host, port in the error's info)
// when another listener serves it: a geo-DR alias active in the partner region. No Event Hubs
// SDK follows a redirect, so instead of closing, the engine dials the named listener, replays
// the bytes the client sent so far (protocol headers, SASL, the open), drops the upstream's
// answers the client already had from us (its protocol headers, sasl-mechanisms,
// sasl-outcome), and then copies both directions byte for byte until either side ends. The
// upstream answers the replayed open and runs the connection from there; when it closes the
// connection (a failover: amqp:connection:forced), the client sees that close.
//
// The client's bytes are captured only until the open is handled, at most captureLimit; a
// proxied connection stays one connection of the server's caps until it ends.

// condRedirect is the standard redirect condition (part 2.8.15).
const condRedirect = "amqp:connection:redirect"

// DefaultFrontDoorDialTimeout bounds the dial of a redirect's target.
const DefaultFrontDoorDialTimeout = 5 * time.Second

// capture records what a connection reads from its socket before the open is handled, so
// that the front door can replay it upstream. It is used by one goroutine at a time (the
// handshake's, then the reader's once stopped).
type capture struct {
	r     io.Reader
	buf   []byte
	limit int
	over  bool // more than limit bytes were read: nothing can be replayed
	off   bool
}

func (k *capture) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if !k.off && n > 0 {
		if len(k.buf)+n > k.limit {
			k.over, k.off, k.buf = true, true, nil
		} else {
			k.buf = append(k.buf, p[:n]...)
		}
	}
	return n, err
}

// startCapture returns the socket reader the handshake reads through.
func (c *conn) startCapture() io.Reader {
	// Two pre-open frames (SASL init, open), two headers, and what one read may bring beyond.
	c.capture = &capture{r: c.nc, limit: 2*int(c.s.opts.PreOpenFrameSize) + 64<<10}
	return c.capture
}

// stopCapture ends the capture once the connection is served here (or ended).
func (c *conn) stopCapture() {
	if c.capture != nil {
		c.capture.off, c.capture.buf = true, nil
	}
}

// redirectTarget is host:port of a redirect error's info; ok is false when err is no redirect
// or names no address.
func redirectTarget(err *frames.Error) (addr string, ok bool) {
	if err == nil || string(err.Condition) != condRedirect || err.Info == nil {
		return "", false
	}
	host, _ := err.Info.Get("network-host")
	h, _ := host.(string)
	if h == "" {
		return "", false
	}
	port, _ := err.Info.Get("port")
	var p uint64
	switch v := port.(type) {
	case uint16:
		p = uint64(v)
	case uint32:
		p = uint64(v)
	case uint64:
		p = v
	case int32:
		p = uint64(max(v, 0))
	case int64:
		p = uint64(max(v, 0))
	default:
		p = 5672
	}
	if p == 0 || p > 65535 {
		return "", false
	}
	return net.JoinHostPort(h, strconv.FormatUint(p, 10)), true
}

// frontDoor handles a handler's refusal ferr: when it is a redirect the engine follows (the
// front door is on and the client's bytes were captured whole), the connection is proxied to
// the redirect's target until either side ends, and handled is true; err is then the close
// reason. Otherwise handled is false and the refusal goes to the client as usual.
func (c *conn) frontDoor(ferr *frames.Error) (err error, handled bool) {
	addr, ok := redirectTarget(ferr)
	if !ok || c.s.opts.DisableFrontDoor || c.capture == nil || c.capture.over {
		return nil, false
	}
	if addr == c.nc.LocalAddr().String() {
		// The target is this very listener (a region advertising itself to its partner by
		// mistake): forwarding would loop, so the client gets the redirect.
		c.log.Warn("AMQP redirect names this listener; not forwarding", "to", addr)
		return nil, false
	}
	replay := c.capture.buf
	c.stopCapture()
	d := net.Dialer{Timeout: c.s.opts.FrontDoorDialTimeout}
	up, derr := d.DialContext(c.ctx, "tcp", addr)
	if derr != nil {
		e := amqpErr(condConnForced, "%s; this server forwards the connection there but could not reach it (%v); retry later", ferr.Description, derr)
		c.refuseOpen(e)
		return closeWith("front_door_failed", e), true
	}
	stop := context.AfterFunc(c.ctx, func() { up.Close() })
	defer stop()
	defer up.Close()
	ubr, uerr := c.upstreamHandshake(up, replay)
	if uerr != nil {
		e := amqpErr(condConnForced, "%s; this server forwards the connection there, but %s failed: %v; retry later", ferr.Description, addr, uerr)
		c.refuseOpen(e)
		return closeWith("front_door_failed", e), true
	}
	c.log.Debug("AMQP connection forwarded (redirect)", "to", addr)
	return c.splice(up, ubr, addr), true
}

// upstreamHandshake sends the client's captured bytes to up and reads the answers the
// client already got from this server: the protocol header of each layer, and for SASL the
// mechanisms and the outcome (which must be ok). What up sent beyond them stays in the
// returned reader.
func (c *conn) upstreamHandshake(up net.Conn, replay []byte) (*bufio.Reader, error) {
	up.SetDeadline(time.Now().Add(c.s.opts.AuthTimeout))
	if _, err := up.Write(replay); err != nil {
		return nil, err
	}
	ubr := bufio.NewReaderSize(up, 4<<10)
	header := func(want byte) error {
		var hdr [protoHeaderLen]byte
		if _, err := io.ReadFull(ubr, hdr[:]); err != nil {
			return fmt.Errorf("reading its protocol header: %w", err)
		}
		id, err := parseProtoHeader(hdr[:])
		if err == nil && id != want {
			err = fmt.Errorf("it answered protocol id %d where %d was expected", id, want)
		}
		return err
	}
	if c.info.SASLMechanism != "" {
		if err := header(frames.ProtoSASL); err != nil {
			return nil, err
		}
		for {
			f, err := readFrame(ubr, c.s.opts.PreOpenFrameSize)
			if err != nil {
				return nil, fmt.Errorf("reading its SASL frames: %w", err)
			}
			if len(f.body) == 0 {
				continue
			}
			p, err := decodeBody(f.body)
			if err != nil {
				return nil, fmt.Errorf("decoding its SASL frame: %w", err)
			}
			if o, ok := p.(*frames.SASLOutcome); ok {
				if o.Code != frames.SASLOK {
					return nil, fmt.Errorf("it refused SASL %s (outcome code %d)", c.info.SASLMechanism, o.Code)
				}
				break
			}
		}
	}
	if err := header(frames.ProtoAMQP); err != nil {
		return nil, err
	}
	up.SetDeadline(time.Time{})
	return ubr, nil
}

// splice copies both directions until either ends, then closes both sockets.
func (c *conn) splice(up net.Conn, ubr *bufio.Reader, addr string) error {
	c.nc.SetDeadline(time.Time{})
	var once sync.Once
	end := func() { once.Do(func() { c.nc.Close(); up.Close() }) }
	var wg sync.WaitGroup
	wg.Add(1)
	var downErr error
	go func() { // upstream → client, starting with what the handshake read beyond its answers
		defer wg.Done()
		defer end()
		_, downErr = io.Copy(c.nc, ubr)
	}()
	_, upErr := io.Copy(up, c.nc)
	end()
	wg.Wait()
	return closing("front_door", fmt.Errorf("forwarded to %s until it ended (client side: %v; upstream side: %v)", addr, errOrEOF(upErr), errOrEOF(downErr)))
}

func errOrEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

// forcedClose is the reason to close the whole connection when a handler ends a message or
// a receive with amqp:connection:forced (a geo-DR alias moved away: the client must
// reconnect); nil for any other result.
func forcedClose(err error) error {
	var fe *frames.Error
	if errors.As(err, &fe) && fe != nil && fe.Condition == codec.Symbol(condConnForced) {
		return closeWith("forced", fe)
	}
	return nil
}

// forcedState is forcedClose for a handled message's state.
func forcedState(s frames.DeliveryState) error {
	if r, ok := s.(*frames.Rejected); ok && r.Error != nil {
		return forcedClose(r.Error)
	}
	return nil
}
