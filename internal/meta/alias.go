package meta

import (
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// AliasRole is a namespace's role in a geo-DR alias, as Event Hubs names them.
type AliasRole string

// The alias roles. PrimaryNotReplicating holds the alias without a partner: after break
// pairing, after a failover (on the new primary), or on a former primary that lost the alias
// (Lost is then set).
const (
	RolePrimary               AliasRole = "Primary"
	RolePrimaryNotReplicating AliasRole = "PrimaryNotReplicating"
	RoleSecondary             AliasRole = "Secondary"
)

// Provisioning states of an alias, as Event Hubs names them.
const (
	ProvisioningAccepted  = "Accepted"
	ProvisioningSucceeded = "Succeeded"
	ProvisioningFailed    = "Failed"
)

// Peer is the other region's side of an alias: where its HTTP API and Kafka listener are and
// which namespace holds the alias there.
type Peer struct {
	Region    string   `json:"region"`
	Namespace string   `json:"namespace"`
	Endpoint  string   `json:"endpoint"`         // HTTP API base URL
	Kafka     []string `json:"kafka,omitempty"`  // advertised Kafka listeners, host:port
	NodeID    int32    `json:"nodeId,omitempty"` // Kafka node id of the region's broker
	// Nodes are, when the region is a cluster, every node's Kafka broker (node id, listener,
	// zone): alias clients sent to this region get all of them in Kafka Metadata and find the
	// partitions' leaders there. Empty for a single node (Kafka and NodeID say it all).
	Nodes []PeerNode `json:"nodes,omitempty"`
	// AMQP are the region's AMQP 1.0 listeners (host:port) as its nodes advertise them: an
	// Event Hubs SDK that names the alias in its endpoint and reaches this region while the
	// alias is active there is proxied to one of them (internal/amqp's front door). Empty for
	// a region that serves no AMQP, or one older than this field.
	AMQP []string `json:"amqp,omitempty"`
}

// PeerNode is one Kafka broker of a cluster region, as the partner region records it.
type PeerNode struct {
	ID    int32  `json:"id"`
	Kafka string `json:"kafka"`          // host:port
	Zone  string `json:"zone,omitempty"` // the Kafka rack
	AMQP  string `json:"amqp,omitempty"` // the node's AMQP listener, host:port ("" for none)
}

// AliasConfig is a namespace's side of a geo-DR alias. Epoch increases with every failover;
// a side that learns of a higher epoch than its own has lost the alias (fencing).
type AliasConfig struct {
	Name  string    `json:"name"`
	Role  AliasRole `json:"role"`
	Epoch uint64    `json:"epoch"`
	// Partner is the other side of the current pairing, nil when not paired.
	Partner *Peer `json:"partner,omitempty"`
	// Former is, on a new primary after failover, the old primary (to fence when it returns);
	// on a side that lost the alias (Lost), the side that holds it now.
	Former *Peer `json:"former,omitempty"`
	// Lost marks a former primary that learned a failover moved the alias away at Epoch: it
	// takes no alias traffic and sends alias clients to Former.
	Lost bool `json:"lost,omitempty"`
	// LinkKey authenticates the region-to-region calls of this pairing (replication feed,
	// break pairing, fencing); both sides hold it.
	LinkKey string `json:"linkKey,omitempty"`
	// FormerLinkKey is, on a new primary that paired again after a failover, the previous
	// pairing's link key: the former primary, if it has not learned of the failover, still
	// presents it when it asks this side for the alias's status, and is answered so it fences
	// itself. It authenticates nothing else.
	FormerLinkKey     string `json:"formerLinkKey,omitempty"`
	ProvisioningState string `json:"provisioningState"`
	Reason            string `json:"reason,omitempty"` // why provisioning failed
	// Through is, on a secondary, the primary's metadata log index replicated so far. It is
	// advanced by the same command that applies a replicated change, so it is exact across
	// crashes.
	Through   uint64    `json:"through,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Paired reports whether the alias links two namespaces right now.
func (a *AliasConfig) Paired() bool {
	return a != nil && a.Partner != nil && a.ProvisioningState != ProvisioningFailed &&
		(a.Role == RolePrimary || a.Role == RoleSecondary)
}

// Active reports whether this side holds the alias: alias clients are served here.
func (a *AliasConfig) Active() bool {
	return a != nil && !a.Lost && (a.Role == RolePrimary || a.Role == RolePrimaryNotReplicating)
}

// ActivePeer returns where alias clients go when this side is not active: the primary for a
// secondary, the new holder for a side that lost the alias. It is nil when this side is active
// or does not know.
func (a *AliasConfig) ActivePeer() *Peer {
	switch {
	case a == nil || a.Active():
		return nil
	case a.Role == RoleSecondary:
		return a.Partner
	case a.Lost:
		return a.Former
	}
	return nil
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
	if err := ValidAliasName(a.Name); err != nil {
		return err
	}
	switch a.Role {
	case RolePrimary, RolePrimaryNotReplicating, RoleSecondary:
	default:
		return errcode.New(errcode.InvalidArgument, "alias role %q is unknown; use Primary, PrimaryNotReplicating or Secondary", a.Role)
	}
	switch a.ProvisioningState {
	case ProvisioningAccepted, ProvisioningSucceeded, ProvisioningFailed:
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

// ValidAliasName applies Event Hubs' namespace naming rule to aliases: an alias is a host
// name clients connect through, like a namespace's.
func ValidAliasName(name string) error {
	if err := validNamespaceName(name); err != nil {
		return errcode.New(errcode.InvalidArgument,
			"alias name %q is invalid; use 6 to 50 letters, digits and hyphens, starting with a letter and ending with a letter or digit", name)
	}
	return nil
}
