package broker

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// ConnectionStringUser is the SASL PLAIN user name Event Hubs' Kafka endpoint expects.
const ConnectionStringUser = "$ConnectionString"

// AdminKeyPath is the file holding the node admin key: Options.AdminKeyFile (shared by a
// region's nodes), else <data>/admin-key (created on first start, mode 0600).
func (b *Broker) AdminKeyPath() string {
	if b.opts.AdminKeyFile != "" {
		return b.opts.AdminKeyFile
	}
	return filepath.Join(b.opts.DataDir, "admin-key")
}

// loadAdminKey reads the admin key, or creates it (mode 0600 from its first open) on first
// start. A key file readable by group or others is refused: anyone who could read it holds
// every right on the node. A key file given in Options.AdminKeyFile must exist and hold a key:
// the region's nodes share it, so one node making up its own would lock the others' CLI out.
// These errors stop the node at start, so they name the file.
func (b *Broker) loadAdminKey() error {
	path := b.AdminKeyPath()
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return errcode.New(errcode.InvalidArgument,
			"admin key file %s is readable by other users (mode %#o); anyone who read it holds every right on this node. "+
				"Run chmod 600 %s (and, if others may have read it, replace the key), then start again",
			path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(data))) > 0 {
		b.adminKey = strings.TrimSpace(string(data))
		return nil
	}
	if b.opts.AdminKeyFile != "" {
		if err == nil {
			err = errors.New("the file is empty")
		}
		return errcode.New(errcode.InvalidArgument,
			"admin key file %s: %v; write the region's admin key into it (e.g. head -c 32 /dev/urandom | base64 > %s; chmod 600 %s) and give every node the same file",
			path, err, path, path)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading admin key: %w", err)
	}
	key, err := auth.GenerateKey()
	if err != nil {
		return err
	}
	if err := seglog.WriteFileDurableMode(seglog.OSFS{}, path, []byte(key+"\n"), privateFile); err != nil {
		return fmt.Errorf("writing admin key: %w", err)
	}
	b.adminKey = key
	return nil
}

// CheckAdminKey reports whether key is this node's admin key.
func (b *Broker) CheckAdminKey(key string) bool {
	return key != "" && subtle.ConstantTimeCompare([]byte(key), []byte(b.adminKey)) == 1
}

// DevPrincipal is the anonymous principal of --dev: namespace "default", every right.
func (b *Broker) DevPrincipal() (Principal, bool) {
	if !b.opts.Dev {
		return Principal{}, false
	}
	return Principal{Namespace: DevNamespace, Send: true, Listen: true, Manage: true,
		Grant: b.newGrant(DevNamespace, "", nil, "", time.Time{})}, true
}

// DevPrincipalIn is DevPrincipal for namespace ns (which must exist): in --dev, what the Event
// Hubs emulator's placeholder key (SAS_KEY_VALUE) grants on the AMQP listener's default
// namespace.
func (b *Broker) DevPrincipalIn(ns string) (Principal, bool) {
	if !b.opts.Dev {
		return Principal{}, false
	}
	found, err := b.resolveNamespace(ns)
	if err != nil {
		return Principal{}, false
	}
	return Principal{Namespace: found, Send: true, Listen: true, Manage: true,
		Grant: b.newGrant(found, "", nil, "", time.Time{})}, true
}

// AuthenticatePlain checks SASL PLAIN credentials the way Event Hubs' Kafka endpoint does:
// user "$ConnectionString", password a connection string whose endpoint host names the
// namespace and whose key (or SAS token) belongs to one of its policies.
func (b *Broker) AuthenticatePlain(ctx context.Context, user, password string) (Principal, error) {
	if user != ConnectionStringUser {
		return Principal{}, errcode.New(errcode.Unauthorized,
			"SASL PLAIN user %q is not accepted; use user $ConnectionString with a connection string as password", user)
	}
	cs, err := auth.ParseConnectionString(password)
	if err != nil {
		return Principal{}, err
	}
	if cs.SharedAccessSignature != "" {
		return b.AuthenticateSAS(cs.Namespace(), cs.EntityPath, cs.SharedAccessSignature)
	}
	ns, alias, err := b.resolveEndpoint(cs.Namespace())
	if err != nil {
		return Principal{}, err
	}
	entity, err := b.scopeHub(ns, cs.EntityPath)
	if err != nil {
		return Principal{}, err
	}
	pol, hubScope, err := b.findPolicy(ns, entity, cs.SharedAccessKeyName)
	if err != nil {
		return Principal{}, err
	}
	if !keyMatches(pol, cs.SharedAccessKey) {
		return Principal{}, errcode.New(errcode.Unauthorized,
			"the key in the connection string does not match rule %q of namespace %q; copy a current connection string with 'tandem connection-string %s'",
			pol.Name, ns, ns)
	}
	if hubScope != "" {
		entity = hubScope
	}
	p := principalFor(ns, entity, pol)
	p.Alias = alias
	p.Grant = b.newGrant(ns, hubScope, pol, cs.SharedAccessKey, time.Time{})
	return p, nil
}

