package amqp

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// maxBatch bounds the deliveries asked of Outgoing.Next at once, whatever the credit.
const maxBatch = 256

// job is one whole message for an incoming link's worker.
type job struct {
	id      uint32
	format  uint32
	settled bool
	msg     []byte
	held    int64 // budget held by msg
}

// handledEvent is a message handled by a worker: its delivery state for the disposition.
type handledEvent struct {
	l       *link
	id      uint32
	settled bool
	state   frames.DeliveryState
}

// transfer takes one transfer frame from a client sender: frames of one delivery are joined
// (more=true) up to the link's max-message-size, and each whole message goes to the link's
// worker.
func (c *conn) transfer(s *session, p *frames.Transfer) {
	c.received(s)
	l := s.links[p.Handle]
	if l == nil {
		// Part 2.7.5 / 2.8.15: a transfer on an unattached handle ends the session.
		c.endSession(s, amqpErr(condUnattachedHandle, "transfer on handle %d, which is not attached", p.Handle))
		return
	}
	if l.detaching {
		return // sent before the client saw our detach
	}
	if l.in == nil {
		c.detach(l, amqpErr(condNotAllowed, "transfer on link %q, on which this server is the sender", l.name))
		return
	}
	if !l.assembling {
		if p.DeliveryID == nil {
			c.detach(l, amqpErr(condNotAllowed, "the first transfer of a delivery has no delivery-id"))
			return
		}
		if l.credit == 0 {
			c.detach(l, amqpErr(condTransferLimit, "transfer on link %q without link credit; wait for a flow", l.name))
			return
		}
		l.credit--
		l.deliveryCount++
		l.assembling = true
		l.cur = job{id: *p.DeliveryID}
		if p.MessageFormat != nil {
			l.cur.format = *p.MessageFormat
		}
	}
	if p.Settled != nil && *p.Settled {
		l.cur.settled = true
	}
	if p.Aborted {
		l.assembling, l.buf = false, nil
		c.release(l.held)
		l.held = 0
		c.refill(l)
		return
	}
	if uint64(len(l.buf))+uint64(len(p.Payload)) > l.maxMsg {
		l.buf = nil
		c.release(l.held)
		l.held = 0
		c.detach(l, amqpErr(condMessageSize, "a message on link %q is larger than its max-message-size of %d bytes; send smaller messages or batches", l.name, l.maxMsg))
		return
	}
	if p.More {
		l.buf = append(l.buf, p.Payload...)
		l.held += c.pendingHeld
		c.pendingHeld = 0
		return
	}
	msg := p.Payload
	if l.buf != nil {
		msg = append(l.buf, p.Payload...)
	}
	l.cur.msg = msg
	l.cur.held = l.held + c.pendingHeld
	l.held, c.pendingHeld = 0, 0
	l.assembling, l.buf = false, nil
	l.inflight++
	l.jobs <- l.cur // never blocks: inflight ≤ MaxCredit = cap(jobs)
	l.cur = job{}
}

// runIncoming is an incoming link's worker: it hands messages to the handler in order and
// reports their states; when the link ends (jobs closed) it closes the handler's link.
func (c *conn) runIncoming(l *link, jobs <-chan job) {
	defer c.links.Done()
	defer l.cancel()
	defer l.in.Close()
	for {
		var j job
		var ok bool
		select {
		case j, ok = <-jobs:
			if !ok {
				return // the link ended and every message received is handled
			}
		case <-l.ctx.Done():
			c.dropJobs(jobs)
			return
		}
		var state frames.DeliveryState
		var replies []Reply
		if ferr := c.guard("Message", func() *frames.Error {
			state, replies = l.in.Message(l.ctx, j.format, j.msg)
			return nil
		}); ferr != nil {
			state = &frames.Rejected{Error: ferr}
		}
		c.release(j.held)
		if len(replies) > 0 {
			if rej := c.routeReplies(replies); rej != nil {
				state = rej
			}
		}
		if state == nil {
			state = &frames.Accepted{}
		}
		select {
		case c.events <- handledEvent{l: l, id: j.id, settled: j.settled, state: state}:
		case <-l.ctx.Done():
			c.dropJobs(jobs)
			return
		}
	}
}

