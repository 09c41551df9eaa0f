package meta

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Tier is a namespace's pricing tier, as Azure names them.
type Tier string

// The tiers.
const (
	Basic     Tier = "basic"
	Standard  Tier = "standard"
	Premium   Tier = "premium"
	Dedicated Tier = "dedicated"
)

// Action is a network rule action.
type Action string

// The network rule actions.
const (
	Allow Action = "Allow"
	Deny  Action = "Deny"
)

// HubStatus is an event hub's entity status, as Azure names it.
type HubStatus string

// The hub statuses.
const (
	Active          HubStatus = "Active"
	Disabled        HubStatus = "Disabled"
	SendDisabled    HubStatus = "SendDisabled"
	ReceiveDisabled HubStatus = "ReceiveDisabled"
)

// Names and defaults that follow Event Hubs.
const (
	RootPolicyName        = "RootManageSharedAccessKey" // created with every namespace
	DefaultGroup          = "$Default"                  // exists on every hub, cannot be deleted
	DevNamespace          = "default"                   // the dev-mode namespace, exempt from the length rule
	DefaultPartitionCount = 4
	MaxPartitionCount     = 1024
	DefaultRetention      = 24 * time.Hour
	MaxRetention          = 90 * 24 * time.Hour
	MinRetention          = time.Hour
	DefaultMaxEventBytes  = 1 << 20
	MinMaxEventBytes      = 1 << 10
	MaxMaxEventBytes      = 20 << 20
)

// Namespace is a tenant: policies, network rules, event hubs and committed offsets.
type Namespace struct {
	Name         string             `json:"name"`
	Tier         Tier               `json:"tier"`
	Cluster      string             `json:"cluster,omitempty"` // dedicated cluster id
	Policies     map[string]*Policy `json:"policies"`
	NetworkRules NetworkRules       `json:"networkRules"`
	Hubs         map[string]*Hub    `json:"hubs"`
	// Offsets holds committed offsets: group name → hub → partition → checkpoint. Groups are
	// namespace-wide names, so Kafka consumers and HTTP checkpoints of the same group share them.
	Offsets map[string]map[string]map[int32]Checkpoint `json:"offsets"`
	// Ownership is the event processors' partition ownership: group name → hub → partition
	// (ownership.go); absent until a processor claims a partition.
	Ownership map[string]map[string]map[int32]Ownership `json:"ownership,omitempty"`
	Labels    map[string]string                         `json:"labels,omitempty"`
	// Alias is the namespace's geo-DR configuration, nil when it is in no pairing.
	Alias     *AliasConfig `json:"alias,omitempty"`
	CreatedAt time.Time    `json:"createdAt"`
	UpdatedAt time.Time    `json:"updatedAt"`

	// folded indexes the hub names by their case-folded form (counts.go), built on first use;
	// nil until then and in copies.
	folded map[string][]string
}

// NetworkRules filters client connections to a namespace.
type NetworkRules struct {
	DefaultAction    Action   `json:"defaultAction"`
	IPRules          []IPRule `json:"ipRules,omitempty"`
	PrivateEndpoints []string `json:"privateEndpoints,omitempty"` // listener addresses, host:port
}

// IPRule allows or denies an address range.
type IPRule struct {
	CIDR   string `json:"cidr"` // an address or a prefix: "10.0.0.1", "10.0.0.0/8"
	Action Action `json:"action"`
}

// Policy is a shared access policy (authorization rule) with two keys.
type Policy struct {
	Name         string      `json:"name"`
	Rights       auth.Rights `json:"rights"`
	PrimaryKey   string      `json:"primaryKey"`
	SecondaryKey string      `json:"secondaryKey"`
}

