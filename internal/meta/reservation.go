package meta

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Alias name reservations.
//
// An alias is a host name that clients connect through. When a namespace's alias is deleted
// (after a failover moved it away, or after break pairing), its name stays reserved in this
// region for the pairing it belonged to, so that no other tenant takes it: the alias's
// clients whose bootstrap lists this region would reach that tenant's namespace, and the
// pairing could not fail forward into this region under its name. Who may take a reserved
// name is decided by the proposer (internal/geodr, which sees the credentials); this file
// only keeps the reservations. They are local to the region: geo-DR does not replicate them.

// AliasReservation keeps a deleted alias's name for the pairing it belonged to.
type AliasReservation struct {
	Alias string `json:"alias"`
	// Namespace is the local namespace whose alias it was; NamespaceCreatedAt tells it from a
	// later namespace of the same name.
	Namespace          string    `json:"namespace"`
	NamespaceCreatedAt time.Time `json:"namespaceCreatedAt"`
	// Partner is the other side of the pairing (the partner, else the former one): the
	// primary that may pair a local namespace under the name, proving Keys.
	Partner *Peer `json:"partner,omitempty"`
	// Keys are the ReservationKey of the pairing's link keys (the current and the former):
	// a claim proves one of them without revealing it.
	Keys      []string  `json:"keys,omitempty"`
	Epoch     uint64    `json:"epoch"`
	CreatedAt time.Time `json:"createdAt"`
}

// ReservationKey derives the key a reservation keeps from a pairing's link key: both sides of
// the pairing can compute it, the link key itself is not kept, and "" gives "".
func ReservationKey(linkKey string) string {
	if linkKey == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("tandem alias reservation\x00" + linkKey))
	return hex.EncodeToString(sum[:])
}

// RetireAlias removes a namespace's alias, as ClearAlias does, and reserves its name in this
// region for the pairing it belonged to (replacing an older reservation of the name).
type RetireAlias struct {
	Namespace string    `json:"ns"`
	Time      time.Time `json:"time"`
}

// ReleaseAlias drops the reservation of an alias name.
type ReleaseAlias struct {
	Alias string    `json:"alias"`
	Time  time.Time `json:"time"`
}

// The reservation command types.
const (
	TypeRetireAlias  CommandType = "RetireAlias"
	TypeReleaseAlias CommandType = "ReleaseAlias"
)

// Type implements Command.
func (RetireAlias) Type() CommandType { return TypeRetireAlias }

// Type implements Command.
func (ReleaseAlias) Type() CommandType { return TypeReleaseAlias }

func (c RetireAlias) check(s *State) error { return ClearAlias{Namespace: c.Namespace}.check(s) }

func (c RetireAlias) apply(s *State) {
	n := s.namespaces[c.Namespace]
	a := n.Alias
	r := &AliasReservation{Alias: a.Name, Namespace: n.Name, NamespaceCreatedAt: n.CreatedAt,
		Epoch: a.Epoch, CreatedAt: c.Time}
	if p := a.Partner; p != nil || a.Former != nil {
		if p == nil {
			p = a.Former
		}
		pc := *p
		pc.Kafka = slices.Clone(p.Kafka)
		r.Partner = &pc
	}
	for _, k := range []string{a.LinkKey, a.FormerLinkKey} {
		if k != "" {
			r.Keys = append(r.Keys, ReservationKey(k))
		}
	}
	if s.reservations == nil {
		s.reservations = map[string]*AliasReservation{}
	}
	s.reservations[strings.ToLower(a.Name)] = r
	ClearAlias{Namespace: c.Namespace, Time: c.Time}.apply(s)
}

func (c ReleaseAlias) check(s *State) error {
	if _, ok := s.reservations[strings.ToLower(c.Alias)]; !ok {
		return errcode.New(errcode.NotFound, "alias name %q is not reserved in this region", c.Alias)
	}
	return nil
}

func (c ReleaseAlias) apply(s *State) { delete(s.reservations, strings.ToLower(c.Alias)) }

// AliasReservation returns the reservation of alias name (case-insensitive), if any.
func (s *State) AliasReservation(name string) (AliasReservation, bool) {
	r, ok := s.reservations[strings.ToLower(name)]
	if !ok {
		return AliasReservation{}, false
	}
	return r.clone(), true
}

// AliasReservations returns every reservation, sorted by alias name.
func (s *State) AliasReservations() []AliasReservation {
	out := make([]AliasReservation, 0, len(s.reservations))
	for _, k := range slices.Sorted(maps.Keys(s.reservations)) {
		out = append(out, s.reservations[k].clone())
	}
	return out
}

func (r *AliasReservation) clone() AliasReservation {
	c := *r
	if r.Partner != nil {
		p := *r.Partner
		p.Kafka = slices.Clone(r.Partner.Kafka)
		c.Partner = &p
	}
	c.Keys = slices.Clone(r.Keys)
	return c
}

// reservedName refuses a new namespace named like a reserved alias: clients that connect
// through the alias would reach it. It is a rule for new names (see admit), so a log from
// before reservations replays unchanged.
func reservedName(s *State, name string) error {
	r, ok := s.reservations[strings.ToLower(name)]
	if !ok {
		return nil
	}
	return errcode.New(errcode.Conflict,
		"the name %q is reserved in this region for alias %q of namespace %s; the operator can release it with 'tandem alias delete %s/%s --release'",
		name, r.Alias, r.Namespace, r.Namespace, r.Alias)
}
