package multiraft

import (
	"encoding/json"
	"fmt"
	"hash/fnv"

	"go.etcd.io/raft/v3/raftpb"
)

// simChecker sees every apply of every replica of every incarnation and
// records the first violation.
type simChecker struct {
	applied  map[uint64]map[uint64]string // group → index → data
	errs     []string
	restores int
}

func newSimChecker() *simChecker {
	return &simChecker{applied: make(map[uint64]map[uint64]string)}
}

func (c *simChecker) failf(format string, a ...any) {
	if len(c.errs) < 20 {
		c.errs = append(c.errs, fmt.Sprintf(format, a...))
	}
}

// simRec is one applied entry.
type simRec struct {
	Index uint64 `json:"i"`
	Data  string `json:"d"`
}

// simSM is a deterministic state machine: the list of applied entries, kept
// whole in its snapshots so that the end of a run can compare histories. It
// is volatile: a crashed node starts with an empty one.
type simSM struct {
	group, node uint64
	c           *simChecker
	recs        []simRec
	applied     uint64
}

func (s *simSM) Applied() uint64 { return s.applied }

func (s *simSM) Apply(ents []Entry) error {
	for _, e := range ents {
		if e.Index != s.applied+1 {
			s.c.failf("group %d node %d: applied index %d after %d", s.group, s.node, e.Index, s.applied)
			return fmt.Errorf("out of order apply %d after %d", e.Index, s.applied)
		}
		d := string(e.Data)
		if e.Kind == EntryConfChange {
			d = "<conf>"
		}
		g := s.c.applied[s.group]
		if g == nil {
			g = make(map[uint64]string)
			s.c.applied[s.group] = g
		}
		if prev, ok := g[e.Index]; ok && prev != d {
			s.c.failf("group %d index %d: node %d applied %q, another replica applied %q", s.group, e.Index, s.node, d, prev)
		}
		g[e.Index] = d
		s.recs = append(s.recs, simRec{e.Index, d})
		s.applied = e.Index
	}
	return nil
}

func (s *simSM) Snapshot() ([]byte, error) { return json.Marshal(s.recs) }

func (s *simSM) Restore(snap *raftpb.Snapshot) error {
	var recs []simRec
	if err := json.Unmarshal(snap.GetData(), &recs); err != nil {
		return err
	}
	idx := snap.GetMetadata().GetIndex()
	if n := len(recs); n == 0 || recs[n-1].Index != idx {
		s.c.failf("group %d node %d: snapshot at %d holds %d records", s.group, s.node, idx, n)
		return fmt.Errorf("bad snapshot")
	}
	// A restore must not rewrite what this replica already applied.
	for i, r := range s.recs {
		if i < len(recs) && recs[i] != r {
			s.c.failf("group %d node %d: snapshot rewrites index %d", s.group, s.node, r.Index)
		}
	}
	s.recs, s.applied = recs, idx
	s.c.restores++
	return nil
}

func (s *simSM) digest() uint64 {
	h := fnv.New64a()
	for _, r := range s.recs {
		fmt.Fprintf(h, "%d:%s;", r.Index, r.Data)
	}
	return h.Sum64()
}

func (s *simSM) at(index uint64) (string, bool) {
	if index == 0 || index > uint64(len(s.recs)) {
		return "", false
	}
	r := s.recs[index-1]
	return r.Data, r.Index == index
}
