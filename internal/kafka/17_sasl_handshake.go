package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASLHandshake: v1
//
// Only PLAIN is offered, as on Event Hubs' Kafka endpoint: the user is `$ConnectionString`
// and the password an Event Hubs connection string. v0 (raw SASL frames after the handshake)
// is not served; every maintained client uses v1 with SASLAuthenticate.

func init() { register(17, 1, 1) }

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
		return resp
	}
	c.saslMech = mechPlain
	return resp
}
