package meta

import (
	"slices"
	"strings"
	"time"
	"unicode"
)

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

// TotalPartitions returns the number of partitions of every event hub of every namespace,
// kept by the commands that create, grow and delete hubs (counted when a state is built
// otherwise). Readers call it under a read lock: it never writes.
func (s *State) TotalPartitions() int64 {
	if !s.partitionsKnown {
		return s.countAllPartitions()
	}
	return s.partitions
}

// indexCounts builds the kept counts and indexes of a state built from a snapshot.
func (s *State) indexCounts() {
	s.partitions, s.partitionsKnown = s.countAllPartitions(), true
	for _, n := range s.namespaces {
		n.buildFolded()
	}
}

func (s *State) countAllPartitions() int64 {
	var n int64
	for _, ns := range s.namespaces {
		for _, h := range ns.Hubs {
			n += int64(h.PartitionCount)
		}
	}
	return n
}

// countPartitions adds delta to the partition count, if it is kept yet. Every change of a
// hub's partition count, and every hub created or deleted, calls it.
func (s *State) countPartitions(delta int64) {
	if s.partitionsKnown {
		s.partitions += delta
	}
}

// foldKey maps a name to a key that two names share exactly when strings.EqualFold says they
// are equal: each rune (an invalid byte decodes as utf8.RuneError, as in EqualFold) becomes
// the smallest rune of its simple case-folding orbit.
func foldKey(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// foldedHubs returns the hub names of n that equal name ignoring case, name itself included
// when it is one: from the index CreateNamespace and snapshot loading build and CreateHub and
// DeleteHub keep, or by a scan of a namespace built otherwise. It never writes (Check runs
// under a read lock too).
func (n *Namespace) foldedHubs(name string) []string {
	if n.folded == nil {
		var out []string
		for h := range n.Hubs {
			if strings.EqualFold(h, name) {
				out = append(out, h)
			}
		}
		return out
	}
	return n.folded[foldKey(name)]
}

func (n *Namespace) buildFolded() {
	n.folded = make(map[string][]string, len(n.Hubs))
	for h := range n.Hubs {
		k := foldKey(h)
		n.folded[k] = append(n.folded[k], h)
	}
}

func (n *Namespace) addFolded(name string) {
	if n.folded != nil {
		k := foldKey(name)
		n.folded[k] = append(n.folded[k], name)
	}
}

func (n *Namespace) dropFolded(name string) {
	if n.folded == nil {
		return
	}
	k := foldKey(name)
	rest := slices.DeleteFunc(n.folded[k], func(h string) bool { return h == name })
	if len(rest) == 0 {
		delete(n.folded, k)
	} else {
		n.folded[k] = rest
	}
}
