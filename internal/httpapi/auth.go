package httpapi

import (
	"net/http"
	"strings"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// need is the access a route requires.
type need int

const (
	needAny            need = iota // any right within the namespace or the route's hub
	needSend                       // Send on the route's hub
	needListen                     // Listen on the route's hub
	needManage                     // Manage on the route's hub, or on the namespace
	needNamespaceWrite             // Manage on the namespace to update it; the admin key to create it
	needAdminOrDev                 // the admin key, or anonymous dev access to namespace "default"
)

// adminScheme is the Authorization scheme of the node admin key.
const adminScheme = "TandemKey"

// caller is who a request acts as.
type caller struct {
	broker.Principal
	admin     bool // the node admin key: every right on every namespace
	anonymous bool // dev mode without credentials
}

// call is one authenticated request's context. name is the namespace as the path names it:
// a namespace, or a geo-DR alias active here, which ns resolves to the local namespace.
type call struct {
	ns, hub string
	name    string
	who     caller
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// handle registers fn behind authentication and the check of n.
func (s *Server) handle(pattern string, n need, fn handlerFunc) {
	// Management requests read the metadata as of their arrival (a hub created through another
	// node of a cluster is seen here); the data plane reads only what it must (hubs, keys),
	// and a second of staleness there costs a retry, not a wrong answer.
	dataPlane := strings.HasSuffix(pattern, "/messages") || pattern == "GET /cluster"
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !dataPlane {
			if err := s.b.SyncMetadata(r.Context()); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		c := &call{ns: r.PathValue("ns"), hub: r.PathValue("hub")}
		c.name = c.ns
		if ns, ok := s.aliasHere(c.ns); ok {
			c.ns = ns
		}
		// Authenticate before redirecting: an alias's active region is not told to strangers.
		// A token signed for the alias verifies here too (geo-DR replicates its policies).
		err := s.authenticate(r, c)
		if err == nil && s.aliasRedirect(w, r, c.name) {
			return
		}
		if err == nil && !c.who.admin && c.ns != "" {
			err = s.b.CheckClientAddress(c.ns, s.clientAddr(r))
			if errcode.Is(err, errcode.NotFound) {
				err = nil // the handler reports the missing namespace
			}
		}
		if err == nil {
			err = c.check(n)
		}
		if err == nil {
			err = fn(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authenticate finds who r acts as, from its Authorization header or dev mode.
func (s *Server) authenticate(r *http.Request, c *call) error {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case h == "":
		if p, ok := s.b.DevPrincipal(); ok && s.dev && (c.ns == "" || strings.EqualFold(c.ns, p.Namespace)) {
			c.who = caller{Principal: p, anonymous: true}
			return nil
		}
		hint := ""
		if s.dev {
			hint = "; anonymous requests are allowed only for namespace \"default\""
		}
		return errcode.New(errcode.Unauthorized,
			"request has no Authorization header; send \"SharedAccessSignature sr=…\" or \"%s <admin key>\"%s", adminScheme, hint)
	case strings.EqualFold(scheme, adminScheme):
		if !s.b.CheckAdminKey(strings.TrimSpace(rest)) {
			return errcode.New(errcode.Unauthorized,
				"the admin key does not match this node's key; copy it from the file admin-key in the node's data directory")
		}
		c.who = caller{Principal: broker.Principal{Namespace: c.ns, KeyName: "admin", Send: true, Listen: true, Manage: true}, admin: true}
		return nil
	case strings.EqualFold(scheme, strings.TrimSpace(auth.SASPrefix)):
		if c.ns == "" {
			return errcode.New(errcode.Forbidden,
				"%s needs the node admin key (Authorization: %s <key>); a SAS token grants rights within one namespace",
				adminWork(r), adminScheme)
		}
		return s.authenticateSAS(h, c)
	}
	return errcode.New(errcode.Unauthorized,
		"Authorization scheme %q is not supported; use SharedAccessSignature or %s", clip(scheme), adminScheme)
}

// authenticateSAS checks a SAS token. A token scoped to one event hub is verified against that
// hub's scope and then refused for any other hub with 403, which says more than a bad signature.
func (s *Server) authenticateSAS(header string, c *call) error {
	hub := c.hub
	if tok, err := auth.ParseSASToken(header); err == nil {
		if th := tokenHub(tok.Resource); th != "" && th != c.hub {
			hub = th // verified for its own hub; the scope check below refuses c.hub
		}
	}
	p, err := s.b.AuthenticateSAS(c.name, hub, header)
	if err != nil {
		return err
	}
	c.who = caller{Principal: p}
	if !p.CanSee(c.hub) || (c.hub == "" && p.EntityPath != "") {
		target := "namespace " + c.ns
		if c.hub != "" {
			target = "event hub " + c.ns + "/" + c.hub
		}
		return errcode.New(errcode.Forbidden,
			"the SAS token of rule %q is scoped to event hub %q and cannot access %s", p.KeyName, p.EntityPath, target)
	}
	return nil
}

// adminWork names what a request outside any namespace does, for the message that refuses a
// SAS token on it.
func adminWork(r *http.Request) string {
	if p := r.URL.Path; p == "/jobs" || strings.HasPrefix(p, "/jobs/") {
		return "managing stream jobs"
	}
	return "listing namespaces"
}

// tokenHub returns the event hub a SAS resource URI names, or "" for a namespace-wide token.
func tokenHub(resource string) string {
	_, after, ok := strings.Cut(resource, "://")
	if !ok {
		after = resource
	}
	_, p, _ := strings.Cut(after, "/")
	hub, _, _ := strings.Cut(strings.Trim(p, "/"), "/")
	return hub
}

// check reports whether c's caller may do what n needs.
func (c *call) check(n need) error {
	w := c.who
	if w.admin {
		return nil
	}
	switch n {
	case needAdminOrDev:
		if w.anonymous {
			return nil
		}
		return errcode.New(errcode.Forbidden,
			"creating, listing and deleting namespaces, and managing jobs, needs the node admin key (Authorization: %s <key>)", adminScheme)
	case needNamespaceWrite:
		if !w.Can(broker.RightManage, "") {
			return c.forbidden("Manage on the namespace")
		}
		return nil
	case needAny:
		if w.Can(broker.RightManage, c.hub) || w.Can(broker.RightSend, c.hub) || w.Can(broker.RightListen, c.hub) {
			return nil
		}
		return c.forbidden("a right")
	}
	r := map[need]broker.Right{needSend: broker.RightSend, needListen: broker.RightListen, needManage: broker.RightManage}[n]
	if !w.Can(r, c.hub) {
		return c.forbidden(r.String())
	}
	return nil
}

func (c *call) forbidden(right string) error {
	target := "namespace " + c.ns
	if c.hub != "" {
		target = "event hub " + c.ns + "/" + c.hub
	}
	if c.who.anonymous {
		return errcode.New(errcode.Forbidden, "anonymous requests cannot do this on %s; use a SAS token or the admin key", target)
	}
	return errcode.New(errcode.Forbidden, "rule %q does not grant %s on %s", c.who.KeyName, right, target)
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
