package meta

import "github.com/tandem-streaming/tandem/internal/errcode"

// newEntries wraps a batch of new commands as entries without indexes (the store assigns them).
func newEntries(cmds []Command) ([]Entry, error) {
	entries := make([]Entry, len(cmds))
	for i, c := range cmds {
		if c == nil {
			return nil, errcode.New(errcode.InvalidArgument, "metadata command %d of the batch is nil", i)
		}
		entries[i] = Entry{Command: c}
	}
	return entries, nil
}

// checkGiven checks entries produced elsewhere (by a geo-DR primary): each needs its index and
// its command.
func checkGiven(entries []Entry) error {
	for _, e := range entries {
		if e.Index == 0 || e.Command == nil {
			return errcode.New(errcode.InvalidArgument,
				"a replicated metadata entry needs an index and a command; got index %d", e.Index)
		}
	}
	return nil
}
