package eventhubs

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/amqp/frames"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// conn is one connection's state: its namespace (§A.2.4 of the design: open.hostname, else
// the first token's, else the default namespace), the principal SASL PLAIN gave it, and the
// claims its tokens gave it.
type conn struct {
	h      *Handler
	info   amqp.ConnInfo
	remote string
	claims claimSet

	mu struct {
		sync.Mutex
		ns, alias string // the local namespace, and the alias the client named ("" for none)
		name      string // what the client named (namespace or alias), for token checks
		bound     bool
		base      *broker.Principal // from SASL PLAIN; nil otherwise
	}
}

var _ amqp.Conn = (*conn)(nil)

// namespace returns the connection's namespace (binding it to the default one if nothing
// bound it yet) and the name tokens are checked against.
func (c *conn) namespace() (ns, name string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.bound {
		return c.mu.ns, c.mu.name, nil
	}
	def := c.h.opts.DefaultNamespace
	if def == "" && c.h.opts.Dev {
		def = broker.DevNamespace
	}
	if def == "" {
		return "", "", errcode.New(errcode.Unauthorized,
			"this connection names no namespace: open.hostname %q is neither a namespace nor a geo-DR alias of this region, it has presented no token, and the listener has no default namespace (--amqp-default-namespace); connect with a token of a namespace here or a host name that names one",
			c.info.Hostname)
	}
	ns, alias, err := c.h.b.ResolveEndpoint(def)
	if err != nil {
		return "", "", err
	}
	c.mu.ns, c.mu.alias, c.mu.name, c.mu.bound = ns, alias, def, true
	return ns, def, nil
}

// bind binds a connection that nothing bound yet to namespace name; a bound connection keeps
// its namespace.
func (c *conn) bind(name string) (ns, bound string, err error) {
	c.mu.Lock()
	if c.mu.bound {
		defer c.mu.Unlock()
		return c.mu.ns, c.mu.name, nil
	}
	c.mu.Unlock()
	n, alias, err := c.h.b.ResolveEndpoint(name)
	if err != nil {
		return "", "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.mu.bound {
		c.mu.ns, c.mu.alias, c.mu.name, c.mu.bound = n, alias, name, true
	}
	return c.mu.ns, c.mu.name, nil
}

func (c *conn) isBound() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.bound
}

// plain authenticates SASL PLAIN credentials: user $ConnectionString with a connection string
// (as Event Hubs' Kafka endpoint takes them), or a rule name and its key.
func (c *conn) plain(user, password string) error {
	var p broker.Principal
	var err error
	if user == broker.ConnectionStringUser {
		p, err = c.h.b.AuthenticatePlain(context.Background(), user, password)
		if err == nil {
			_, _, err = c.bind(firstNonEmpty(p.Alias, p.Namespace))
		}
		if err == nil {
			if ns, _, _ := c.namespace(); ns != p.Namespace {
				err = errcode.New(errcode.Unauthorized, "the connection string is for namespace %q, but this connection is to namespace %q", p.Namespace, ns)
			}
		}
	} else {
		var name string
		if _, name, err = c.namespace(); err == nil {
			p, err = c.h.b.AuthenticateKey(name, "", user, password)
		}
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.mu.base = &p
	c.mu.Unlock()
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// authorize finds a principal of the connection that holds right on hub for entity (the link
// address, or hub/$management): a claim covering entity, the SASL PLAIN principal, or in dev
// mode the anonymous dev principal. It is called on every attach and every message, so a
// token that expired or a rule that changed stops a link at its next use.
func (c *conn) authorize(entity, hub string, right broker.Right) (broker.Principal, error) {
	ns, _, err := c.namespace()
	if err != nil {
		return broker.Principal{}, err
	}
	cands := c.claims.covering(entity)
	c.mu.Lock()
	if c.mu.base != nil {
		cands = append(cands, *c.mu.base)
	}
	c.mu.Unlock()
	if c.h.opts.Dev && ns == broker.DevNamespace && len(cands) == 0 {
		if p, ok := c.h.b.DevPrincipal(); ok {
			cands = append(cands, p)
		}
	}
	var last error
	for _, p := range cands {
		if p.Namespace != ns {
			continue
		}
		if !p.Can(right, hub) {
			who := "rule " + strconv.Quote(p.KeyName)
			if p.KeyName == "" {
				who = "the anonymous dev principal"
			}
			last = errcode.New(errcode.Forbidden, "%s does not grant %s on event hub %s/%s; present a token of a rule with %s",
				who, right, ns, hub, right)
			continue
		}
		if err := c.h.b.Recheck(&p, c.remote); err != nil {
			last = err
			continue
		}
		if err := c.h.b.CheckAliasActive(p); err != nil {
			return broker.Principal{}, err
		}
		return p, nil
	}
	if last != nil {
		return broker.Principal{}, last
	}
	return broker.Principal{}, errcode.New(errcode.Unauthorized,
		"this connection holds no claim for %q: put a token for audience %s (with the %s right on event hub %s/%s) on $cbs first",
		entity, entity, right, ns, hub)
}

// resolveHub finds a hub by name, ignoring case as Event Hubs does when exactly one hub
// matches that way.
func (c *conn) resolveHub(ns, name string) (broker.HubInfo, error) {
	h, err := c.h.b.Hub(ns, name)
	if err == nil || !errcode.Is(err, errcode.NotFound) {
		return h, err
	}
	var found []broker.HubInfo
	for _, hh := range c.h.b.Hubs(ns) {
		if strings.EqualFold(hh.Name, name) {
			found = append(found, hh)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return broker.HubInfo{}, err
}

// linkPath normalizes a link address: .NET sends the absolute path ("/hub/…"), some clients
// a whole URI.
func linkPath(addr string) string {
	if strings.Contains(addr, "://") {
		if u, err := url.Parse(addr); err == nil {
			addr = u.Path
		}
	}
	return strings.Trim(addr, "/")
}

// AttachIncoming attaches a link the client sends on: a request link to $cbs or $management,
// or a sender to a hub or one of its partitions.
func (c *conn) AttachIncoming(ctx context.Context, a *frames.Attach) (amqp.Incoming, *frames.Error) {
	if a.Target == nil {
		return nil, errorf(condInvalidField, "the attach of link %q has no target; send to an event hub, $cbs or $management", a.Name)
	}
	addr := linkPath(a.Target.Address)
	switch strings.ToLower(addr) {
	case "$cbs":
		return &cbsLink{c: c}, nil
	case "$management":
		return &managementLink{c: c}, nil
	}
	return c.attachSender(ctx, a, addr)
}

// AttachOutgoing attaches a link the client receives on: the reply link of $cbs or
// $management, or a receiver on a consumer group's partition.
func (c *conn) AttachOutgoing(ctx context.Context, a *frames.Attach) (amqp.Outgoing, *frames.Error) {
	if a.Source == nil {
		return nil, errorf(condInvalidField, "the attach of link %q has no source; receive from hub/ConsumerGroups/<group>/Partitions/<id>, $cbs or $management", a.Name)
	}
	addr := linkPath(a.Source.Address)
	switch strings.ToLower(addr) {
	case "$cbs", "$management":
		return amqp.NewReplyLink(), nil
	}
	return c.attachReceiver(ctx, a, addr)
}

// Close ends the connection's state; its links were closed first.
func (c *conn) Close() {}
