package amqp

import (
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// session is one session's state (part 2.5.6), owned by the connection's state goroutine.
// Our channel number is the client's (we never begin a session ourselves, and a channel is
// freed on both sides by the same end exchange), and so is each link's handle.
type session struct {
	ch     uint16
	ending bool // we sent end and wait for the client's

	// Incoming transfers: next-incoming-id and the incoming-window we advertised; consumed
	// counts transfers since our last session flow, which is sent at half the window, so a
	// client never sees its remote-incoming-window reach 0 (go-amqp stops sending then).
	nextIncomingID uint32
	incomingWindow uint32
	consumed       uint32

	// Outgoing transfers: our next-outgoing-id, the client's incoming window as computed
	// from its last begin or flow, and the frames waiting for it to open.
	nextOutgoingID       uint32
	remoteIncomingWindow uint32
	nextDeliveryID       uint32
	pending              []pendingFrame

	links map[uint32]*link // by handle
}

type pendingFrame struct {
	l *link
	b []byte
}

// begin answers a client's begin; over the session cap the session is ended at once with
// amqp:resource-limit-exceeded.
func (c *conn) begin(ch uint16, p *frames.Begin) error {
	if p.RemoteChannel != nil {
		return closeWith("protocol_error", amqpErr(condNotAllowed, "begin with a remote-channel: this server never begins sessions"))
	}
	if c.sessions[ch] != nil {
		return closeWith("protocol_error", amqpErr(condNotAllowed, "begin on channel %d, which already has a session", ch))
	}
	o := c.s.opts
	s := &session{ch: ch, nextIncomingID: p.NextOutgoingID, incomingWindow: o.SessionWindow,
		remoteIncomingWindow: p.IncomingWindow, links: make(map[uint32]*link)}
	c.sessions[ch] = s
	rc := ch
	c.send(ch, &frames.Begin{RemoteChannel: &rc, NextOutgoingID: 0, IncomingWindow: s.incomingWindow,
		OutgoingWindow: o.SessionWindow, HandleMax: uint32(o.MaxLinksPerSession - 1)}, nil)
	switch {
	case int(ch) > o.MaxSessions-1:
		c.endSession(s, amqpErr(condResourceLimit, "channel %d is above the channel-max %d of this server", ch, o.MaxSessions-1))
	case len(c.sessions) > o.MaxSessions:
		c.endSession(s, amqpErr(condResourceLimit, "a connection may have %d sessions; end one first or use another connection", o.MaxSessions))
	}
	return nil
}

// endSession ends s with err (nil: a plain end): its links are closed without detaches
// (part 2.7.8: after end nothing more is sent on the session) and the client's end is
// awaited.
func (c *conn) endSession(s *session, err *frames.Error) {
	if s.ending {
		return
	}
	s.ending = true
	for _, l := range s.links {
		c.stopLink(l)
	}
	s.links = nil
	s.pending = nil
	c.send(s.ch, &frames.End{Error: err}, nil)
}

// endFromPeer handles the client's end: the answer to ours, or its own end, answered.
func (c *conn) endFromPeer(s *session, p *frames.End) {
	if !s.ending {
		c.endSession(s, nil)
	}
	delete(c.sessions, s.ch)
}

// flow handles a session flow and, with a handle, a link flow (part 2.7.4).
func (c *conn) flow(s *session, p *frames.Flow) {
	// remote-incoming-window = next-incoming-id(flow) + incoming-window(flow) - next-outgoing-id(ours);
	// without next-incoming-id the initial outgoing id (0) stands for it.
	var nextIn uint32
	if p.NextIncomingID != nil {
		nextIn = *p.NextIncomingID
	}
	s.remoteIncomingWindow = nextIn + p.IncomingWindow - s.nextOutgoingID
	if p.Handle == nil {
		if p.Echo {
			c.sessionFlow(s)
		}
		c.flushPending(s)
		return
	}
	l := s.links[*p.Handle]
	if l == nil {
		c.endSession(s, amqpErr(condUnattachedHandle, "flow on handle %d, which is not attached", *p.Handle))
		return
	}
	c.flushPending(s)
	if l.detaching {
		return
	}
	if l.out != nil {
		c.outgoingFlow(l, p)
	} else if p.Echo {
		c.incomingFlow(l)
	}
}

// sessionFlow sends our session state.
func (c *conn) sessionFlow(s *session) {
	next := s.nextIncomingID
	s.consumed = 0
	c.send(s.ch, &frames.Flow{NextIncomingID: &next, IncomingWindow: s.incomingWindow,
		NextOutgoingID: s.nextOutgoingID, OutgoingWindow: c.s.opts.SessionWindow}, nil)
}

// received counts one incoming transfer against the session window and refreshes the
// window at half.
func (c *conn) received(s *session) {
	s.nextIncomingID++
	s.consumed++
	if s.consumed >= max(s.incomingWindow/2, 1) {
		c.sessionFlow(s)
	}
}

// queueTransfer sends one transfer frame of l, or queues it until the client's incoming
// window opens.
func (c *conn) queueTransfer(s *session, l *link, b []byte) {
	if len(s.pending) == 0 && s.remoteIncomingWindow > 0 {
		c.sendTransfer(s, b)
		return
	}
	s.pending = append(s.pending, pendingFrame{l: l, b: b})
}

func (c *conn) sendTransfer(s *session, b []byte) {
	c.sendRaw(b)
	s.nextOutgoingID++
	s.remoteIncomingWindow--
}

// flushPending sends queued transfers while the client's window allows, then lets idle
// outgoing links ask their handler for more.
func (c *conn) flushPending(s *session) {
	n := 0
	for n < len(s.pending) && s.remoteIncomingWindow > 0 {
		c.sendTransfer(s, s.pending[n].b)
		s.pending[n] = pendingFrame{}
		n++
	}
	if n > 0 {
		s.pending = s.pending[n:]
		if len(s.pending) == 0 {
			s.pending = nil
			for _, l := range s.links {
				if l.out != nil {
					c.pump(l)
				}
			}
		}
	}
}

// dropPending forgets l's queued transfers (l is detaching: nothing more may be sent on it).
func (s *session) dropPending(l *link) {
	kept := s.pending[:0]
	for _, f := range s.pending {
		if f.l != l {
			kept = append(kept, f)
		}
	}
	clear(s.pending[len(kept):])
	s.pending = kept
}
