// Package client is the Go SDK of Tandem's HTTP API: management of namespaces, event hubs,
// consumer groups and authorization rules, and the data plane (send, receive, checkpoints).
//
// A Client authenticates every request with the node admin key (WithAdminKey), a connection
// string (WithConnectionString: each request carries a fresh SAS token signed with its key),
// or a ready SAS token (WithSASToken); with none of them it is anonymous, which a node in dev
// mode accepts for namespace "default".
//
// Errors the server answers come back as *errcode.Error values carrying the server's code
// and message; use errcode.CodeOf to branch on them.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Client talks to one Tandem node's HTTP API. It is safe for concurrent use.
type Client struct {
	base   string
	hc     *http.Client
	authFn func() (string, error) // the Authorization header value, "" for none
	// noCredential, when set, replaces the server's Unauthorized answer to a request sent
	// without credentials (WithNoCredentialHint).
	noCredential string
}

// Option configures a Client.
type Option func(*Client) error

// WithAdminKey authenticates with the node admin key (the file <data>/admin-key).
func WithAdminKey(key string) Option {
	return func(c *Client) error {
		key = strings.TrimSpace(key)
		c.authFn = func() (string, error) { return "TandemKey " + key, nil }
		return nil
	}
}

// WithSASToken authenticates with a ready SAS token ("SharedAccessSignature sr=…").
func WithSASToken(token string) Option {
	return func(c *Client) error {
		c.authFn = func() (string, error) { return token, nil }
		return nil
	}
}

// tokenLifetime is how long the SAS tokens signed from a connection string are valid.
const tokenLifetime = time.Hour

// WithConnectionString authenticates with an Event Hubs connection string. With a key, every
// request carries a fresh SAS token for the string's resource (sb://<namespace>/[EntityPath]);
// with SharedAccessSignature, that token is sent as is.
func WithConnectionString(s string) Option {
	return func(c *Client) error {
		cs, err := auth.ParseConnectionString(s)
		if err != nil {
			return err
		}
		if cs.SharedAccessSignature != "" {
			c.authFn = func() (string, error) { return cs.SharedAccessSignature, nil }
			return nil
		}
		c.authFn = func() (string, error) {
			return auth.NewSASToken(cs.ResourceURI(), cs.SharedAccessKeyName, cs.SharedAccessKey, time.Now().Add(tokenLifetime)), nil
		}
		return nil
	}
}

// WithNoCredentialHint sets what a request sent without credentials reports when the server
// refuses it as Unauthorized: where the caller looked for a credential and how to give one
// (the CLI names its --data, --admin-key and TANDEM_ADMIN_KEY). The server's own answer,
// which speaks of HTTP headers, follows it.
func WithNoCredentialHint(hint string) Option {
	return func(c *Client) error {
		c.noCredential = hint
		return nil
	}
}

// WithHTTPClient sets the HTTP client (default: a client without timeout, since receives
// long-poll; bound calls with their context).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		c.hc = hc
		return nil
	}
}

// New returns a client of the node at baseURL, such as http://127.0.0.1:8080.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errcode.New(errcode.InvalidArgument, "server URL %q is invalid; use http://host:port", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: http.DefaultClient,
		authFn: func() (string, error) { return "", nil }}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// do sends a request with a JSON body (nil for none) and decodes a JSON answer into out
// (nil to discard). Answers outside 2xx become *errcode.Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.doHeader(ctx, method, path, nil, in, out)
}

// doHeader is do with extra request headers (a conditional write's If-None-Match).
func (c *Client) doHeader(ctx context.Context, method, path string, hdr http.Header, in, out any) error {
	var body io.Reader
	if in != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			return errcode.New(errcode.InvalidArgument, "encoding the request: %w", err)
		}
		body = &buf
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return errcode.New(errcode.InvalidArgument, "building request %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	authz, err := c.authFn()
	if err != nil {
		return err
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return errcode.New(errcode.Timeout, "%s %s: %w", method, path, ctx.Err())
		}
		return errcode.New(errcode.Unavailable, "cannot reach the Tandem server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return errcode.New(errcode.Unavailable, "reading the answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		err := responseError(resp.StatusCode, data)
		if authz == "" && c.noCredential != "" && errcode.Is(err, errcode.Unauthorized) {
			return errcode.New(errcode.Unauthorized, "%s (the server answered: %v)", c.noCredential, err)
		}
		return err
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return errcode.New(errcode.Internal, "the answer to %s %s is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// responseError rebuilds the server's error, or describes an answer that is not one.
func responseError(status int, data []byte) error {
	if e, ok := errcode.FromBody(data); ok {
		return e
	}
	code := map[int]errcode.Code{
		400: errcode.InvalidArgument, 401: errcode.Unauthorized, 403: errcode.Forbidden, 404: errcode.NotFound,
		409: errcode.Conflict, 412: errcode.PreconditionFailed, 413: errcode.MessageTooLarge, 503: errcode.Unavailable, 504: errcode.Timeout,
	}[status]
	if code == "" {
		code = errcode.Internal
	}
	snippet := strings.TrimSpace(string(data))
	if len(snippet) > 200 {
		snippet = snippet[:200] + "…"
	}
	return errcode.FromHTTP(string(code), fmt.Sprintf("HTTP %d %s: %s", status, http.StatusText(status), snippet))
}

// esc escapes one path segment.
func esc(s string) string { return url.PathEscape(s) }

func nsPath(ns string) string       { return "/namespaces/" + esc(ns) }
func hubPath(ns, hub string) string { return nsPath(ns) + "/eventhubs/" + esc(hub) }
func groupPath(ns, hub, g string) string {
	return hubPath(ns, hub) + "/consumergroups/" + esc(g)
}

// rulesPath is the authorization rules of a namespace (hub "") or of an event hub.
func rulesPath(ns, hub string) string {
	if hub == "" {
		return nsPath(ns) + "/authorizationRules"
	}
	return hubPath(ns, hub) + "/authorizationRules"
}

// list is the ARM list envelope.
type list[T any] struct {
	Value []T `json:"value"`
}
