package httpapi

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Browser checks. The API serves programs, not web pages, so a browser on another site must
// not be able to drive it: with --dev anonymous callers have every right in namespace
// "default", and a page could reach a local node through DNS rebinding (a name of the
// attacker's that resolves to 127.0.0.1) or a plain cross-site form POST. Three checks close
// this, before authentication:
//
//   - Host: on a node in dev mode or listening on loopback only, the Host header must be an
//     IP literal, localhost, or a name the node is told about (--advertise-host, the host of
//     --advertise-http, --http-allowed-hosts). A rebinding page's Host is its own name.
//   - Origin: a request that carries an Origin header (browsers send it on cross-site and on
//     every non-GET request) must come from the API's own origin.
//   - Content-Type: a request with a body on a write method must be JSON. The content types a
//     cross-site form or fetch may send without a CORS preflight (text/plain, form encodings)
//     are refused, and the API answers no preflight.

// allowedHosts is the set of Host names a request may use; nil allows every name.
type allowedHosts map[string]bool

// HostCheck returns the host names the HTTP API accepts in the Host header besides IP
// literals and localhost, or nil (every name) when the check does not apply: the node is not
// in dev mode and listens on more than loopback, so clients may reach it under any DNS name.
// names are the node's advertised names (host names or URLs); "*" among them turns the
// check off.
func HostCheck(listener net.Addr, dev bool, names ...string) []string {
	if !dev && !isLoopback(listener) {
		return nil
	}
	out := []string{"localhost"}
	for _, n := range names {
		if n == "*" {
			return nil
		}
		if u, err := url.Parse(n); err == nil && u.Host != "" {
			n = u.Hostname()
		} else if h, _, err := net.SplitHostPort(n); err == nil {
			n = h
		}
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func isLoopback(a net.Addr) bool {
	if a == nil {
		return false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		host = a.String()
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newAllowedHosts(names []string) allowedHosts {
	if names == nil {
		return nil
	}
	m := allowedHosts{}
	for _, n := range names {
		m[strings.ToLower(strings.TrimSuffix(n, "."))] = true
	}
	return m
}

// checkBrowser refuses requests a web page on another site could have made.
func (s *Server) checkBrowser(r *http.Request) error {
	if s.hosts != nil {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		if net.ParseIP(host) == nil && !s.hosts[host] && !strings.HasSuffix(host, ".localhost") {
			return errcode.New(errcode.Forbidden,
				"Host %q is not a name of this node; use its IP address or localhost, or start the node with --http-allowed-hosts=%s",
				clip(r.Host), clip(host))
		}
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return errcode.New(errcode.Forbidden,
				"cross-site request refused: Origin %q is not this API's own (%s); the HTTP API does not serve pages of other sites",
				clip(o), clip(r.Host))
		}
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		if r.ContentLength != 0 && !jsonContentType(r.Header.Get("Content-Type")) {
			return errcode.New(errcode.InvalidArgument,
				"Content-Type %q is not accepted for a request body; send JSON with Content-Type: application/json",
				clip(r.Header.Get("Content-Type")))
		}
	}
	return nil
}

// jsonContentType reports whether ct names JSON: application/json, a +json type, or the
// Event Hubs REST batch type application/vnd.microsoft.servicebus.json.
func jsonContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "application/vnd.microsoft.servicebus.json" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
