package meta

import (
	"sort"
	"sync"
)

// entryTail holds the most recent applied entries (at most tailSize, oldest first, and about
// tailBytes) so followers that keep up read them from memory; older entries are read from the
// log.
type entryTail struct {
	mu      sync.RWMutex
	entries []Entry
	bytes   int // entrySize of the entries held
}

// tailBytes bounds the memory of the tail: a stream job's checkpoint (up to 4 MiB, every
// second) would otherwise make tailSize entries gigabytes.
const tailBytes = 64 << 20

// entrySize estimates the memory an entry holds: job checkpoints carry their state, other
// commands are small.
func entrySize(e Entry) int {
	if c, ok := e.Command.(SaveJobCheckpoint); ok {
		return 256 + len(c.Data)
	}
	return 256
}

func (t *entryTail) add(entries []Entry) {
	if len(entries) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries = append(t.entries, entries...)
	for _, e := range entries {
		t.bytes += entrySize(e)
	}
	drop := 0
	if len(t.entries) > 2*tailSize {
		drop = len(t.entries) - tailSize
	}
	for _, e := range t.entries[:drop] {
		t.bytes -= entrySize(e)
	}
	for t.bytes > tailBytes && drop < len(t.entries)-1 { // the newest entry always stays
		t.bytes -= entrySize(t.entries[drop])
		drop++
	}
	if drop > 0 {
		t.entries = append([]Entry(nil), t.entries[drop:]...)
	}
}

func (t *entryTail) reset() {
	t.mu.Lock()
	t.entries, t.bytes = nil, 0
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