// dropJobs gives back the budget of the messages still queued for a worker whose connection
// ended (nothing is queued after that).
func (c *conn) dropJobs(jobs <-chan job) {
	for {
		select {
		case j, ok := <-jobs:
			if !ok {
				return
			}
			c.release(j.held)
		default:
			return
		}
	}
}

// routeReplies queues each reply on the connection's reply link whose target address is its
// To; a full reply queue rejects the request.
func (c *conn) routeReplies(replies []Reply) frames.DeliveryState {
	var rej frames.DeliveryState
	for _, r := range replies {
		c.replyMu.Lock()
		rl := c.replies[r.To]
		c.replyMu.Unlock()
		if rl == nil {
			c.log.Debug("AMQP reply dropped: no reply link has this target address", "reply_to", r.To)
			continue
		}
		if !rl.push(r.Message) {
			rej = &frames.Rejected{Error: amqpErr(condResourceLimit,
				"the reply link %q has %d replies waiting; receive them before sending more requests", r.To, cap(rl.q))}
		}
	}
	return rej
}

// handled sends the disposition of a handled message (unless the client sent it settled)
// and gives the credit back.
func (c *conn) handled(ev handledEvent) {
	l := ev.l
	if l.detaching || l.s.links[l.handle] != l || l.s.ending {
		return
	}
	l.inflight--
	if !ev.settled {
		c.send(l.s.ch, &frames.Disposition{Role: frames.RoleReceiver, First: ev.id, Settled: true, State: ev.state}, nil)
	}
	c.refill(l)
}

// refill raises l's credit back to MaxCredit minus what is in flight once that adds at least
// half of MaxCredit, so a steady sender gets one flow per half window.
func (c *conn) refill(l *link) {
	want := c.s.opts.MaxCredit - min(l.inflight, c.s.opts.MaxCredit)
	if want > l.credit && want-l.credit >= max(c.s.opts.MaxCredit/2, 1) {
		l.credit = want
		c.incomingFlow(l)
	}
}

// grant is one call of Outgoing.Next the pump may make.
type grant struct {
	ctx context.Context
	max int
}

// deliveredEvent is what one Outgoing.Next call returned.
type deliveredEvent struct {
	l   *link
	ctx context.Context
	ds  []Delivery
	err error
}

// runOutgoing is an outgoing link's pump: for each grant it asks the handler for at most
// max deliveries; it closes the handler's link when the link ends. A link the handler ends
// with an *frames.Error (amqp:link:stolen) is closed at once, before the state goroutine
// detaches it, so a handler that waits for the old link's Close in another link's attach
// is not kept waiting on this connection.
func (c *conn) runOutgoing(l *link, grants <-chan grant) {
	defer c.links.Done()
	closed := false
	defer func() {
		if !closed {
			l.out.Close()
		}
	}()
	for {
		var g grant
		select {
		case g = <-grants:
		case <-l.ctx.Done():
			return
		}
		var ds []Delivery
		var err error
		if ferr := c.guard("Next", func() *frames.Error {
			ds, err = l.out.Next(g.ctx, g.max)
			return nil
		}); ferr != nil {
			err = ferr
		}
		var fe *frames.Error
		if errors.As(err, &fe) {
			closed = true
			l.out.Close()
		}
		select {
		case c.events <- deliveredEvent{l: l, ctx: g.ctx, ds: ds, err: err}:
		case <-l.ctx.Done():
			return
		}
		if closed {
			<-l.ctx.Done() // the state goroutine detaches the link
			return
		}
	}
}

