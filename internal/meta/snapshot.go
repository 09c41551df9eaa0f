package meta

import (
	"encoding/json"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// SnapshotVersion is the newest version of the snapshot encoding. Version 2 adds placement
// (the "cluster" object and the hubs' incarnations and replicas); a state without placement is
// still written as version 1, byte for byte what older code wrote, and a state with placement
// as version 2, which older code refuses ("upgrade tandem") rather than silently dropping it.
// Version 3 adds a cluster's stream jobs ("jobs"), written only by a state that has one.
// Version 4 adds the namespaces' partition ownership ("ownership", ownership.go), written
// only by a state that has some.
const SnapshotVersion = 4

type snapshotJSON struct {
	V          int                   `json:"v"`
	Index      uint64                `json:"index"`
	Namespaces map[string]*Namespace `json:"namespaces"`
	// Reservations is absent from a snapshot without any, so such a snapshot's bytes are
	// what code from before reservations wrote.
	Reservations map[string]*AliasReservation `json:"aliasReservations,omitempty"`
	// Cluster is absent until a member list is recorded, for the same reason.
	Cluster *clusterJSON `json:"cluster,omitempty"`
	// Jobs (version 3) is absent until a cluster records a stream job (jobs.go).
	Jobs map[string]*Job `json:"jobs,omitempty"`
}

// clusterJSON is the placement state of a snapshot (placement.go).
type clusterJSON struct {
	Members     []Member `json:"members"`
	Cursor      uint64   `json:"cursor"`
	Incarnation uint64   `json:"incarnation"`
}

// MarshalSnapshot encodes the whole state, with its applied index, as JSON. The encoding is
// deterministic (map keys are sorted), so equal states give equal bytes.
func (s *State) MarshalSnapshot() ([]byte, error) {
	j := snapshotJSON{V: 1, Index: s.index, Namespaces: s.namespaces, Reservations: s.reservations}
	if len(s.members) > 0 || s.cursor > 0 || s.incarnation > 0 {
		j.V = 2
		j.Cluster = &clusterJSON{Members: s.members, Cursor: s.cursor, Incarnation: s.incarnation}
	}
	if len(s.jobs) > 0 {
		j.V, j.Jobs = 3, s.jobs
	}
	if s.hasOwnership() {
		j.V = 4
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, errcode.New(errcode.Internal, "encoding metadata snapshot: %w", err)
	}
	return b, nil
}

// UnmarshalSnapshot decodes a snapshot written by MarshalSnapshot.
func UnmarshalSnapshot(b []byte) (*State, error) {
	var j snapshotJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, errcode.New(errcode.CorruptData, "metadata snapshot is not valid JSON: %w", err)
	}
	if j.V < 1 || j.V > SnapshotVersion {
		return nil, errcode.New(errcode.UnsupportedVersion,
			"metadata snapshot version %d is not supported (this node reads 1 to %d); upgrade tandem on this node", j.V, SnapshotVersion)
	}
	s := &State{index: j.Index, namespaces: j.Namespaces, reservations: j.Reservations}
	s.touched.floor = j.Index // what came before is not known: a derived index rebuilds
	if c := j.Cluster; c != nil {
		if j.V < 2 {
			return nil, errcode.New(errcode.CorruptData, "metadata snapshot version %d carries placement, which version 2 added", j.V)
		}
		s.members, s.cursor, s.incarnation = c.Members, c.Cursor, c.Incarnation
		if err := checkMemberList(s.members); err != nil {
			return nil, err
		}
	}
	if len(j.Jobs) > 0 && j.V < 3 {
		return nil, errcode.New(errcode.CorruptData, "metadata snapshot version %d carries jobs, which version 3 added", j.V)
	}
	if err := checkJobs(j.Jobs); err != nil {
		return nil, err
	}
	s.jobs = j.Jobs
	if s.namespaces == nil {
		s.namespaces = map[string]*Namespace{}
	}
	for name, r := range s.reservations {
		if r == nil || strings.ToLower(r.Alias) != name {
			return nil, errcode.New(errcode.CorruptData, "metadata snapshot has a broken reservation of alias name %q", name)
		}
	}
	for name, n := range s.namespaces {
		if n == nil || n.Name != name {
			return nil, errcode.New(errcode.CorruptData, "metadata snapshot entry %q does not hold namespace %q", name, name)
		}
		if err := n.fillMaps(); err != nil {
			return nil, err
		}
	}
	if j.V < 4 && s.hasOwnership() {
		return nil, errcode.New(errcode.CorruptData, "metadata snapshot version %d carries partition ownership, which version 4 added", j.V)
	}
	if err := s.checkPlacement(); err != nil {
		return nil, err
	}
	s.indexCounts()
	return s, nil
}

// fillMaps replaces nil maps (JSON null) with empty ones so apply code can write into them.
func (n *Namespace) fillMaps() error {
	if n.Policies == nil {
		n.Policies = map[string]*Policy{}
	}
	if n.Hubs == nil {
		n.Hubs = map[string]*Hub{}
	}
	if n.Offsets == nil {
		n.Offsets = map[string]map[string]map[int32]Checkpoint{}
	}
	for name, h := range n.Hubs {
		if h == nil || h.Name != name {
			return errcode.New(errcode.CorruptData, "metadata snapshot of namespace %q has a broken entry for event hub %q", n.Name, name)
		}
		if h.Groups == nil {
			h.Groups = map[string]*ConsumerGroup{}
		}
		if h.Policies == nil {
			h.Policies = map[string]*Policy{}
		}
	}
	return nil
}
