package amqp

import (
	"context"
	"runtime/debug"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// link is one attached link (part 2.6), owned by the connection's state goroutine. The
// handler's side runs in the link's own goroutine: a worker that hands whole messages to
// Incoming.Message, or a pump that asks Outgoing.Next for deliveries; that goroutine calls
// the handler's Close when it ends, so no two calls for one link ever overlap.
type link struct {
	s         *session
	handle    uint32
	name      string
	detaching bool // we sent detach and wait for the client's
	ctx       context.Context
	cancel    context.CancelFunc

	// A link the client sends on (we are the receiver).
	in            Incoming
	maxMsg        uint64 // the limit we advertised and enforce
	credit        uint32 // link-credit the client still has
	deliveryCount uint32 // the receiver's delivery-count
	inflight      uint32 // whole messages handed to the worker, not yet handled
	jobs          chan job
	assembling    bool // a delivery with more=true is in progress
	cur           job
	buf           []byte
	held          int64 // budget held by buf

	// A link the client receives on (we are the sender).
	out        Outgoing
	reply      *replyLink // out, when it is a reply link
	replyTo    string     // the target address it is registered under
	outCredit  uint32
	outCount   uint32 // the sender's delivery-count
	drain      bool
	busy       bool // the pump is in Next
	callCancel context.CancelFunc
	grants     chan grant
	nextTag    uint64
	peerMaxMsg uint64 // the client receiver's max-message-size (0: none)
}

// attach answers a client's attach: the handler is asked, and our attach echoes the name,
// the handle, the settle modes exactly as asked, the source and target, and offers the
// desired capabilities; a refusal is an attach without terminus and a closing detach with
// the handler's error (part 2.6.3; go-amqp waits for that detach).
func (c *conn) attach(s *session, p *frames.Attach) {
	if s.links[p.Handle] != nil {
		c.endSession(s, amqpErr(condHandleInUse, "attach on handle %d, which is already attached", p.Handle))
		return
	}
	l := &link{s: s, handle: p.Handle, name: p.Name}
	l.ctx, l.cancel = context.WithCancel(c.ctx)
	s.links[p.Handle] = l
	reply := &frames.Attach{Name: p.Name, Handle: p.Handle, Role: !p.Role,
		SndSettleMode: p.SndSettleMode, RcvSettleMode: p.RcvSettleMode,
		Source: p.Source, Target: p.Target, OfferedCapabilities: p.DesiredCapabilities}
	o := c.s.opts
	if (p.Role == frames.RoleSender && p.Target == nil) || (p.Role == frames.RoleReceiver && p.Source == nil) {
		c.refuseAttach(l, reply, amqpErr(condNotAllowed, "attach of link %q without the terminus naming the node (target for a sender, source for a receiver)", p.Name))
		return
	}
	if len(s.links) > o.MaxLinksPerSession || p.Handle > uint32(o.MaxLinksPerSession-1) {
		c.refuseAttach(l, reply, amqpErr(condResourceLimit,
			"a session may have %d links (handle-max %d); detach one or begin another session", o.MaxLinksPerSession, o.MaxLinksPerSession-1))
		return
	}
	if p.Role == frames.RoleSender {
		var in Incoming
		ferr := c.guard("AttachIncoming", func() (ferr *frames.Error) {
			in, ferr = c.hc.AttachIncoming(l.ctx, p)
			return ferr
		})
		if ferr == nil && in == nil {
			ferr = amqpErr(condInternal, "the handler accepted the link without state")
		}
		if ferr != nil {
			c.refuseAttach(l, reply, ferr)
			return
		}
		if reply.Target == nil {
			reply.Target = &frames.Target{}
		}
		l.in = in
		l.maxMsg = o.MaxMessageBytes
		if m := in.MaxMessageSize(); m != 0 && m < l.maxMsg {
			l.maxMsg = m
		}
		reply.MaxMessageSize = l.maxMsg
		c.send(s.ch, reply, nil)
		l.deliveryCount = p.InitialDeliveryCount
		l.jobs = make(chan job, o.MaxCredit)
		c.links.Add(1)
		go c.runIncoming(l, l.jobs)
		l.credit = o.MaxCredit
		c.incomingFlow(l)
		return
	}
	var out Outgoing
	ferr := c.guard("AttachOutgoing", func() (ferr *frames.Error) {
		out, ferr = c.hc.AttachOutgoing(l.ctx, p)
		return ferr
	})
	if ferr == nil && out == nil {
		ferr = amqpErr(condInternal, "the handler accepted the link without state")
	}
	if ferr != nil {
		c.refuseAttach(l, reply, ferr)
		return
	}
	if reply.Source == nil {
		reply.Source = &frames.Source{}
	}
	l.out = out
	l.peerMaxMsg = p.MaxMessageSize
	reply.InitialDeliveryCount = 0
	if rl, ok := out.(*replyLink); ok {
		// Replies go to the link whose target address is the request's reply-to; the JS SDK's
		// $cbs receiver has no target address and names the link after its reply-to instead.
		l.reply, l.replyTo = rl, p.Name
		if p.Target != nil && p.Target.Address != "" {
			l.replyTo = p.Target.Address
		}
		c.replyMu.Lock()
		c.replies[l.replyTo] = rl
		c.replyMu.Unlock()
	}
	c.send(s.ch, reply, nil)
	l.grants = make(chan grant, 1)
	c.links.Add(1)
	go c.runOutgoing(l, l.grants)
}

// refuseAttach answers with an attach without terminus, then detaches with err.
func (c *conn) refuseAttach(l *link, reply *frames.Attach, err *frames.Error) {
	reply.Source, reply.Target = nil, nil
	c.send(l.s.ch, reply, nil)
	c.detach(l, err)
}

// detach closes l from our side with err (every detach we send closes: go-amqp refuses a
// non-closing one) and waits for the client's detach.
func (c *conn) detach(l *link, err *frames.Error) {
	if l.detaching {
		return
	}
	c.stopLink(l)
	l.detaching = true
	l.s.dropPending(l)
	c.send(l.s.ch, &frames.Detach{Handle: l.handle, Closed: true, Error: err}, nil)
}

// detachFromPeer handles the client's detach: the answer to ours, or its own, answered.
func (c *conn) detachFromPeer(s *session, p *frames.Detach) {
	l := s.links[p.Handle]
	if l == nil {
		c.endSession(s, amqpErr(condUnattachedHandle, "detach on handle %d, which is not attached", p.Handle))
		return
	}
	if !l.detaching {
		c.detach(l, nil)
	}
	delete(s.links, p.Handle)
}

// stopLink ends l's goroutine (which then calls the handler's Close) and its reply route.
// An incoming link's worker first hands the handler the whole messages already received
// (a client may detach right after a pre-settled send), then cancels the link's context;
// the connection's end cancels it sooner.
func (c *conn) stopLink(l *link) {
	if l.jobs != nil {
		close(l.jobs)
		l.jobs = nil
	} else {
		l.cancel()
	}
	l.buf = nil
	c.release(l.held)
	l.held = 0
	if l.reply != nil {
		c.replyMu.Lock()
		if c.replies[l.replyTo] == l.reply {
			delete(c.replies, l.replyTo)
		}
		c.replyMu.Unlock()
	}
}

// incomingFlow sends the link state of a link the client sends on.
func (c *conn) incomingFlow(l *link) {
	dc, credit, h := l.deliveryCount, l.credit, l.handle
	c.sendLinkFlow(l.s, &frames.Flow{Handle: &h, DeliveryCount: &dc, LinkCredit: &credit})
}

// sendLinkFlow fills in the session fields of a link flow and sends it.
func (c *conn) sendLinkFlow(s *session, f *frames.Flow) {
	next := s.nextIncomingID
	f.NextIncomingID = &next
	f.IncomingWindow = s.incomingWindow
	f.NextOutgoingID = s.nextOutgoingID
	f.OutgoingWindow = c.s.opts.SessionWindow
	s.consumed = 0
	c.send(s.ch, f, nil)
}

// outgoingFlow takes a client receiver's credit (part 2.6.7):
// link-credit(snd) = delivery-count(rcv) + link-credit(rcv) - delivery-count(snd).
func (c *conn) outgoingFlow(l *link, p *frames.Flow) {
	if p.LinkCredit != nil {
		var dc uint32 // the initial delivery-count we sent
		if p.DeliveryCount != nil {
			dc = *p.DeliveryCount
		}
		l.outCredit = dc + *p.LinkCredit - l.outCount
		if int32(l.outCredit) < 0 { // a delivery-count ahead of ours: no credit
			l.outCredit = 0
		}
	}
	l.drain = p.Drain
	if p.Echo {
		c.outgoingLinkFlow(l, false)
	}
	c.pump(l)
}

// outgoingLinkFlow sends our sender state of l.
func (c *conn) outgoingLinkFlow(l *link, drain bool) {
	dc, credit, h := l.outCount, l.outCredit, l.handle
	var avail uint32
	c.sendLinkFlow(l.s, &frames.Flow{Handle: &h, DeliveryCount: &dc, LinkCredit: &credit, Available: &avail, Drain: drain})
}

// guard runs a handler call; a panic in it is logged and becomes amqp:internal-error, so one
// bad request cannot take the node down.
func (c *conn) guard(what string, f func() *frames.Error) (ferr *frames.Error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("AMQP handler panicked", "call", what, "panic", p, "stack", string(debug.Stack()))
			ferr = amqpErr(condInternal, "the server failed handling %s; this is a bug, please report it", what)
		}
	}()
	return f()
}
