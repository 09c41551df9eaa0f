// Package amqp is Tandem's AMQP 1.0 engine (OASIS AMQP 1.0, parts 2 and 5): the listener, the
// protocol and SASL headers, connections, sessions and links with their flow control,
// multi-frame transfers and heartbeats. It owns the protocol and the limits on what a client
// can make the node spend (frame size, sessions, links, credit, unauthenticated connections);
// it owns no data and no authorization: what a link means is asked of a Handler
// (internal/amqp/eventhubs), with whole messages. The type codec is internal/amqp/codec and the
// frames are internal/amqp/frames.
//
// One connection is a handful of goroutines with one owner each: the connection goroutine runs
// the handshake (protocol header, SASL, open; bounded by AuthTimeout and a small frame limit)
// and then owns every session and link (loop.go, session.go, link.go); a reader decodes frames
// for it, a writer writes what it queues and sends the heartbeats (empty frames at no more
// than half the peer's idle-time-out), and each link has one goroutine for its handler: a
// worker that hands whole messages to Incoming.Message in order, or a pump that calls
// Outgoing.Next when the link has credit. Those goroutines call the handler's Close when they
// end; the connection waits for all of them before Conn.Close, and Server.Close waits for
// every connection.
//
// Flow control, as the SDKs need it: client senders get MaxCredit of link credit, refilled
// at half as messages are handled (so at most MaxCredit messages of a link are held at
// once); the session incoming-window is refreshed by a session flow at half (go-amqp stops
// sending at 0); deliveries to clients are sent settled, never beyond the link credit or the
// client's session window, and split to the client's max-frame-size. Settle modes are echoed
// exactly; a refused attach is an attach without terminus and a closing detach; every detach
// closes.
//
// Memory: transfer payloads held (reassembling, queued, being handled) draw on one budget
// shared by all connections (budget.go), of which one connection holds at most a share; a
// reader that finds no room stops reading, so TCP pushes back on the client, and after
// MemoryWait its connection is closed with amqp:resource-limit-exceeded.
package amqp
