package meta

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// validNamespaceName follows Event Hubs: 6-50 letters, digits and hyphens, starting with a
// letter and ending with a letter or digit. The dev-mode namespace "default" is allowed too.
func validNamespaceName(name string) error {
	if name == DevNamespace {
		return nil
	}
	bad := len(name) < 6 || len(name) > 50 || !isLetter(name[0])
	if !bad {
		last := name[len(name)-1]
		bad = !isLetter(last) && !isDigit(last)
	}
	for i := 0; !bad && i < len(name); i++ {
		c := name[i]
		bad = !isLetter(c) && !isDigit(c) && c != '-'
	}
	if bad {
		return errcode.New(errcode.InvalidArgument,
			"namespace name %q is invalid; use 6 to 50 letters, digits and hyphens, starting with a letter and ending with a letter or digit", name)
	}
	return nil
}

// validEntityName checks an event hub or policy name: 1-256 letters, digits, '.', '-', '_'.
func validEntityName(kind, name string) error {
	if len(name) == 0 || len(name) > 256 || !entityChars(name) {
		return errcode.New(errcode.InvalidArgument,
			"%s name %q is invalid; use 1 to 256 letters, digits, '.', '-' and '_'", kind, name)
	}
	return nil
}

// validGroupName is validEntityName, except that "$Default" is allowed.
func validGroupName(name string) error {
	if name == DefaultGroup {
		return nil
	}
	if len(name) > 0 && name[0] == '$' {
		return errcode.New(errcode.InvalidArgument,
			"consumer group name %q is invalid; only %s may start with '$'", name, DefaultGroup)
	}
	return validEntityName("consumer group", name)
}

// startsAndEndsAlnum reports whether name starts and ends with a letter or digit, as Event
// Hubs requires of every entity name. It rules out ".", ".." and "...", which are path
// segments rather than names (Go's HTTP router unescapes "%2e%2e" to ".." in a path value).
func startsAndEndsAlnum(name string) bool {
	if name == "" {
		return false
	}
	first, last := name[0], name[len(name)-1]
	return (isLetter(first) || isDigit(first)) && (isLetter(last) || isDigit(last))
}

