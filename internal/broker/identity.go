package broker

import (
	"crypto/sha256"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Grant is what a principal was authenticated under: the namespace incarnation, the shared
// access rule (its scope, name and rights), which of its keys was used and, for a SAS token,
// when the token expires. A connection that keeps its principal (Kafka) calls Recheck before
// each request; a change to any of these ends what the connection may do, so a namespace
// deleted and created again under the same name, a deleted rule or a regenerated key is never
// reachable from a connection opened before.
type Grant struct {
	nsCreated time.Time // the namespace's incarnation (its creation time)
	ruleScope string    // "" for a namespace-level rule, else the hub of a hub-level rule
	rule      string    // "" for the anonymous dev principal
	keyHash   [32]byte  // SHA-256 of the key that matched; never the key itself
	rights    [3]bool   // Send, Listen, Manage as granted
	expires   time.Time // SAS token expiry; zero when the credential was a key

	// checked is the hub index the grant was last found valid against; metadata changes
	// replace the index, so an equal pointer means nothing changed since.
	checked atomic.Pointer[hubIndex]
}

// Identity names the credential a principal acts under, stable across its connections:
// namespace incarnation, rule scope and name, and entity path. Consumer-group members record
// it so that only the same credential may heartbeat, sync or leave for them.
func (p Principal) Identity() string {
	inc, scope, rule := "", "", p.KeyName
	if g := p.Grant; g != nil {
		inc = strconv.FormatInt(g.nsCreated.UnixNano(), 36)
		scope, rule = g.ruleScope, g.rule
	}
	return p.Namespace + "@" + inc + "/" + scope + "/" + rule + "/" + p.EntityPath
}

// newGrant records the identity of a principal authenticated with rule pol (nil for the
// anonymous dev principal) of namespace ns, using key, until expires (zero: no expiry).
func (b *Broker) newGrant(ns, ruleScope string, pol *meta.Policy, key string, expires time.Time) *Grant {
	g := &Grant{ruleScope: ruleScope, expires: expires}
	b.meta.View(func(s *meta.State) {
		if f, err := s.NamespaceFacts(ns); err == nil {
			g.nsCreated = f.CreatedAt
		}
	})
	if pol != nil {
		g.rule = pol.Name
		g.keyHash = sha256.Sum256([]byte(key))
		g.rights = rightsOf(pol)
	}
	return g
}

func rightsOf(pol *meta.Policy) [3]bool {
	return [3]bool{pol.Rights.Has(auth.Send), pol.Rights.Has(auth.Listen), pol.Rights.Has(auth.Manage)}
}

// Recheck reports whether p is still what it was granted: the SAS token has not expired and,
// when the metadata changed since the last check, the namespace is the same incarnation, the
// rule exists with the same rights and still holds the key used, the alias still names the
// namespace, and the network rules admit remote. It costs an atomic load and a clock read
// when nothing changed. A principal without a grant (the HTTP admin) is not rechecked.
func (b *Broker) Recheck(p *Principal, remote string) error {
	g := p.Grant
	if g == nil {
		return nil
	}
	if !g.expires.IsZero() && !b.now().Before(g.expires) {
		return errcode.New(errcode.Unauthorized,
			"the SAS token this connection authenticated with expired at %s; reconnect with a new token",
			g.expires.UTC().Format(time.RFC3339))
	}
	idx := b.hubs.Load()
	if g.checked.Load() == idx {
		return nil
	}
	if err := b.recheckGrant(p, g, remote); err != nil {
		return err
	}
	g.checked.Store(idx)
	return nil
}

func (b *Broker) recheckGrant(p *Principal, g *Grant, remote string) error {
	var err error
	b.meta.View(func(s *meta.State) {
		f, e := s.NamespaceFacts(p.Namespace)
		if e != nil || !f.CreatedAt.Equal(g.nsCreated) {
			err = errcode.New(errcode.Unauthorized,
				"namespace %q was deleted since this connection authenticated (a namespace created again under the name is another namespace); reconnect with a current connection string",
				p.Namespace)
			return
		}
		if g.rule == "" {
			return
		}
		pol, e := s.Policy(p.Namespace, g.ruleScope, g.rule)
		switch {
		case e != nil:
			err = errcode.New(errcode.Unauthorized,
				"shared access policy %q%s this connection authenticated with was deleted; reconnect with a current connection string",
				g.rule, scopeSuffix(g.ruleScope))
		case sha256.Sum256([]byte(pol.PrimaryKey)) != g.keyHash && sha256.Sum256([]byte(pol.SecondaryKey)) != g.keyHash:
			err = errcode.New(errcode.Unauthorized,
				"the key of policy %q this connection authenticated with was regenerated; reconnect with a current connection string", g.rule)
		case rightsOf(pol) != g.rights:
			err = errcode.New(errcode.Unauthorized,
				"the rights of policy %q changed since this connection authenticated; reconnect to act with the new rights", g.rule)
		}
	})
	if err != nil {
		return err
	}
	if p.Alias != "" {
		if holder, _, ok := b.AliasHolder(p.Alias); !ok || holder != p.Namespace {
			return errcode.New(errcode.Unauthorized,
				"alias %q this connection came in through no longer names namespace %q; reconnect with a current connection string", p.Alias, p.Namespace)
		}
	}
	return b.CheckClientAddress(p.Namespace, remote)
}

func scopeSuffix(hub string) string {
	if hub == "" {
		return ""
	}
	return " of event hub " + hub
}
