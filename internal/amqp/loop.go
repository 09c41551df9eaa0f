package amqp

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// lingerTimeout is how long a closing connection keeps reading (and discarding) after our
// close, so the client reads the close instead of a reset.
const lingerTimeout = 2 * time.Second

// event is what the state goroutine is fed: frameEvent and readEnd from the reader,
// deliveredEvent from an outgoing link's pump, handledEvent from an incoming link's worker.
type event any

type frameEvent struct {
	channel uint16
	p       frames.Performative
	held    int64 // budget taken for a transfer's payload
}

type readEnd struct{ err error }

// run is the connection after the open: the reader and writer start, and the calling
// goroutine owns the state until the connection ends; then every goroutine is waited for.
func (c *conn) run() error {
	c.sessions = make(map[uint16]*session)
	c.replies = make(map[string]*replyLink)
	c.events = make(chan event, 64)
	c.readerDone = make(chan struct{})
	c.nc.SetDeadline(time.Time{})
	c.w = newWriter(c.nc, c.s.metrics, c.peerIdle/2, c.s.opts.WriteTimeout)
	go c.w.run()
	go c.readLoop()
	err := c.loop()
	c.shutdown(err)
	return err
}

// loop handles events until the connection must end.
func (c *conn) loop() error {
	for {
		select {
		case ev := <-c.events:
			if err := c.handle(ev); err != nil {
				return err
			}
		case <-c.w.done:
			if err := c.w.failed(); err != nil {
				return writeErr(err)
			}
			return closing("write_failed", errors.New("the writer stopped"))
		case <-c.ctx.Done():
			return closeWith("server_closed", amqpErr(condConnForced, "the server is shutting down; reconnect to another node or retry later"))
		}
	}
}

// handle handles one event; a panic (a bug, or a value the frames encoder refuses) closes
// this connection with amqp:internal-error instead of taking the node down.
func (c *conn) handle(ev event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("AMQP connection state panicked", "panic", p, "stack", string(debug.Stack()))
			err = closeWith("internal_error", amqpErr(condInternal, "the server failed on this connection; this is a bug, please report it"))
		}
	}()
	switch ev := ev.(type) {
	case frameEvent:
		c.pendingHeld = ev.held
		defer func() { // a payload no transfer kept
			c.release(c.pendingHeld)
			c.pendingHeld = 0
		}()
		return c.handleFrame(ev.channel, ev.p)
	case readEnd:
		return ev.err
	case deliveredEvent:
		c.delivered(ev)
	case handledEvent:
		c.handled(ev)
	}
	return nil
}

// readLoop reads and decodes frames for the state goroutine until the connection ends; after
// the end it keeps reading and discarding until EOF or the linger deadline.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	for {
		if c.ctx.Err() == nil {
			c.nc.SetReadDeadline(time.Now().Add(c.s.opts.IdleTimeout))
		}
		f, err := readFrame(c.br, c.s.opts.MaxFrameSize)
		if err != nil {
			c.post(readEnd{c.readErr(err, true)})
			return
		}
		c.s.metrics.framesIn.Inc()
		if len(f.body) == 0 {
			continue // heartbeat
		}
		if f.typ != frames.TypeAMQP {
			c.post(readEnd{closeWith("protocol_error", amqpErr(condFramingError, "frame type %d after open; only AMQP frames (type 0) are allowed", f.typ))})
			return
		}
		p, err := decodeBody(f.body)
		if err != nil {
			c.post(readEnd{closeWith("decode_error", amqpErr(condDecode, "malformed frame on channel %d: %v", f.channel, err))})
			return
		}
		if p == nil {
			continue
		}
		var held int64
		if t, ok := p.(*frames.Transfer); ok && len(t.Payload) > 0 && c.ctx.Err() == nil {
			held = int64(len(t.Payload))
			if err := c.s.budget.acquire(c.ctx, &c.held, held, c.s.opts.MemoryWait); err != nil {
				if c.ctx.Err() == nil {
					c.post(readEnd{closeWith("memory_budget", amqpErr(condResourceLimit, "%v", err))})
				}
				return
			}
		}
		c.post(frameEvent{channel: f.channel, p: p, held: held})
	}
}