// AuthenticateSAS checks an Event Hubs SAS token for a request on namespace or alias name
// (and hub, "" for namespace-level requests). The token's resource must name it (first label
// of its host) and cover the hub. Through an alias, the principal acts in the local namespace
// that holds the alias, with its policies (which geo-DR replicates to the secondary).
func (b *Broker) AuthenticateSAS(name, hub, header string) (Principal, error) {
	tok, err := auth.ParseSASToken(header)
	if err != nil {
		return Principal{}, err
	}
	ns, alias, err := b.resolveEndpoint(name)
	if err != nil {
		return Principal{}, err
	}
	u, err := url.Parse(tok.Resource)
	if err != nil || u.Hostname() == "" {
		return Principal{}, errcode.New(errcode.Unauthorized, "SAS token resource %q is not a URI like sb://%s/", tok.Resource, ns)
	}
	tokNS, _, _ := strings.Cut(strings.ToLower(u.Hostname()), ".")
	if !strings.EqualFold(tokNS, name) {
		return Principal{}, errcode.New(errcode.Unauthorized,
			"SAS token was issued for namespace %q, not %q", tokNS, name)
	}
	tokHub := strings.Trim(u.Path, "/")
	tokHub, _, _ = strings.Cut(tokHub, "/")
	if hub != "" && !tok.Covers("sb://"+u.Hostname()+"/"+hub) {
		return Principal{}, errcode.New(errcode.Forbidden,
			"SAS token covers %q, not event hub %q", tok.Resource, hub)
	}
	return b.tokenPrincipal(ns, alias, hub, tokHub, tok)
}

// tokenPrincipal finishes a SAS check once the token's namespace is known: the token's hub and
// the request's hub (either may be "") are resolved to stored names, the rule is found on the
// namespace or the hub, and the signature is verified with its primary or secondary key.
func (b *Broker) tokenPrincipal(ns, alias, hub, tokHub string, tok auth.SASToken) (Principal, error) {
	var err error
	if tokHub, err = b.scopeHub(ns, tokHub); err != nil {
		return Principal{}, err
	}
	policyHub, err := b.scopeHub(ns, firstNonEmpty(hub, tokHub))
	if err != nil {
		return Principal{}, err
	}
	pol, hubScope, err := b.findPolicy(ns, policyHub, tok.KeyName)
	if err != nil {
		return Principal{}, err
	}
	key := pol.PrimaryKey
	if err := tok.Verify(pol.PrimaryKey, b.now()); err != nil {
		if err2 := tok.Verify(pol.SecondaryKey, b.now()); err2 != nil {
			return Principal{}, err
		}
		key = pol.SecondaryKey
	}
	p := principalFor(ns, firstNonEmpty(hubScope, tokHub), pol)
	p.Alias = alias
	p.Grant = b.newGrant(ns, hubScope, pol, key, tok.Expiry)
	return p, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// findPolicy looks keyName up on the namespace, then on hub. It returns the hub name when
// the policy is hub-level (the credential is then scoped to that hub).
func (b *Broker) findPolicy(ns, hub, keyName string) (*meta.Policy, string, error) {
	var pol *meta.Policy
	var scope string
	var err error
	b.meta.View(func(s *meta.State) {
		if pol, err = s.Policy(ns, "", keyName); err == nil {
			return
		}
		if hub != "" {
			if p, e := s.Policy(ns, hub, keyName); e == nil {
				pol, scope, err = p, hub, nil
			}
		}
	})
	if err != nil {
		return nil, "", errcode.New(errcode.Unauthorized,
			"shared access policy %q not found in namespace %q%s", keyName, ns, hubSuffix(hub))
	}
	return pol, scope, nil
}

func hubSuffix(hub string) string {
	if hub == "" {
		return ""
	}
	return " or on event hub " + hub
}

func keyMatches(p *meta.Policy, key string) bool {
	k := []byte(key)
	return len(k) > 0 && (subtle.ConstantTimeCompare(k, []byte(p.PrimaryKey)) == 1 ||
		subtle.ConstantTimeCompare(k, []byte(p.SecondaryKey)) == 1)
}

func principalFor(ns, entity string, p *meta.Policy) Principal {
	return Principal{Namespace: ns, EntityPath: entity, KeyName: p.Name,
		Send: p.Rights.Has(auth.Send), Listen: p.Rights.Has(auth.Listen), Manage: p.Rights.Has(auth.Manage)}
}

// resolveEndpoint finds what a connection string's endpoint names: a namespace, or else an
// alias held here, which resolves to its local namespace.
func (b *Broker) resolveEndpoint(name string) (ns, alias string, err error) {
	if ns, err = b.resolveNamespace(name); err == nil {
		return ns, "", nil
	}
	if holder, cfg, ok := b.AliasHolder(name); ok {
		return holder, cfg.Name, nil
	}
	return "", "", errcode.New(errcode.Unauthorized,
		"namespace or alias %q named by the connection string's endpoint does not exist in region %s; check the endpoint", name, b.opts.Region)
}

// resolveNamespace finds a namespace by name, ignoring case as Event Hubs host names do.
func (b *Broker) resolveNamespace(name string) (string, error) {
	var found string
	b.meta.View(func(s *meta.State) {
		for _, n := range s.Namespaces() {
			if strings.EqualFold(n, name) {
				found = n
				return
			}
		}
	})
	if found == "" {
		return "", errcode.New(errcode.Unauthorized,
			"namespace %q named by the connection string's endpoint does not exist on this node", name)
	}
	return found, nil
}
