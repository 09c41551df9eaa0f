package meta

import "time"

// Cheap read accessors for the broker's quota and credential checks: they return counts and
// scalars without copying a namespace (Namespace clones every hub and checkpoint).

// NamespaceFacts are the scalars of a namespace the broker checks on every metadata change.
type NamespaceFacts struct {
	Tier      Tier
	CreatedAt time.Time // the namespace's incarnation: a namespace deleted and created again differs
	Hubs      int       // number of event hubs
	Cluster   string
	UpdatedAt time.Time
	// NetworkRules is a copy of the namespace's network rules.
	NetworkRules NetworkRules
	// Alias is a copy of the namespace's geo-DR configuration, nil when it is in no pairing.
	Alias *AliasConfig
}

// NamespaceFacts returns the settings and hub count of namespace ns, at a cost that does not
// grow with its hubs.
func (s *State) NamespaceFacts(ns string) (NamespaceFacts, error) {
	n, err := s.ns(ns)
	if err != nil {
		return NamespaceFacts{}, err
	}
	f := NamespaceFacts{Tier: n.Tier, CreatedAt: n.CreatedAt, Hubs: len(n.Hubs), Cluster: n.Cluster,
		UpdatedAt: n.UpdatedAt, NetworkRules: n.NetworkRules.clone()}
	if n.Alias != nil {
		a := *n.Alias
		f.Alias = &a
	}
	return f, nil
}

// HasNamespace reports whether namespace ns exists.
func (s *State) HasNamespace(ns string) bool {
	_, ok := s.namespaces[ns]
	return ok
}

// GroupCount returns the number of consumer groups of hub ($Default included) and whether
// group is one of them.
func (s *State) GroupCount(ns, hub, group string) (count int, exists bool, err error) {
	h, err := s.hub(ns, hub)
	if err != nil {
		return 0, false, err
	}
	_, exists = h.Groups[group]
	return len(h.Groups), exists, nil
}

// TotalPartitions returns the number of partitions of every event hub of every namespace.
func (s *State) TotalPartitions() int64 {
	var n int64
	for _, ns := range s.namespaces {
		for _, h := range ns.Hubs {
			n += int64(h.PartitionCount)
		}
	}
	return n
}
