package broker

import (
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Right is one of the Event Hubs shared-access rights.
type Right int

const (
	RightSend Right = iota
	RightListen
	RightManage
)

func (r Right) String() string {
	switch r {
	case RightSend:
		return "Send"
	case RightListen:
		return "Listen"
	default:
		return "Manage"
	}
}

// Principal is who a connection or request acts as, once authenticated: a namespace, an
// optional single hub (a connection string's EntityPath or a hub-level policy), and rights.
type Principal struct {
	Namespace  string
	EntityPath string // "" = every hub of the namespace
	KeyName    string // the shared access policy used; "" when anonymous (dev mode)
	Send       bool
	Listen     bool
	Manage     bool
	// Alias is the geo-DR alias the client connected through ("" when it named the namespace
	// itself). Namespace is then the local namespace that holds the alias.
	Alias string
	// Grant is the identity the principal was authenticated under (see Recheck); nil for
	// principals that are not kept beyond one request.
	Grant *Grant
}

// CanSee reports whether hub is within the principal's scope. Hub names are looked up exactly,
// so the scope is compared exactly too: authentication already turned the credential's scope
// into the stored name of its hub (scopeHub), and a principal scoped to "payments" sees that hub
// and no case variant of it.
func (p Principal) CanSee(hub string) bool {
	return p.EntityPath == "" || p.EntityPath == hub
}

// Can reports whether the principal holds right r on hub ("" = the namespace itself).
// Manage implies Send and Listen, as in Event Hubs.
func (p Principal) Can(r Right, hub string) bool {
	if hub == "" && p.EntityPath != "" && r == RightManage {
		return false // a hub-scoped credential cannot manage the namespace
	}
	if !p.CanSee(hub) && hub != "" {
		return false
	}
	switch r {
	case RightSend:
		return p.Send || p.Manage
	case RightListen:
		return p.Listen || p.Manage
	default:
		return p.Manage
	}
}

// scopeHub returns the stored name of the event hub a credential's scope names (a SAS token's
// resource path, a connection string's EntityPath): the hub of exactly that name, else the one
// hub whose name matches ignoring case. Event Hubs names are case-insensitive and SAS signers
// differ (the Azure SDK for Go lower-cases the resource URI), so "sb://ns/payments" must reach
// hub "Payments". A name that matches no hub is returned unchanged (lookups of it fail later).
// One that matches several hubs only ignoring case (variants created before names became
// case-insensitive) is refused rather than guessed.
func (b *Broker) scopeHub(ns, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if _, ok := b.hubs.Load().hub(ns, name); ok {
		return name, nil // the exact name: no list of every hub to fold through
	}
	var hubs []string
	b.meta.View(func(s *meta.State) { hubs, _ = s.Hubs(ns) })
	var folded []string
	for _, h := range hubs {
		if h == name {
			return h, nil
		}
		if strings.EqualFold(h, name) {
			folded = append(folded, h)
		}
	}
	switch len(folded) {
	case 0:
		return name, nil
	case 1:
		return folded[0], nil
	}
	return "", errcode.New(errcode.Unauthorized,
		"the credential is scoped to event hub %q, which matches event hubs %q of namespace %q only ignoring case; use a credential for the exact name",
		name, folded, ns)
}
