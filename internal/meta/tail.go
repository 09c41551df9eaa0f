package meta

import (
	"sort"
	"sync"
)

// entryTail holds the most recent applied entries (at most tailSize, oldest first) so followers
// that keep up read them from memory.
type entryTail struct {
	mu      sync.RWMutex
	entries []Entry
}

func (t *entryTail) add(entries []Entry) {
	if len(entries) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries = append(t.entries, entries...)
	if len(t.entries) > 2*tailSize {
		t.entries = append([]Entry(nil), t.entries[len(t.entries)-tailSize:]...)
	}
}

func (t *entryTail) reset() {
	t.mu.Lock()
	t.entries = nil
	t.mu.Unlock()
}

// read returns the entries after after up to committed and max, and whether the tail reaches
// back far enough.
func (t *entryTail) read(after, committed uint64, max int) ([]Entry, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.entries) == 0 || t.entries[0].Index > after+1 {
		return nil, false
	}
	i := sort.Search(len(t.entries), func(i int) bool { return t.entries[i].Index > after })
	var out []Entry
	for _, e := range t.entries[i:] {
		if e.Index > committed || (max > 0 && len(out) >= max) {
			break
		}
		out = append(out, e)
	}
	return out, true
}