func entityChars(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isLetter(c) && !isDigit(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func validTier(t Tier) error {
	switch t {
	case Basic, Standard, Premium, Dedicated:
		return nil
	}
	return errcode.New(errcode.InvalidArgument,
		"tier %q is invalid; use basic, standard, premium or dedicated", string(t))
}

func validPartitionCount(n int32) error {
	if n < 1 || n > MaxPartitionCount {
		return errcode.New(errcode.InvalidArgument,
			"partition count %d is out of range; an event hub has 1 to %d partitions", n, MaxPartitionCount)
	}
	return nil
}

func validRetention(d time.Duration) error {
	if d < MinRetention || d > MaxRetention {
		return errcode.New(errcode.InvalidArgument,
			"retention time %s is out of range; use 1h to 2160h (90 days)", d)
	}
	return nil
}

func validRetentionBytes(n int64) error {
	if n < 0 {
		return errcode.New(errcode.InvalidArgument,
			"retention size %d bytes is negative; use 0 for unlimited or a positive size", n)
	}
	return nil
}

func validMaxEventBytes(n int32) error {
	if n < MinMaxEventBytes || n > MaxMaxEventBytes {
		return errcode.New(errcode.InvalidArgument,
			"max event size %d bytes is out of range; use %d (1 KiB) to %d (20 MiB)", n, MinMaxEventBytes, MaxMaxEventBytes)
	}
	return nil
}

func validHubStatus(s HubStatus) error {
	switch s {
	case Active, Disabled, SendDisabled, ReceiveDisabled:
		return nil
	}
	return errcode.New(errcode.InvalidArgument,
		"event hub status %q is invalid; use Active, Disabled, SendDisabled or ReceiveDisabled", string(s))
}

func validAction(what string, a Action) error {
	if a == Allow || a == Deny {
		return nil
	}
	return errcode.New(errcode.InvalidArgument, "%s %q is invalid; use Allow or Deny", what, string(a))
}

// validNetworkRules checks r; empty actions mean Allow.
func validNetworkRules(r NetworkRules) error {
	if r.DefaultAction != "" {
		if err := validAction("network default action", r.DefaultAction); err != nil {
			return err
		}
	}
	for _, ip := range r.IPRules {
		if _, err := netip.ParsePrefix(ip.CIDR); err != nil {
			if _, err := netip.ParseAddr(ip.CIDR); err != nil {
				return errcode.New(errcode.InvalidArgument,
					"IP rule %q is neither an address nor a CIDR prefix; use for example 10.0.0.0/8 or 192.168.1.7", ip.CIDR)
			}
		}
		if ip.Action != "" {
			if err := validAction("IP rule action", ip.Action); err != nil {
				return err
			}
		}
	}
	for _, ep := range r.PrivateEndpoints {
		if _, port, err := net.SplitHostPort(ep); err != nil || port == "" {
			return errcode.New(errcode.InvalidArgument,
				"private endpoint %q is not a listener address; use host:port, for example 10.1.0.4:9093", ep)
		}
	}
	return nil
}

// normalizeNetworkRules fills the default actions. It returns a copy.
func normalizeNetworkRules(r NetworkRules) NetworkRules {
	r = r.clone()
	if r.DefaultAction == "" {
		r.DefaultAction = Allow
	}
	for i := range r.IPRules {
		if r.IPRules[i].Action == "" {
			r.IPRules[i].Action = Allow
		}
	}
	return r
}

func validKey(what, key string) error {
	if len(key) < 16 || len(key) > 256 {
		return errcode.New(errcode.InvalidArgument,
			"%s must be 16 to 256 characters; generate one with 'tandem policy regenerate-key' or leave it empty", what)
	}
	return nil
}

// Rules for new names.
//
// Event Hubs names must start and end with a letter or digit, and are case-insensitive:
// "PAYMENTS" cannot be created beside "payments". Older Tandem accepted both, so a metadata log
// may already hold such names, and every entry of a log must replay. Apply therefore checks
// only what keeps the state consistent (each command's check), and admit adds the rules for
// new names; it runs once, when a command is first proposed on this node (State.Check and
// Store.Propose), never on replay.
//
// A name is looked up exactly: "PAYMENTS" does not find "payments". Names that differ only in
// case and were created before this rule stay separate entities, each reached by its exact
// name, and either can be deleted. A name that starts or ends with '.', '-' or '_' stays usable
// and deletable; it cannot be created again.

// admit checks the rules for new names that c would introduce. It runs after c.check passed,
// so the namespace and hub c names exist. A Replicated change is not held to them: the
// secondary mirrors what its primary accepted (a primary running older code may hold such
// names), and refusing it would stop the pairing rather than protect anything.
func admit(s *State, c Command) error {
	switch c := c.(type) {
	case CreateNamespace:
		if err := reservedName(s, c.Namespace); err != nil {
			return err
		}
		return foldUnique("namespace", c.Namespace, "", s.namespaces)
	case CreateHub:
		if err := newEntityName("event hub", c.Hub); err != nil {
			return err
		}
		// The folded-name index, not a scan of every hub: a creation costs the same at 10 hubs
		// or 10,000.
		return foldUniqueIn("event hub", c.Hub, " in namespace "+c.Namespace, s.namespaces[c.Namespace].foldedHubs(c.Hub))
	case CreateGroup:
		return newGroupName(c.Group, c.Namespace, s.namespaces[c.Namespace].Hubs[c.Hub])
	case CommitOffsets:
		h := s.namespaces[c.Namespace].Hubs[c.Hub]
		if _, ok := h.Groups[c.Group]; ok {
			return nil
		}
		return newGroupName(c.Group, c.Namespace, h) // the commit creates the group
	case PutPolicy:
		ps, _ := s.policies(c.Namespace, c.Hub)
		if _, ok := ps[c.Name]; ok {
			return nil // an update
		}
		if err := newEntityName("shared access policy", c.Name); err != nil {
			return err
		}
		return foldUnique("shared access policy", c.Name, " on "+where(c.Namespace, c.Hub), ps)
	}
	return nil
}

// newEntityName checks the Event Hubs rule on top of validEntityName's characters and length.
func newEntityName(kind, name string) error {
	if !startsAndEndsAlnum(name) {
		return errcode.New(errcode.InvalidArgument,
			"%s name %q is invalid; a name must start and end with a letter or digit (letters, digits, '.', '-' and '_' in between)",
			kind, name)
	}
	return nil
}

func newGroupName(group, ns string, h *Hub) error {
	if group == DefaultGroup {
		return nil
	}
	if err := newEntityName("consumer group", group); err != nil {
		return err
	}
	return foldUnique("consumer group", group, " on event hub "+ns+"/"+h.Name, h.Groups)
}

// foldUnique refuses name when existing holds another name equal to it ignoring case.
func foldUnique[V any](kind, name, where string, existing map[string]V) error {
	var clash []string
	for other := range existing {
		if other != name && strings.EqualFold(other, name) {
			clash = append(clash, other)
		}
	}
	return foldClash(kind, name, where, clash)
}

// foldUniqueIn is foldUnique given the names equal to name ignoring case (name may be one).
func foldUniqueIn(kind, name, where string, folded []string) error {
	var clash []string
	for _, other := range folded {
		if other != name {
			clash = append(clash, other)
		}
	}
	return foldClash(kind, name, where, clash)
}

func foldClash(kind, name, where string, clash []string) error {
	if len(clash) == 0 {
		return nil
	}
	other := slices.Min(clash) // several only in a state from before this rule
	return errcode.New(errcode.Conflict,
		"%s %q differs only in case from the existing %s %q%s; names are case-insensitive, as in Event Hubs: use %q or pick another name",
		kind, name, kind, other, where, other)
}
