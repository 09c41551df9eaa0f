package amqp

import "context"

// replyLink is the Outgoing of a request/response node's reply link ($cbs, $management):
// a bounded queue the engine fills with the Reply values of requests whose reply-to equals
// the link's target address.
type replyLink struct {
	q chan []byte
}

// NewReplyLink returns an Outgoing for a reply link. The engine routes each Reply whose To
// equals the link's attach target address to it; when its queue is full the request is
// rejected with amqp:resource-limit-exceeded.
func NewReplyLink() Outgoing {
	return &replyLink{q: make(chan []byte, DefaultReplyQueue)}
}

// push queues msg; false when the queue is full.
func (r *replyLink) push(msg []byte) bool {
	select {
	case r.q <- msg:
		return true
	default:
		return false
	}
}

// Next returns the queued replies, at most max, waiting for the first.
func (r *replyLink) Next(ctx context.Context, max int) ([]Delivery, error) {
	var ds []Delivery
	select {
	case m := <-r.q:
		ds = append(ds, Delivery{Message: m})
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(ds) < max {
		select {
		case m := <-r.q:
			ds = append(ds, Delivery{Message: m})
		default:
			return ds, nil
		}
	}
	return ds, nil
}

// Close does nothing: replies still queued are dropped with the link.
func (r *replyLink) Close() {}
