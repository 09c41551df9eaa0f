package kafka

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASLAuthenticate: v0-2
//
// PLAIN: authzid NUL authcid NUL password. The user must be `$ConnectionString` and the
// password a connection string whose endpoint host names the namespace (or alias); the key
// or SAS token in it is checked against the namespace's shared access policies.

func init() { register(36, 0, 2) }

func (c *conn) handleSASLAuthenticate(ctx context.Context, req *kmsg.SASLAuthenticateRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	fail := func(msg string) kmsg.Response {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = &msg
		c.s.log.Info("SASL authentication failed", "remote", c.remote, "client", c.clientID, "reason", msg)
		return resp
	}
	if c.saslMech != mechPlain {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SASLAuthenticate before SASLHandshake with mechanism PLAIN"
		resp.ErrorMessage = &msg
		return resp
	}
	parts := bytes.SplitN(req.SASLAuthBytes, []byte{0}, 3)
	if len(parts) != 3 {
		return fail("malformed SASL PLAIN message: expected authzid NUL user NUL password")
	}
	user, password := string(parts[1]), string(parts[2])
	p, err := c.s.opts.Broker.AuthenticatePlain(ctx, user, password)
	if err != nil {
		return fail(err.Error())
	}
	c.principal = &p
	c.saslMech = ""
	return resp
}
