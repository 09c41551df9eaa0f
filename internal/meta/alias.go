package meta

import (
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// AliasRole is a namespace's role in a geo-DR alias, as Event Hubs names them.
type AliasRole string

// The alias roles.
const (
	RolePrimary               AliasRole = "Primary"
	RolePrimaryNotReplicating AliasRole = "PrimaryNotReplicating" // paired no longer: broken or failed over
	RoleSecondary             AliasRole = "Secondary"
)

// AliasConfig is a namespace's side of a geo-DR alias. Epoch increases with every failover;
// a side that learns of a higher epoch than its own has lost the alias (fencing).
type AliasConfig struct {
	Name              string    `json:"name"`
	Role              AliasRole `json:"role"`
	PartnerEndpoint   string    `json:"partnerEndpoint,omitempty"` // the partner region's HTTP API
	PartnerRegion     string    `json:"partnerRegion,omitempty"`
	PartnerNamespace  string    `json:"partnerNamespace,omitempty"`
	Epoch             uint64    `json:"epoch"`
	ProvisioningState string    `json:"provisioningState"` // Accepted, Succeeded, Failed
	Reason            string    `json:"reason,omitempty"`  // why provisioning failed
	UpdatedAt         time.Time `json:"updatedAt"`
}

// Paired reports whether the alias links two namespaces right now.
func (a *AliasConfig) Paired() bool {
	return a != nil && a.Role != RolePrimaryNotReplicating && a.PartnerNamespace != ""
}

// SetAlias creates or changes a namespace's side of an alias. The epoch never goes back.
type SetAlias struct {
	Namespace string      `json:"ns"`
	Alias     AliasConfig `json:"alias"`
	Time      time.Time   `json:"time"`
}

// ClearAlias removes a namespace's alias (delete alias, or the secondary's side after break
// pairing).
type ClearAlias struct {
	Namespace string    `json:"ns"`
	Time      time.Time `json:"time"`
}

// The alias command types.
const (
	TypeSetAlias   CommandType = "SetAlias"
	TypeClearAlias CommandType = "ClearAlias"
)

// Type implements Command.
func (SetAlias) Type() CommandType { return TypeSetAlias }

// Type implements Command.
func (ClearAlias) Type() CommandType { return TypeClearAlias }

func (c SetAlias) check(s *State) error {
	n, err := s.ns(c.Namespace)
	if err != nil {
		return err
	}
	a := c.Alias
	if err := validAliasName(a.Name); err != nil {
		return err
	}
	switch a.Role {
	case RolePrimary, RolePrimaryNotReplicating, RoleSecondary:
	default:
		return errcode.New(errcode.InvalidArgument, "alias role %q is unknown; use Primary, PrimaryNotReplicating or Secondary", a.Role)
	}
	switch a.ProvisioningState {
	case "Accepted", "Succeeded", "Failed":
	default:
		return errcode.New(errcode.InvalidArgument, "alias provisioning state %q is unknown; use Accepted, Succeeded or Failed", a.ProvisioningState)
	}
	if cur := n.Alias; cur != nil {
		if cur.Name != a.Name {
			return errcode.New(errcode.Conflict,
				"namespace %q is already in alias %q; a namespace can be in only one pairing", c.Namespace, cur.Name)
		}
		if a.Epoch < cur.Epoch {
			return errcode.New(errcode.Conflict,
				"alias %q is at epoch %d on namespace %q; a change at epoch %d comes from a side that lost the alias",
				a.Name, cur.Epoch, c.Namespace, a.Epoch)
		}
	}
	return nil
}

func (c SetAlias) apply(s *State) {
	n := s.namespaces[c.Namespace]
	a := c.Alias
	a.UpdatedAt = c.Time
	n.Alias = &a
	n.UpdatedAt = c.Time
}

func (c ClearAlias) check(s *State) error {
	n, err := s.ns(c.Namespace)
	if err != nil {
		return err
	}
	if n.Alias == nil {
		return errcode.New(errcode.NotFound, "namespace %q has no alias", c.Namespace)
	}
	return nil
}

func (c ClearAlias) apply(s *State) {
	n := s.namespaces[c.Namespace]
	n.Alias = nil
	n.UpdatedAt = c.Time
}

// validAliasName applies Event Hubs' namespace naming rule to aliases: an alias is a host
// name clients connect through, like a namespace's.
func validAliasName(name string) error {
	if err := validNamespaceName(name); err != nil {
		return errcode.New(errcode.InvalidArgument,
			"alias name %q is invalid; use 6 to 50 letters, digits and hyphens, starting with a letter and ending with a letter or digit", name)
	}
	return nil
}
