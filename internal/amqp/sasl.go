package amqp

import (
	"bytes"
	"fmt"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

// SASL mechanisms offered, in the order clients should prefer them (part 5.3). MSSBCBS is
// what the .NET SDK asks for (claims come later, over $cbs) and is treated as ANONYMOUS.
var saslMechanisms = []codec.Symbol{"MSSBCBS", "ANONYMOUS", "PLAIN"}

// sasl runs the SASL layer after the client's SASL header: our header and the mechanisms,
// the client's init, our outcome. No challenges: ANONYMOUS and MSSBCBS carry a trace string
// (often the key name), PLAIN carries credentials the handler checks (ConnInfo); the
// engine authorizes nothing itself.
func (c *conn) sasl() error {
	b := append(protoHeader(frames.ProtoSASL), appendFrame(nil, frames.TypeSASL, 0,
		&frames.SASLMechanisms{Mechanisms: saslMechanisms}, nil)...)
	if err := c.writeNow(b); err != nil {
		return err
	}
	p, err := c.readHandshakeFrame(frames.TypeSASL)
	if err != nil {
		return err
	}
	init, ok := p.(*frames.SASLInit)
	if !ok {
		c.saslFail(frames.SASLSysPerm)
		return closing("sasl_failed", fmt.Errorf("sasl-init expected, got %T", p))
	}
	mech := string(init.Mechanism)
	switch mech {
	case "ANONYMOUS", "MSSBCBS":
		c.info.SASLUser = string(init.InitialResponse)
	case "PLAIN":
		// authzid NUL authcid NUL password (RFC 4616).
		parts := bytes.SplitN(init.InitialResponse, []byte{0}, 3)
		if len(parts) != 3 {
			c.saslFail(frames.SASLAuth)
			return closing("sasl_failed", fmt.Errorf("malformed SASL PLAIN response: expected authzid NUL authcid NUL password"))
		}
		c.info.SASLUser, c.info.SASLPassword = string(parts[1]), string(parts[2])
	default:
		c.saslFail(frames.SASLAuth)
		return closing("sasl_failed", fmt.Errorf("SASL mechanism %q is not supported; use one of %v", mech, saslMechanisms))
	}
	c.info.SASLMechanism = mech
	return c.writeNow(appendFrame(nil, frames.TypeSASL, 0, &frames.SASLOutcome{Code: frames.SASLOK}, nil))
}

func (c *conn) saslFail(code uint8) {
	c.writeNow(appendFrame(nil, frames.TypeSASL, 0, &frames.SASLOutcome{Code: code}, nil))
}
