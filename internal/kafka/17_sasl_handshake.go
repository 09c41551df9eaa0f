package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASLHandshake: v0-1
//
// Only PLAIN is offered, as on Event Hubs' Kafka endpoint: the user is `$ConnectionString`
// and the password an Event Hubs connection string. After v1 the client authenticates with
// SASLAuthenticate; after v0 it sends the bare PLAIN token as the next frame (see
// rawAuthenticate). librdkafka requires v0 to be advertised before it uses SASL at all.
// A mechanism other than PLAIN is answered UNSUPPORTED_SASL_MECHANISM with the list, and
// the connection is then closed, as Kafka does.

func init() { register(17, 0, 1) }

const mechPlain = "PLAIN"

func (c *conn) handleSASLHandshake(req *kmsg.SASLHandshakeRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = []string{mechPlain}
	if c.principal != nil && !c.s.opts.Dev {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return resp
	}
	if req.Mechanism != mechPlain {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.saslRefused(fmt.Errorf("mechanism %q is not supported; use PLAIN", req.Mechanism))
		return resp
	}
	c.saslMech = mechPlain
	c.rawSASL = req.Version == 0
	return resp
}