// post hands ev to the state goroutine; once the connection is ending it is dropped.
func (c *conn) post(ev event) {
	select {
	case c.events <- ev:
	case <-c.ctx.Done():
		if fe, ok := ev.(frameEvent); ok {
			c.release(fe.held)
		}
	}
}

// release gives back budget this connection held.
func (c *conn) release(n int64) { c.s.budget.release(&c.held, n) }

// send queues one frame for the writer.
func (c *conn) send(channel uint16, p frames.Performative, payload []byte) {
	c.sendRaw(appendFrame(nil, frames.TypeAMQP, channel, p, payload))
}

func (c *conn) sendRaw(b []byte) {
	select {
	case c.w.out <- b:
	case <-c.w.done: // the loop sees the writer's end next
	}
}

// shutdown ends the connection: our close (unless the peer's close was answered), the
// writer flushed, the read side drained for a moment, every link goroutine and the
// handler's connection closed.
func (c *conn) shutdown(err error) {
	var ce *closeError
	if !c.closeSent {
		cl := &frames.Close{}
		if errors.As(err, &ce) && ce.amqp != nil {
			cl.Error = ce.amqp
		}
		c.closeSent = true
		c.send(0, cl, nil)
	}
	c.cancel() // every link's context
	close(c.w.out)
	<-c.w.done
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	t := time.NewTimer(lingerTimeout)
	select {
	case <-c.readerDone:
	case <-t.C:
	}
	t.Stop()
	c.nc.Close()
	<-c.readerDone
	c.links.Wait()
	// Every goroutine that posts is done: give back what frames not handled and partial
	// messages held.
	for {
		select {
		case ev := <-c.events:
			if fe, ok := ev.(frameEvent); ok {
				c.release(fe.held)
			}
			continue
		default:
		}
		break
	}
	for _, s := range c.sessions {
		for _, l := range s.links {
			c.release(l.held)
			l.held = 0
		}
	}
	c.hc.Close()
}

// handleFrame dispatches one frame received after the open.
func (c *conn) handleFrame(ch uint16, p frames.Performative) error {
	switch p := p.(type) {
	case *frames.Open:
		return closeWith("protocol_error", amqpErr(condNotAllowed, "a second open on one connection"))
	case *frames.Close:
		c.closeSent = true
		c.send(0, &frames.Close{}, nil)
		if p.Error != nil {
			return closing("client_closed", fmt.Errorf("the client closed the connection with %s: %s", p.Error.Condition, p.Error.Description))
		}
		return closing("client_closed", errors.New("the client closed the connection"))
	case *frames.Begin:
		return c.begin(ch, p)
	}
	s := c.sessions[ch]
	if s == nil {
		return closeWith("protocol_error", amqpErr(condNotAllowed, "%s on channel %d, which has no session", perfName(p), ch))
	}
	if end, ok := p.(*frames.End); ok {
		c.endFromPeer(s, end)
		return nil
	}
	if s.ending {
		return nil // we sent end: everything but the peer's end is ignored (part 2.7.8)
	}
	switch p := p.(type) {
	case *frames.Attach:
		c.attach(s, p)
	case *frames.Flow:
		c.flow(s, p)
	case *frames.Transfer:
		c.transfer(s, p)
	case *frames.Disposition:
		// Our deliveries are sent settled and client senders' deliveries are settled by us at
		// once, so a disposition changes nothing.
	case *frames.Detach:
		c.detachFromPeer(s, p)
	default:
		return closeWith("protocol_error", amqpErr(condNotAllowed, "%s is not allowed after open", perfName(p)))
	}
	return nil
}

func perfName(p frames.Performative) string {
	switch p.(type) {
	case *frames.Open:
		return "open"
	case *frames.Begin:
		return "begin"
	case *frames.Attach:
		return "attach"
	case *frames.Flow:
		return "flow"
	case *frames.Transfer:
		return "transfer"
	case *frames.Disposition:
		return "disposition"
	case *frames.Detach:
		return "detach"
	case *frames.End:
		return "end"
	case *frames.Close:
		return "close"
	}
	return fmt.Sprintf("%T", p)
}