// pump starts a Next call when l has credit, no call is running and the session has no
// queued transfers; a drain cancels the running call (or starts one already cancelled), so
// the handler gives what it has at once.
func (c *conn) pump(l *link) {
	if l.detaching || l.s.ending {
		return
	}
	if l.busy {
		if l.drain && l.callCancel != nil {
			l.callCancel()
		}
		return
	}
	if l.outCredit == 0 {
		if l.drain {
			l.drain = false
			c.outgoingLinkFlow(l, true)
		}
		return
	}
	if len(l.s.pending) > 0 {
		return
	}
	ctx, cancel := context.WithCancel(l.ctx)
	if l.drain {
		cancel()
	}
	l.busy, l.callCancel = true, cancel
	l.grants <- grant{ctx: ctx, max: int(min(l.outCredit, maxBatch))}
}

// delivered sends what Next returned, pre-settled, within the credit; an *frames.Error
// detaches the link with it.
func (c *conn) delivered(ev deliveredEvent) {
	l := ev.l
	l.busy = false
	if l.callCancel != nil {
		l.callCancel()
		l.callCancel = nil
	}
	if l.detaching || l.s.links[l.handle] != l || l.s.ending {
		return
	}
	if ev.err != nil {
		var fe *frames.Error
		switch {
		case errors.As(ev.err, &fe):
			c.detach(l, fe)
			return
		case ev.ctx.Err() != nil && l.ctx.Err() == nil:
			// a call cancelled for a drain
		default:
			c.s.closeLog.log(c.log, slog.LevelWarn, "AMQP outgoing link failed", "link", l.name, "err", ev.err)
			c.detach(l, amqpErr(condInternal, "the link %q failed: %v", l.name, ev.err))
			return
		}
	}
	for i, d := range ev.ds {
		if l.outCredit == 0 {
			c.s.closeLog.log(c.log, slog.LevelError, "AMQP outgoing link handler returned more deliveries than the credit; dropped",
				"link", l.name, "dropped", len(ev.ds)-i)
			break
		}
		if l.peerMaxMsg != 0 && uint64(len(d.Message)) > l.peerMaxMsg {
			c.detach(l, amqpErr(condMessageSize, "a message of %d bytes is larger than the receiver's max-message-size %d", len(d.Message), l.peerMaxMsg))
			return
		}
		c.sendDelivery(l, d)
	}
	if l.drain {
		// Part 2.6.7: a drained sender uses up the credit by advancing delivery-count.
		l.outCount += l.outCredit
		l.outCredit = 0
		l.drain = false
		c.outgoingLinkFlow(l, true)
		return
	}
	c.pump(l)
}

// sendDelivery sends one message settled, split into frames that fit the client's
// max-frame-size (more=true on all but the last).
func (c *conn) sendDelivery(l *link, d Delivery) {
	s := l.s
	id := s.nextDeliveryID
	s.nextDeliveryID++
	l.outCount++
	l.outCredit--
	tag := binary.BigEndian.AppendUint64(nil, l.nextTag)
	l.nextTag++
	settled, format := true, d.Format
	t := &frames.Transfer{Handle: l.handle, DeliveryID: &id, DeliveryTag: tag, MessageFormat: &format,
		Settled: &settled, More: true}
	msg := d.Message
	if len(msg)+maxTransferFrameHeader <= int(c.peerMaxFrame) { // one frame: no need to measure
		t.More = false
		c.queueTransfer(s, l, appendFrame(make([]byte, 0, len(msg)+maxTransferFrameHeader), frames.TypeAMQP, s.ch, t, msg))
		return
	}
	for {
		room := int(c.peerMaxFrame) - len(appendFrame(nil, frames.TypeAMQP, s.ch, t, nil))
		chunk := msg[:min(len(msg), max(room, 1))]
		msg = msg[len(chunk):]
		t.More = len(msg) > 0
		c.queueTransfer(s, l, appendFrame(nil, frames.TypeAMQP, s.ch, t, chunk))
		if !t.More {
			return
		}
		t = &frames.Transfer{Handle: l.handle, Settled: &settled, More: true}
	}
}
