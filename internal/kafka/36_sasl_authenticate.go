package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASLAuthenticate: v0-2
//
// PLAIN: authzid NUL authcid NUL password. The user must be `$ConnectionString` and the
// password a connection string whose endpoint host names the namespace (or alias); the key
// or SAS token in it is checked against the namespace's shared access policies.
//
// One refused attempt ends the connection: the error answer is sent, then the connection is
// closed, as Kafka does; the failure is logged through a rate limit, so a client cannot
// flood the log with attempts.

func init() { register(36, 0, 2) }

func (c *conn) handleSASLAuthenticate(ctx context.Context, req *kmsg.SASLAuthenticateRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.saslMech != mechPlain {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SASLAuthenticate before SASLHandshake with mechanism PLAIN"
		resp.ErrorMessage = &msg
		c.saslRefused(errors.New(msg))
		return resp
	}
	if err := c.authenticatePlain(ctx, req.SASLAuthBytes); err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := err.Error()
		resp.ErrorMessage = &msg
		c.saslRefused(err)
	}
	return resp
}

// saslRefused marks the connection to be closed once the refusal is sent, and logs it.
func (c *conn) saslRefused(err error) {
	c.saslFailed = fmt.Errorf("SASL authentication failed: %w", err)
	c.s.saslLog.log(c.s.log, slog.LevelInfo, "SASL authentication failed; closing the connection",
		"remote", c.remote, "client", c.clientID, "reason", err)
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
		c.saslRefused(err)
		return nil, c.saslFailed
	}
	r := &request{raw: []byte{}, done: make(chan struct{})}
	close(r.done)
	return r, nil
}
