package meta

// The touch journal: what each recently applied command changed, so that a reader keeping an
// index derived from the state (the broker's hub index) updates the entries a command touched
// instead of rebuilding from every namespace after each command (issue 17). The journal is
// region-local and in memory only: a state decoded from a snapshot starts with an empty one,
// and TouchesSince then says the caller must rebuild.

// Touch is what one applied command changed that a derived index may hold.
type Touch struct {
	Index     uint64 // the command's index
	Namespace string
	// Hub is the event hub the command created, changed or deleted (its groups and hub-level
	// policies included); "" when it changed no single hub.
	Hub string
	// Settings: the namespace's own settings changed (tier, network rules, alias, policies,
	// keys), or the namespace was created or deleted.
	Settings bool
	// AllHubs: any hub of the namespace may have changed (the namespace was deleted).
	AllHubs bool
	// Global: the command may have changed anything (a command this journal does not know);
	// the reader rebuilds everything.
	Global bool
}

// touchCap bounds the journal; a reader further behind rebuilds.
const touchCap = 4096

// touchJournal holds the touches of the commands applied after floor, oldest first.
type touchJournal struct {
	floor   uint64 // the journal lists every touch of an index above floor
	touches []Touch
}

// note records what c, applied at index, touched. Commands that change nothing a derived
// index holds (committed offsets, jobs, cluster members, reservations, partition ownership,
// receiver owner levels) are not recorded.
func (j *touchJournal) note(index uint64, c Command) {
	t, ok := touchOf(c)
	if !ok {
		return
	}
	t.Index = index
	j.touches = append(j.touches, t)
	if len(j.touches) > 2*touchCap {
		drop := len(j.touches) - touchCap
		j.floor = j.touches[drop-1].Index
		j.touches = append(j.touches[:0:0], j.touches[drop:]...)
	}
}

// touchOf says what c touches; false when it touches nothing a derived index holds.
func touchOf(c Command) (Touch, bool) {
	switch c := c.(type) {
	case CommitOffsets, DeleteOffsets, ReleaseAlias, ClusterMembers, SetMemberEndpoints,
		PutJob, DeleteJob, AcquireJobLease, ReleaseJobLease, SaveJobCheckpoint,
		ClaimOwnership, ClaimOwnerLevel: // partition ownership and receiver owner levels are not indexed
		return Touch{}, false
	case CreateNamespace:
		return Touch{Namespace: c.Namespace, Settings: true, AllHubs: true}, true
	case DeleteNamespace:
		return Touch{Namespace: c.Namespace, Settings: true, AllHubs: true}, true
	case UpdateNamespace:
		return Touch{Namespace: c.Namespace, Settings: true}, true
	case SetAlias:
		return Touch{Namespace: c.Namespace, Settings: true}, true
	case ClearAlias:
		return Touch{Namespace: c.Namespace, Settings: true}, true
	case RetireAlias:
		return Touch{Namespace: c.Namespace, Settings: true}, true
	case PutPolicy:
		return Touch{Namespace: c.Namespace, Hub: c.Hub, Settings: c.Hub == ""}, true
	case DeletePolicy:
		return Touch{Namespace: c.Namespace, Hub: c.Hub, Settings: c.Hub == ""}, true
	case RegenerateKey:
		return Touch{Namespace: c.Namespace, Hub: c.Hub, Settings: c.Hub == ""}, true
	case CreateHub:
		return Touch{Namespace: c.Namespace, Hub: c.Hub}, true
	case UpdateHub:
		return Touch{Namespace: c.Namespace, Hub: c.Hub}, true
	case DeleteHub:
		return Touch{Namespace: c.Namespace, Hub: c.Hub}, true
	case CreateGroup:
		return Touch{Namespace: c.Namespace, Hub: c.Hub}, true
	case DeleteGroup:
		return Touch{Namespace: c.Namespace, Hub: c.Hub}, true
	case Replicated:
		// The alias's applied-through position is a namespace setting; the inner command
		// touches what it touches.
		t := Touch{Namespace: c.Namespace, Settings: true}
		if c.Command != nil {
			in, ok := touchOf(c.Command)
			switch {
			case !ok:
			case in.Global || in.Namespace != c.Namespace:
				return Touch{Global: true}, true
			default:
				t.Hub, t.AllHubs = in.Hub, in.AllHubs
			}
		}
		return t, true
	}
	return Touch{Global: true}, true
}

// TouchesSince returns the touches of the commands applied after index after, oldest first
// (the slice is the caller's), and true; false when the journal no longer reaches back to
// after (the state came from a snapshot, or the caller fell more than the journal holds
// behind): then the caller rebuilds from the state.
func (s *State) TouchesSince(after uint64) ([]Touch, bool) {
	j := &s.touched
	if after < j.floor {
		return nil, false
	}
	i := len(j.touches)
	for i > 0 && j.touches[i-1].Index > after {
		i--
	}
	if i == len(j.touches) {
		return nil, true
	}
	out := make([]Touch, len(j.touches)-i)
	copy(out, j.touches[i:])
	return out, true
}