// Hub is an event hub.
type Hub struct {
	Name           string                    `json:"name"`
	PartitionCount int32                     `json:"partitionCount"`
	RetentionTime  time.Duration             `json:"retentionTime"`
	RetentionBytes int64                     `json:"retentionBytes"` // 0 = unlimited
	MaxEventBytes  int32                     `json:"maxEventBytes"`
	Status         HubStatus                 `json:"status"`
	Groups         map[string]*ConsumerGroup `json:"groups"`
	Policies       map[string]*Policy        `json:"policies"`
	CreatedAt      time.Time                 `json:"createdAt"`
	UpdatedAt      time.Time                 `json:"updatedAt"`
	// Incarnation identifies this hub among every hub the region's metadata ever created (a
	// hub deleted and created again under the same name gets a new one); 0 while unplaced.
	// Replicas[p] lists the nodes of partition p, the first being its preferred leader. Both
	// are region-local (placement.go).
	Incarnation uint64     `json:"incarnation,omitempty"`
	Replicas    [][]uint64 `json:"replicas,omitempty"`
}

// ConsumerGroup is a consumer group of a hub.
type ConsumerGroup struct {
	Name         string    `json:"name"`
	UserMetadata string    `json:"userMetadata,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Checkpoint is a committed offset of one partition for one consumer group.
type Checkpoint struct {
	Offset     int64     `json:"offset"`
	Metadata   string    `json:"metadata,omitempty"`
	CommitTime time.Time `json:"commitTime"`
}

// State is the metadata state machine. It is pure and not safe for concurrent use: Store
// serializes writers and guards readers. Accessors return copies.
type State struct {
	index      uint64
	namespaces map[string]*Namespace
	// reservations are the reserved names of deleted aliases, by lower-case name (reservation.go).
	reservations map[string]*AliasReservation
	// Placement (placement.go): the recorded cluster members sorted by id, the number of
	// partitions placed so far and the last hub incarnation assigned.
	members     []Member
	cursor      uint64
	incarnation uint64
	jobs        map[string]*Job // stream jobs of a cluster, by lower-case name (jobs.go)
	// touched lists what recent commands changed, for derived indexes (touch.go).
	touched touchJournal
	// partitions counts the partitions of every hub once partitionsKnown (counts.go).
	partitions      int64
	partitionsKnown bool
}

// NewState returns an empty state at index 0.
func NewState() *State { return &State{namespaces: map[string]*Namespace{}, partitionsKnown: true} }

// Index returns the index of the last applied command.
func (s *State) Index() uint64 { return s.index }

// Namespaces returns the namespace names, sorted.
func (s *State) Namespaces() []string { return slices.Sorted(maps.Keys(s.namespaces)) }

// Namespace returns a copy of namespace name.
func (s *State) Namespace(name string) (*Namespace, error) {
	ns, err := s.ns(name)
	if err != nil {
		return nil, err
	}
	return ns.clone(), nil
}

// Hubs returns the names of the hubs of namespace ns, sorted.
func (s *State) Hubs(ns string) ([]string, error) {
	n, err := s.ns(ns)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(n.Hubs)), nil
}

// Hub returns a copy of hub in namespace ns.
func (s *State) Hub(ns, hub string) (*Hub, error) {
	h, err := s.hub(ns, hub)
	if err != nil {
		return nil, err
	}
	return h.clone(), nil
}

// Group returns a copy of consumer group group of hub in namespace ns.
func (s *State) Group(ns, hub, group string) (*ConsumerGroup, error) {
	g, err := s.group(ns, hub, group)
	if err != nil {
		return nil, err
	}
	c := *g
	return &c, nil
}

// Policy returns a copy of a shared access policy: a namespace-level one when hub is "",
// otherwise one of the hub.
func (s *State) Policy(ns, hub, name string) (*Policy, error) {
	p, err := s.policy(ns, hub, name)
	if err != nil {
		return nil, err
	}
	return p.clone(), nil
}

// Offsets returns the committed offsets of group for hub, by partition. The map is empty when
// the group exists but has committed nothing.
func (s *State) Offsets(ns, group, hub string) (map[int32]Checkpoint, error) {
	if _, err := s.group(ns, hub, group); err != nil {
		return nil, err
	}
	return maps.Clone(s.namespaces[ns].Offsets[group][hub]) /* nil-safe */, nil
}

func (s *State) ns(name string) (*Namespace, error) {
	n, ok := s.namespaces[name]
	if !ok {
		return nil, &errcode.Error{Code: errcode.NotFound,
			Msg: fmt.Sprintf("namespace %q not found; create it with 'tandem namespace create %s'", name, name),
			Err: &NamespaceNotFoundError{Name: name}}
	}
	return n, nil
}

// NamespaceNotFoundError is the cause of the NotFound for a namespace this region does not
// hold, so that a front end that knows the region (the HTTP API) can say which region was
// asked instead of suggesting a create in the wrong one.
type NamespaceNotFoundError struct{ Name string }

func (e *NamespaceNotFoundError) Error() string { return fmt.Sprintf("namespace %q not found", e.Name) }

func (s *State) hub(ns, hub string) (*Hub, error) {
	n, err := s.ns(ns)
	if err != nil {
		return nil, err
	}
	h, ok := n.Hubs[hub]
	if !ok {
		return nil, errcode.New(errcode.NotFound,
			"event hub %q not found in namespace %q; create it with 'tandem hub create %s/%s'", hub, ns, ns, hub)
	}
	return h, nil
}

func (s *State) group(ns, hub, group string) (*ConsumerGroup, error) {
	h, err := s.hub(ns, hub)
	if err != nil {
		return nil, err
	}
	g, ok := h.Groups[group]
	if !ok {
		return nil, errcode.New(errcode.NotFound,
			"consumer group %q not found on event hub %s/%s; create it with 'tandem group create %s/%s/%s'",
			group, ns, hub, ns, hub, group)
	}
	return g, nil
}

// policies returns the policy map of the namespace (hub "") or of the hub.
func (s *State) policies(ns, hub string) (map[string]*Policy, error) {
	if hub == "" {
		n, err := s.ns(ns)
		if err != nil {
			return nil, err
		}
		return n.Policies, nil
	}
	h, err := s.hub(ns, hub)
	if err != nil {
		return nil, err
	}
	return h.Policies, nil
}

func (s *State) policy(ns, hub, name string) (*Policy, error) {
	ps, err := s.policies(ns, hub)
	if err != nil {
		return nil, err
	}
	p, ok := ps[name]
	if !ok {
		return nil, errcode.New(errcode.NotFound,
			"shared access policy %q not found on %s; create it with 'tandem policy create'", name, where(ns, hub))
	}
	return p, nil
}

func (n *Namespace) clone() *Namespace {
	c := *n
	c.folded = nil
	c.Policies = clonePolicies(n.Policies)
	c.NetworkRules = n.NetworkRules.clone()
	c.Hubs = make(map[string]*Hub, len(n.Hubs))
	for k, h := range n.Hubs {
		c.Hubs[k] = h.clone()
	}
	c.Offsets = make(map[string]map[string]map[int32]Checkpoint, len(n.Offsets))
	for g, hubs := range n.Offsets {
		c.Offsets[g] = make(map[string]map[int32]Checkpoint, len(hubs))
		for h, parts := range hubs {
			c.Offsets[g][h] = maps.Clone(parts)
		}
	}
	c.Ownership = cloneOwnership(n.Ownership)
	c.Labels = maps.Clone(n.Labels)
	if n.Alias != nil {
		a := *n.Alias
		c.Alias = &a
	}
	return &c
}

func (r NetworkRules) clone() NetworkRules {
	r.IPRules = slices.Clone(r.IPRules)
	r.PrivateEndpoints = slices.Clone(r.PrivateEndpoints)
	return r
}

func (h *Hub) clone() *Hub {
	c := *h
	c.Groups = make(map[string]*ConsumerGroup, len(h.Groups))
	for k, g := range h.Groups {
		gc := *g
		c.Groups[k] = &gc
	}
	c.Policies = clonePolicies(h.Policies)
	if h.Replicas != nil {
		c.Replicas = make([][]uint64, len(h.Replicas))
		for i, r := range h.Replicas {
			c.Replicas[i] = slices.Clone(r)
		}
	}
	return &c
}

func (p *Policy) clone() *Policy {
	c := *p
	c.Rights = slices.Clone(p.Rights)
	return &c
}

func clonePolicies(m map[string]*Policy) map[string]*Policy {
	c := make(map[string]*Policy, len(m))
	for k, p := range m {
		c[k] = p.clone()
	}
	return c
}
