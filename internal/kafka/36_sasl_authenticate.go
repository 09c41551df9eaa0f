package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"

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
	if err := c.authenticatePlain(ctx, req.SASLAuthBytes); err != nil {
		return fail(err.Error())
	}
	return resp
}

// authenticatePlain checks a PLAIN token: authzid NUL user NUL password.
func (c *conn) authenticatePlain(ctx context.Context, token []byte) error {
	parts := bytes.SplitN(token, []byte{0}, 3)
	if len(parts) != 3 {
		return errors.New("malformed SASL PLAIN message: expected authzid NUL user NUL password")
	}
	p, err := c.s.opts.Broker.AuthenticatePlain(ctx, string(parts[1]), string(parts[2]))
	if err != nil {
		return err
	}
	if err := c.s.opts.Broker.CheckClientAddress(p.Namespace, c.remote); err != nil {
		return err
	}
	c.principal = &p
	c.saslMech = ""
	return nil
}

// rawAuthenticate handles the bare token that follows a SASLHandshake v0. Success is an
// empty frame; failure closes the connection, as Kafka does for this legacy exchange.
func (c *conn) rawAuthenticate(ctx context.Context, frame []byte) (*request, error) {
	c.rawSASL = false
	if err := c.authenticatePlain(ctx, frame); err != nil {
		return nil, fmt.Errorf("SASL authentication failed: %w", err)
	}
	r := &request{raw: []byte{}, done: make(chan struct{})}
	close(r.done)
	return r, nil
}
