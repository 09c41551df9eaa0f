package eventhubs

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Claims are what a connection may do: each $cbs put-token that verifies adds one, for the
// token's audience, and links are authorized against them. Claims belong to the connection,
// not a session: the Go SDK negotiates on a throw-away session and opens the link on another.

// emulatorKeyName and emulatorKey are the credentials of the Event Hubs emulator's documented
// connection string; in dev mode a token they sign acts as the anonymous dev principal, so
// code written against the emulator runs unchanged.
const (
	emulatorKeyName = "RootManageSharedAccessKey"
	emulatorKey     = "SAS_KEY_VALUE"
)

// maxClaims bounds the claims one connection holds; a new token for an audience replaces the
// old one, so only a client cycling through many audiences reaches it.
const maxClaims = 256

// audiencePath is the entity path of a CBS audience (put-token's name): the SDKs differ in
// scheme and host (Go amqp://host:port/hub, JS sb://host:port/hub, .NET the endpoint URI), so
// only the path counts. "" is the whole namespace.
func audiencePath(aud string) string {
	aud = strings.TrimSpace(aud)
	if i := strings.Index(aud, "://"); i >= 0 {
		if u, err := url.Parse(aud); err == nil {
			return strings.Trim(u.Path, "/")
		}
		aud = aud[i+3:]
		_, p, _ := strings.Cut(aud, "/")
		return strings.Trim(p, "/")
	}
	// No scheme: "host/path" when the first segment looks like a host name, else a path.
	first, rest, _ := strings.Cut(strings.TrimLeft(aud, "/"), "/")
	if strings.ContainsAny(first, ".:") {
		return strings.Trim(rest, "/")
	}
	return strings.Trim(aud, "/")
}

// pathCovers reports whether a claim for path claim covers entity path entity: the same path
// or a path under it, segment by segment, ignoring case ("hub" covers "Hub/Partitions/0" but
// not "hub2"); "" covers every path.
func pathCovers(claim, entity string) bool {
	claim, entity = strings.Trim(claim, "/"), strings.Trim(entity, "/")
	if claim == "" {
		return true
	}
	if len(entity) < len(claim) || !strings.EqualFold(entity[:len(claim)], claim) {
		return false
	}
	return len(entity) == len(claim) || entity[len(claim)] == '/'
}

// hostNamespace is the namespace name an open.hostname may carry: the host without its port
// ("localhost:5672" → "localhost").
func hostNamespace(hostname string) string {
	h := strings.TrimSpace(hostname)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.Trim(h, "[]")
}

// claim is one verified token.
type claim struct {
	path string
	p    broker.Principal
}

// claimSet is a connection's claims. Links are attached from several goroutines (one per
// session), so it has a lock.
type claimSet struct {
	mu struct {
		sync.Mutex
		list []claim
	}
}

// add records a claim, replacing one for the same path.
func (c *claimSet) add(path string, p broker.Principal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.mu.list {
		if strings.EqualFold(c.mu.list[i].path, path) {
			c.mu.list[i].p = p
			return nil
		}
	}
	if len(c.mu.list) >= maxClaims {
		return errcode.New(errcode.QuotaExceeded,
			"this connection already holds %d claims, the most one connection may hold; use a namespace-wide token or another connection", maxClaims)
	}
	c.mu.list = append(c.mu.list, claim{path: path, p: p})
	return nil
}

// covering returns the principals of the claims that cover entity, most specific last.
func (c *claimSet) covering(entity string) []broker.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []broker.Principal
	for _, cl := range c.mu.list {
		if pathCovers(cl.path, entity) {
			out = append(out, cl.p)
		}
	}
	return out
}

// isPlaceholder reports whether token is the emulator's: rule RootManageSharedAccessKey
// signed with the literal key SAS_KEY_VALUE, valid at now.
func isPlaceholder(token string, now time.Time) bool {
	tok, err := auth.ParseSASToken(token)
	if err != nil || tok.KeyName != emulatorKeyName {
		return false
	}
	return tok.Verify(emulatorKey, now) == nil
}
