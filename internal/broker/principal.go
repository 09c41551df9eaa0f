package broker

import "strings"

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

// CanSee reports whether hub is within the principal's scope.
func (p Principal) CanSee(hub string) bool {
	return p.EntityPath == "" || strings.EqualFold(p.EntityPath, hub)
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
