package meta

import (
	"encoding/json"
	"slices"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Replicated applies, on a geo-DR secondary, a change that happened on its primary. Command is
// the primary's command already renamed to the secondary's namespace (WithNamespace). Through is
// the primary's log index the change brings the secondary to; the secondary's cursor
// (AliasConfig.Through) advances in the same step, so a change is applied exactly once even
// when the secondary crashes between applying and recording progress. Through 0 marks a
// change of a snapshot sync, which leaves the cursor alone; a Replicated with a nil Command
// only moves the cursor (the end of a snapshot sync).
type Replicated struct {
	Namespace string  `json:"ns"`
	Alias     string  `json:"alias"`
	Through   uint64  `json:"through,omitempty"`
	Command   Command `json:"-"`
}

// TypeReplicated is the type of Replicated.
const TypeReplicated CommandType = "Replicated"

// Type implements Command.
func (Replicated) Type() CommandType { return TypeReplicated }

type replicatedJSON struct {
	Namespace string          `json:"ns"`
	Alias     string          `json:"alias"`
	Through   uint64          `json:"through,omitempty"`
	Command   json.RawMessage `json:"command,omitempty"`
}

// MarshalJSON nests the replicated command in its own encoded form.
func (c Replicated) MarshalJSON() ([]byte, error) {
	j := replicatedJSON{Namespace: c.Namespace, Alias: c.Alias, Through: c.Through}
	if c.Command != nil {
		b, err := EncodeCommand(c.Command)
		if err != nil {
			return nil, err
		}
		j.Command = b
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form written by MarshalJSON.
func (c *Replicated) UnmarshalJSON(b []byte) error {
	var j replicatedJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Replicated{Namespace: j.Namespace, Alias: j.Alias, Through: j.Through}
	if len(j.Command) > 0 && string(j.Command) != "null" {
		inner, err := DecodeCommand(j.Command)
		if err != nil {
			return err
		}
		c.Command = inner
	}
	return nil
}

func (c Replicated) check(s *State) error {
	n, err := s.ns(c.Namespace)
	if err != nil {
		return err
	}
	a := n.Alias
	if a == nil || a.Name != c.Alias || a.Role != RoleSecondary {
		return errcode.New(errcode.Conflict,
			"namespace %q is not the secondary of alias %q; replicated changes apply only to a paired secondary", c.Namespace, c.Alias)
	}
	if c.Through != 0 && c.Through <= a.Through {
		return errcode.New(errcode.AlreadyExists,
			"primary change %d of alias %q is already applied on %q (applied through %d)", c.Through, c.Alias, c.Namespace, a.Through)
	}
	if c.Command == nil {
		return nil
	}
	if !Replicable(c.Command) {
		return errcode.New(errcode.InvalidArgument, "%s commands are not replicated by geo-DR", c.Command.Type())
	}
	if ns := NamespaceOf(c.Command); ns != c.Namespace {
		return errcode.New(errcode.InvalidArgument,
			"replicated %s names namespace %q, not the secondary %q", c.Command.Type(), ns, c.Namespace)
	}
	return c.localized(s).check(s)
}

func (c Replicated) apply(s *State) {
	if c.Command != nil {
		c.localized(s).apply(s)
	}
	if n := s.namespaces[c.Namespace]; c.Through > n.Alias.Through {
		a := *n.Alias
		a.Through = c.Through
		n.Alias = &a
	}
}

// localized keeps the secondary's own private endpoints in a replicated namespace update:
// private endpoints are listener addresses of each region, not replicated settings.
func (c Replicated) localized(s *State) Command {
	u, ok := c.Command.(UpdateNamespace)
	if !ok || u.NetworkRules == nil {
		return c.Command
	}
	r := u.NetworkRules.clone()
	r.PrivateEndpoints = slices.Clone(s.namespaces[c.Namespace].NetworkRules.PrivateEndpoints)
	u.NetworkRules = &r
	return u
}

// Replicable reports whether geo-DR copies c from a primary to its secondary: entity and
// policy changes and namespace settings do; committed offsets, aliases and the namespace's
// own life cycle do not (event data and offsets are a separate capability; each side owns its
// alias configuration).
func Replicable(c Command) bool {
	switch c.(type) {
	case UpdateNamespace, PutPolicy, DeletePolicy, RegenerateKey,
		CreateHub, UpdateHub, DeleteHub, CreateGroup, DeleteGroup:
		return true
	}
	return false
}

// NamespaceOf returns the namespace a command changes.
func NamespaceOf(c Command) string {
	switch c := c.(type) {
	case CreateNamespace:
		return c.Namespace
	case UpdateNamespace:
		return c.Namespace
	case DeleteNamespace:
		return c.Namespace
	case PutPolicy:
		return c.Namespace
	case DeletePolicy:
		return c.Namespace
	case RegenerateKey:
		return c.Namespace
	case CreateHub:
		return c.Namespace
	case UpdateHub:
		return c.Namespace
	case DeleteHub:
		return c.Namespace
	case CreateGroup:
		return c.Namespace
	case DeleteGroup:
		return c.Namespace
	case CommitOffsets:
		return c.Namespace
	case DeleteOffsets:
		return c.Namespace
	case ClaimOwnership:
		return c.Namespace
	case SetAlias:
		return c.Namespace
	case ClearAlias:
		return c.Namespace
	case RetireAlias:
		return c.Namespace
	case Replicated:
		return c.Namespace
	}
	return ""
}

// ForSecondary returns a primary's replicable command as it applies to the secondary
// namespace ns. A namespace update keeps its network rules and labels but not the tier: each
// side of a pairing keeps its own tier (a standard primary may pair with a dedicated
// secondary). ok is false for commands that are not replicated.
func ForSecondary(c Command, ns string) (out Command, ok bool) {
	switch c := c.(type) {
	case UpdateNamespace:
		c.Namespace, c.Tier = ns, ""
		return c, true
	case PutPolicy:
		c.Namespace = ns
		return c, true
	case DeletePolicy:
		c.Namespace = ns
		return c, true
	case RegenerateKey:
		c.Namespace = ns
		return c, true
	case CreateHub:
		c.Namespace = ns
		return c, true
	case UpdateHub:
		c.Namespace = ns
		return c, true
	case DeleteHub:
		c.Namespace = ns
		return c, true
	case CreateGroup:
		c.Namespace = ns
		return c, true
	case DeleteGroup:
		c.Namespace = ns
		return c, true
	}
	return nil, false
}
