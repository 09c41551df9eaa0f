package eventhubs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/codec"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/amqp/message"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// $cbs: claims-based security. A client puts a token for an audience; the reply says whether
// it verified, and the connection then holds a claim for that audience:
//
//	request:  application-properties operation="put-token", type="servicebus.windows.net:sastoken",
//	          name=<audience>, [expiration]; body amqp-value <token string>; reply-to
//	reply:    correlation-id = the request's message-id (same type); application-properties
//	          status-code (int32) and status-description (string)
//
// Go, JS and .NET differ only in what the audience looks like (audiencePath).

// Put-token token types.
const (
	tokenTypeSAS = "servicebus.windows.net:sastoken"
	tokenTypeJWT = "jwt"
)

// requestMaxBytes bounds a request to $cbs or $management (a token, a few properties).
const requestMaxBytes = 64 << 10

// cbsLink is the client's sending link to $cbs.
type cbsLink struct{ c *conn }

func (l *cbsLink) MaxMessageSize() uint64 { return requestMaxBytes }
func (l *cbsLink) Close()                 {}

func (l *cbsLink) Message(ctx context.Context, format uint32, msg []byte) (frames.DeliveryState, []amqp.Reply) {
	m, err := message.Parse(msg)
	if err != nil {
		return &frames.Rejected{Error: errorf(condDecodeError, "the $cbs request is not an AMQP message: %v", err)}, nil
	}
	status, desc := l.c.putToken(m)
	if status/100 != 2 {
		l.c.h.log.Info("put-token refused", "remote", l.c.remote, "status", status, "reason", desc)
	}
	return replyTo(m, status, desc, nil, nil)
}

// replyTo accepts a request and answers it on its reply-to (a request without one gets no
// answer). cond, when set, goes in the error-condition property (JS reads it).
func replyTo(req *message.Message, status int32, desc string, cond *codec.Symbol, body any) (frames.DeliveryState, []amqp.Reply) {
	if req.Properties == nil || req.Properties.ReplyTo == "" {
		return &frames.Accepted{}, nil
	}
	out, err := appendReply(nil, req.Properties.MessageID, status, desc, cond, body)
	if err != nil {
		return &frames.Rejected{Error: errorf(condInternal, "encoding the reply: %v", err)}, nil
	}
	return &frames.Accepted{}, []amqp.Reply{{To: req.Properties.ReplyTo, Message: out}}
}

// appendReply encodes a reply message: correlation-id, status-code as an int32 (Go requires
// it), status-description, and a body amqp-value when body is not nil.
func appendReply(dst []byte, correlationID any, status int32, desc string, cond *codec.Symbol, body any) ([]byte, error) {
	dst, err := message.AppendProperties(dst, &message.Properties{CorrelationID: correlationID})
	if err != nil {
		return dst, err
	}
	ap := &codec.Map{}
	ap.Set("status-code", status)
	ap.Set("status-description", desc)
	if cond != nil {
		ap.Set("error-condition", *cond)
	}
	if dst, err = message.AppendApplicationProperties(dst, ap); err != nil {
		return dst, err
	}
	if body != nil {
		return message.AppendValue(dst, body)
	}
	return dst, nil
}

// appString returns a string application property ("" when absent or not a string).
func appString(m *message.Message, key string) string {
	v, _ := m.ApplicationProperties.Get(key)
	switch v := v.(type) {
	case string:
		return v
	case codec.Symbol:
		return string(v)
	}
	return ""
}

// putToken verifies a put-token request and records the claim: 202 when it verified, 401
// when it did not, 400 for a malformed request.
func (c *conn) putToken(m *message.Message) (int32, string) {
	if op := appString(m, "operation"); op != "put-token" {
		return 400, fmt.Sprintf("$cbs supports operation put-token only, not %q", clip(op))
	}
	typ, aud := appString(m, "type"), appString(m, "name")
	token, ok := m.Value.(string)
	if !ok {
		if b, isBin := m.Value.([]byte); isBin {
			token, ok = string(b), true
		}
	}
	switch {
	case aud == "":
		return 400, "put-token needs the audience in application property name"
	case !m.HasValue || !ok || token == "":
		return 400, "put-token needs the token as the body (an amqp-value string)"
	case typ == tokenTypeJWT:
		return 401, "Azure AD (JWT) tokens are not supported by Tandem; use a shared access signature (type servicebus.windows.net:sastoken)"
	case typ != tokenTypeSAS && typ != "":
		return 400, fmt.Sprintf("token type %q is not supported; use servicebus.windows.net:sastoken", clip(typ))
	}
	p, err := c.verifyToken(aud, token)
	if err != nil {
		return 401, err.Error()
	}
	if err := c.claims.add(audiencePath(aud), p); err != nil {
		return 403, err.Error()
	}
	return 202, "Accepted"
}

// verifyToken checks a token for an audience on this connection, binding an unbound
// connection to the namespace whose rule verifies it (§A.2.4).
func (c *conn) verifyToken(aud, token string) (broker.Principal, error) {
	path := audiencePath(aud)
	hub, _, _ := strings.Cut(path, "/")
	now := c.h.opts.Now()
	if c.h.opts.Dev && isPlaceholder(token, now) {
		// The emulator's key acts in the listener's default namespace (serve makes it the
		// namespace of --emulator-config's file), else in the dev namespace.
		def := c.h.opts.DefaultNamespace
		if def == "" {
			def = broker.DevNamespace
		}
		if p, ok := c.h.b.DevPrincipalIn(def); ok {
			if ns, _, err := c.bind(def); err == nil && ns == p.Namespace {
				return p, nil
			}
		}
	}
	if !c.isBound() {
		nss := c.h.b.TokenNamespaces(token)
		if len(nss) > 1 && hub != "" {
			var withHub []string
			for _, ns := range nss {
				if _, err := c.resolveHub(ns, hub); err == nil {
					withHub = append(withHub, ns)
				}
			}
			nss = withHub
		}
		switch len(nss) {
		case 0:
			if c.h.opts.DefaultNamespace == "" && !c.h.opts.Dev {
				return broker.Principal{}, errcode.New(errcode.Unauthorized,
					"no namespace of this region has a rule %q whose key signed this token, and the connection's host name %q names no namespace; check the connection string's key name and key",
					tokenKeyName(token), c.info.Hostname)
			}
			// Checked against the default namespace below, for its precise error.
		case 1:
			if _, _, err := c.bind(nss[0]); err != nil {
				return broker.Principal{}, err
			}
		default:
			slices.Sort(nss)
			return broker.Principal{}, errcode.New(errcode.Unauthorized,
				"the token verifies with rules of several namespaces (%s); connect with a host name that names the namespace", strings.Join(nss, ", "))
		}
	}
	_, name, err := c.namespace()
	if err != nil {
		return broker.Principal{}, err
	}
	p, err := c.h.b.AuthenticateToken(name, path, token)
	if err != nil {
		var ee *errcode.Error
		if errors.As(err, &ee) {
			return broker.Principal{}, fmt.Errorf("token for audience %q refused: %w", clip(aud), err)
		}
		return broker.Principal{}, err
	}
	return p, nil
}

// tokenKeyName is a token's skn, for messages.
func tokenKeyName(token string) string {
	tok, err := auth.ParseSASToken(token)
	if err != nil {
		return ""
	}
	return tok.KeyName
}
