package amqp

import (
	"context"
	"net"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// Handler gives meaning to a connection's links: it is what a node of the broker (an event
// hub, a partition, $cbs, $management) looks like to the engine. The engine owns the protocol
// (SASL, open, sessions, flow control, transfers, heartbeats) and calls the handler only with
// whole messages and attach requests. internal/amqp/eventhubs implements it.
type Handler interface {
	// Connect is called once per connection, after SASL and the peer's open, before any
	// session. An *frames.Error refuses the connection (close with that error).
	Connect(ctx context.Context, info ConnInfo) (Conn, *frames.Error)
}

// ConnInfo is what the engine knows of a connection when it opens.
type ConnInfo struct {
	RemoteAddr net.Addr
	TLS        bool
	// Hostname is open.hostname as sent (the Go SDK includes the port: "localhost:5672").
	Hostname string
	// SASLMechanism is "ANONYMOUS", "MSSBCBS", "PLAIN", or "" when the client sent the plain
	// AMQP header without SASL.
	SASLMechanism string
	// SASLUser and SASLPassword are PLAIN's authcid and password; for ANONYMOUS and MSSBCBS,
	// SASLUser is the initial response as sent (a trace string, often the key name).
	SASLUser, SASLPassword string
	ContainerID            string
}

// Conn is the handler's state for one connection (its claims, for example). The engine calls
// its methods from the connection's goroutines, never two at once for one link; Close once when
// the connection ends, after every link's Close.
type Conn interface {
	// AttachIncoming is called when the client attaches a link on which it sends (client role
	// sender; the engine is the receiver) to a.Target.Address.
	AttachIncoming(ctx context.Context, a *frames.Attach) (Incoming, *frames.Error)
	// AttachOutgoing is called when the client attaches a link on which it receives (client role
	// receiver) from a.Source.Address. Request/response nodes ($cbs, $management) return
	// NewReplyLink(): replies to requests whose reply-to equals a.Target.Address go there.
	AttachOutgoing(ctx context.Context, a *frames.Attach) (Outgoing, *frames.Error)
	Close()
}

// Incoming is the handler's side of a link the client sends on.
type Incoming interface {
	// MaxMessageSize is advertised in the attach reply (0 = no limit) and enforced by the
	// engine: a message larger than it detaches the link with amqp:link:message-size-exceeded.
	MaxMessageSize() uint64
	// Message handles one whole message (every transfer frame of the delivery joined; msg is
	// owned by the callee). format is the transfer's message-format (0x80013700 = Event Hubs
	// batch). The returned state (*frames.Accepted or *frames.Rejected) goes back in a
	// disposition unless the client sent the delivery settled. Replies are routed by the
	// engine to the connection's reply link whose target address equals Reply.To.
	Message(ctx context.Context, format uint32, msg []byte) (frames.DeliveryState, []Reply)
	Close()
}

// Reply is a message for a request/response reply link.
type Reply struct {
	To      string // the request's reply-to address
	Message []byte // a whole encoded message
}

// Outgoing is the handler's side of a link the client receives on.
type Outgoing interface {
	// Next blocks until at least one message is ready and returns at most max of them (max is
	// the link credit, ≥ 1). It returns ctx.Err() when ctx ends. An *frames.Error detaches the
	// link with it (amqp:link:stolen, for example). The engine sends them settled.
	Next(ctx context.Context, max int) ([]Delivery, error)
	Close()
}

// Delivery is one outgoing message.
type Delivery struct {
	Format  uint32
	Message []byte // a whole encoded message, split into frames by the engine
}
