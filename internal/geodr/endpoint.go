package geodr

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// A partner endpoint is set by a user (the alias's partnerEndpoint, a pair request's primary,
// a partner's own advertised address), and the node then calls it on its own. So an endpoint
// must be a bare base URL (http or https, host and port, nothing else), and when the operator
// lists the partner regions (Options.PeerAllow, Options.RegionsFile) it must be one of them.
// Without a list only the node admin key may name a partner endpoint.

// checkShape returns endpoint as scheme://host[:port] if it is a bare http(s) base URL.
func checkShape(endpoint string) (string, error) {
	bad := func(why string) (string, error) {
		return "", errcode.New(errcode.InvalidArgument,
			"partner endpoint %q %s; give the partner region's HTTP API as http://host:port or https://host:port", endpoint, why)
	}
	u, err := url.Parse(strings.TrimSpace(endpoint))
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("is not an http or https URL")
	case u.Opaque != "" || u.Host == "":
		return bad("has no host")
	case u.User != nil:
		return bad("has a user name or password in it")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("has a query")
	case u.Fragment != "" || strings.Contains(endpoint, "#"):
		return bad("has a fragment")
	case u.Path != "" && u.Path != "/":
		return bad("has a path")
	}
	return u.Scheme + "://" + u.Host, nil
}

// hostOf is base's host:port, for messages.
func hostOf(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return base
}

// allowEntry is one partner region the operator allows: a base URL (scheme, host and port
// must match), host:port (either scheme), or a host alone (any port).
type allowEntry struct {
	name   string // region name, from a regions file
	scheme string // "" for any
	host   string
	port   string // "" for any
}

func parseAllowEntry(name, s string) (allowEntry, error) {
	s = strings.TrimSpace(s)
	e := allowEntry{name: name}
	if strings.Contains(s, "://") {
		base, err := checkShape(s)
		if err != nil {
			return e, err
		}
		u, _ := url.Parse(base)
		e.scheme, e.host, e.port = u.Scheme, u.Hostname(), portOf(u)
		return e, nil
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		e.host, e.port = h, p
	} else {
		e.host = strings.Trim(s, "[]")
	}
	if e.host == "" || strings.ContainsAny(e.host, "/?#@ ") {
		return e, errcode.New(errcode.InvalidArgument,
			"partner region %q is not http(s)://host:port, host:port or a host name", s)
	}
	return e, nil
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

func (e allowEntry) matches(u *url.URL) bool {
	return (e.scheme == "" || e.scheme == u.Scheme) && strings.EqualFold(e.host, u.Hostname()) &&
		(e.port == "" || e.port == portOf(u))
}

func (e allowEntry) String() string {
	s := e.host
	if e.port != "" {
		s = net.JoinHostPort(e.host, e.port)
	}
	if e.scheme != "" {
		s = e.scheme + "://" + s
	}
	if e.name != "" {
		s = e.name + " (" + s + ")"
	}
	return s
}

// allowList returns the partner regions the operator allows, and whether there is a list at
// all. The regions file is read at every check, so a rewritten file (tandem dev writes it at
// each start) takes effect at once; an unreadable file allows nothing.
func (m *Manager) allowList() ([]allowEntry, bool, error) {
	var out []allowEntry
	for _, s := range m.opts.PeerAllow {
		if strings.TrimSpace(s) == "" {
			continue
		}
		e, err := parseAllowEntry("", s)
		if err != nil {
			return nil, true, err
		}
		out = append(out, e)
	}
	if m.opts.RegionsFile == "" {
		return out, len(out) > 0, nil
	}
	data, err := os.ReadFile(m.opts.RegionsFile)
	if err != nil {
		return nil, true, errcode.New(errcode.Unavailable, "reading the list of partner regions (--peer-regions-file): %w", err)
	}
	var f struct {
		Regions []struct {
			Name   string `json:"name"`
			Server string `json:"server"`
		} `json:"regions"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, true, errcode.New(errcode.Unavailable, "the list of partner regions (--peer-regions-file) is not a regions file: %w", err)
	}
	for _, r := range f.Regions {
		e, err := parseAllowEntry(r.Name, r.Server)
		if err != nil {
			return nil, true, err
		}
		out = append(out, e)
	}
	return out, true, nil
}

// checkEndpoint vets a partner endpoint before the node calls it: its shape always, and the
// operator's list of partner regions when there is one.
func (m *Manager) checkEndpoint(endpoint string) (string, error) {
	base, err := checkShape(endpoint)
	if err != nil {
		return "", err
	}
	list, listed, err := m.allowList()
	if err != nil || !listed {
		return base, err
	}
	u, _ := url.Parse(base)
	for _, e := range list {
		if e.matches(u) {
			return base, nil
		}
	}
	names := make([]string, len(list))
	for i, e := range list {
		names[i] = e.String()
	}
	allowed := strings.Join(names, ", ")
	if allowed == "" {
		allowed = "none"
	}
	return "", errcode.New(errcode.Forbidden,
		"partner endpoint %s is not one of the partner regions region %s allows (%s); pair with one of them, or ask the operator to add it (--peer-allow or --peer-regions-file)",
		base, m.b.Region(), allowed)
}

// checkNewEndpoint vets an endpoint a user names for a new pairing. admin says the user
// authenticated with the node admin key: with no list of partner regions, only that key may
// name a partner endpoint.
func (m *Manager) checkNewEndpoint(endpoint string, admin bool) (string, error) {
	base, err := m.checkEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	if _, listed, _ := m.allowList(); !listed && !admin {
		return "", errcode.New(errcode.Forbidden,
			"region %s has no list of partner regions, so only its admin key may name a partner endpoint (%s); pair with the admin key, or ask the operator to list the partner regions (--peer-allow or --peer-regions-file)",
			m.b.Region(), base)
	}
	return base, nil
}
