// Package amqp is Tandem's AMQP 1.0 engine (OASIS AMQP 1.0, parts 2 and 5): the listener, the
// protocol and SASL headers, connections, sessions and links with their flow control,
// multi-frame transfers and heartbeats. It owns the protocol and the limits on what a client
// can make the node spend (frame size, sessions, links, credit, unauthenticated connections);
// it owns no data and no authorization: what a link means is asked of a Handler
// (internal/amqp/eventhubs), with whole messages. The type codec is internal/amqp/codec and the
// frames are internal/amqp/frames.
package amqp
