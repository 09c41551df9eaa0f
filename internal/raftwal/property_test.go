package raftwal

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/crashfs"
)

// model is the reference for one group: raft's own MemoryStorage, plus what MemoryStorage does
// not keep (the ConfState recorded through Update.ConfState).
type model struct {
	ms      *raft.MemoryStorage
	cs      *raftpb.ConfState
	hsSet   bool
	snapSet bool
}

func newModel() *model { return &model{ms: raft.NewMemoryStorage()} }

func (m *model) nonEmpty() bool {
	first, _ := m.ms.FirstIndex()
	last, _ := m.ms.LastIndex()
	return last > 0 || first > 1 || m.hsSet || m.cs != nil || m.snapSet
}

// propHarness drives a WAL and the models with the same random operations.
type propHarness struct {
	t      *testing.T
	seed   uint64
	rnd    *rand.Rand
	fs     *crashfs.FS
	opts   Options
	w      *WAL
	models map[uint64]*model
	term   uint64
	step   int
	trace  []string
}

func (h *propHarness) tracef(format string, args ...any) {
	h.trace = append(h.trace, fmt.Sprintf("%d: ", h.step)+fmt.Sprintf(format, args...))
	if len(h.trace) > 12 {
		h.trace = h.trace[1:]
	}
}

func newEntry(index, term uint64, typ raftpb.EntryType, data []byte) *raftpb.Entry {
	if len(data) == 0 {
		data = nil
	}
	return &raftpb.Entry{Index: &index, Term: &term, Type: &typ, Data: data}
}

func (h *propHarness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("seed %d step %d: %s\nlast operations:\n%s\n%s", h.seed, h.step, fmt.Sprintf(format, args...), strings.Join(h.trace, "\n"), dumpWAL(h.fs, h.opts.Dir))
}

func (h *propHarness) randData() []byte {
	n := h.rnd.IntN(4) * h.rnd.IntN(700)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(h.rnd.Uint32())
	}
	return b
}

func (h *propHarness) randConfState() *raftpb.ConfState {
	return &raftpb.ConfState{Voters: []uint64{1, uint64(h.rnd.IntN(5) + 2)}, Learners: []uint64{uint64(h.rnd.IntN(3) + 10)}}
}

// randEntries returns entries from first, with terms not below the model's term at first-1.
func (h *propHarness) randEntries(m *model, first uint64) []*raftpb.Entry {
	if h.rnd.IntN(4) == 0 {
		h.term++
	}
	ents := make([]*raftpb.Entry, 1+h.rnd.IntN(6))
	for i := range ents {
		ents[i] = newEntry(first+uint64(i), h.term, raftpb.EntryType(h.rnd.IntN(3)), h.randData())
	}
	return ents
}

func (h *propHarness) doStep() {
	gid := uint64(1 + h.rnd.IntN(3))
	m := h.models[gid]
	first, _ := m.ms.FirstIndex()
	last, _ := m.ms.LastIndex()
	switch op := h.rnd.IntN(20); {
	case op < 9: // append, often conflicting, with a HardState / ConfState now and then
		lo := max(int64(first)-2, 1)
		at := uint64(lo + h.rnd.Int64N(int64(last)+2-lo))
		u := Update{Group: gid, Entries: h.randEntries(m, at)}
		if h.rnd.IntN(2) == 0 {
			u.HardState = hardState(h.term, uint64(h.rnd.IntN(3)), uint64(h.rnd.IntN(int(last)+1)))
		}
		if h.rnd.IntN(6) == 0 {
			u.ConfState = h.randConfState()
		}
		h.tracef("g%d append %d..%d term %d", gid, at, at+uint64(len(u.Entries))-1, h.term)
		h.save(u)
		must(h, m.ms.Append(u.Entries))
		h.applyState(m, u)
	case op < 11: // HardStates of two groups in one Save
		other := gid%3 + 1
		olast, _ := h.models[other].ms.LastIndex()
		us := []Update{{Group: gid, HardState: hardState(h.term, 1, last)}, {Group: other, HardState: hardState(h.term, 2, olast)}}
		h.tracef("g%d, g%d HardState", gid, other)
		if err := h.w.Save(us); err != nil {
			h.fatalf("Save: %v", err)
		}
		h.applyState(m, us[0])
		h.applyState(h.models[other], us[1])
	case op < 13:
		h.leaderSnapshot(gid, m, last)
	case op < 15:
		h.stateSnapshot(gid, m, first, last)
	case op < 18: // Release
		idx := min(first+uint64(h.rnd.IntN(int(last-first)+3)), last)
		h.tracef("g%d Release %d", gid, idx)
		h.w.Release(gid, idx)
		if idx >= first {
			must(h, m.ms.Compact(idx))
		}
		if h.rnd.IntN(2) == 0 {
			h.compare("after Release") // visible at once
		}
		if err := h.w.Save(nil); err != nil { // durable, so that a crash after this step must keep it
			h.fatalf("Save(nil): %v", err)
		}
	case op < 19:
		h.tracef("g%d remove", gid)
		if err := h.w.RemoveGroup(gid); err != nil {
			h.fatalf("RemoveGroup: %v", err)
		}
		h.models[gid] = newModel()
	case h.rnd.IntN(2) == 0:
		h.tracef("reopen")
		h.reopen()
	default:
		h.tracef("crash")
		h.crash()
	}
}

// leaderSnapshot saves a snapshot from the leader (resetting the log), with entries after it.
func (h *propHarness) leaderSnapshot(gid uint64, m *model, last uint64) {
	snapIdx := m.snapIndex()
	idx := snapIdx + 1 + uint64(h.rnd.IntN(int(last-min(last, snapIdx))+5))
	h.term++
	snap := &raftpb.Snapshot{Data: h.randData(), Metadata: &raftpb.SnapshotMetadata{
		Index: &idx, Term: new(h.term), ConfState: h.randConfState()}}
	u := Update{Group: gid, Snapshot: snap}
	if h.rnd.IntN(2) == 0 {
		u.Entries = h.randEntries(m, idx+1)
	}
	h.tracef("g%d leader snapshot %d term %d + %d entries", gid, idx, h.term, len(u.Entries))
	h.save(u)
	must(h, m.ms.ApplySnapshot(snap))
	m.cs, m.snapSet = snap.GetMetadata().GetConfState(), true
	must(h, m.ms.Append(u.Entries))
}

// stateSnapshot records a snapshot the state machine made, compacting the log.
func (h *propHarness) stateSnapshot(gid uint64, m *model, first, last uint64) {
	st := h.w.Storage(gid)
	lo := max(first, m.snapIndex()+1)
	if lo > last {
		return
	}
	idx := lo + uint64(h.rnd.IntN(int(last-lo)+1))
	term, _ := m.ms.Term(idx)
	cs, data := h.randConfState(), h.randData()
	snap := &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{Index: &idx, Term: &term, ConfState: cs}}
	h.tracef("g%d SetSnapshot %d term %d", gid, idx, term)
	if err := st.SetSnapshot(snap); err != nil {
		h.fatalf("SetSnapshot(%d): %v", idx, err)
	}
	_, err := m.ms.CreateSnapshot(idx, cs, data)
	must(h, err)
	must(h, m.ms.Compact(idx))
	m.snapSet = true
}

func (m *model) snapIndex() uint64 {
	s, _ := m.ms.Snapshot()
	return s.GetMetadata().GetIndex()
}

func (h *propHarness) applyState(m *model, u Update) {
	if u.ConfState != nil {
		m.cs = u.ConfState
	}
	if !raft.IsEmptyHardState(u.HardState) {
		must(h, m.ms.SetHardState(u.HardState))
		m.hsSet = true
	}
}

func must(h *propHarness, err error) {
	h.t.Helper()
	if err != nil {
		h.fatalf("model: %v", err)
	}
}

func (h *propHarness) save(u Update) {
	h.t.Helper()
	if err := h.w.Save([]Update{u}); err != nil {
		h.fatalf("Save: %v", err)
	}
}

func (h *propHarness) reopen() {
	h.t.Helper()
	if err := h.w.Close(); err != nil {
		h.fatalf("Close: %v", err)
	}
	w, err := Open(h.opts)
	if err != nil {
		h.fatalf("reopen: %v\n%s", err, dumpWAL(h.fs, h.opts.Dir))
	}
	h.w = w
}

// crash drops the WAL as a power loss would (every Save has returned, so everything it wrote
// must survive; segment deletions that GC did not make durable yet may be undone) and opens
// what is left.
func (h *propHarness) crash() {
	h.t.Helper()
	clone := h.fs.CrashClone(crashfs.CrashOptions{Rand: h.rnd})
	if err := h.w.Close(); err != nil {
		h.fatalf("Close: %v", err)
	}
	h.fs, h.opts.FS = clone, clone
	w, err := Open(h.opts)
	if err != nil {
		h.fatalf("open after a crash: %v", err)
	}
	h.w = w
}

// compare checks every group's Storage against its model.
func (h *propHarness) compare(when string) {
	h.t.Helper()
	var want []uint64
	for gid, m := range h.models {
		if m.nonEmpty() {
			want = append(want, gid)
		}
		h.compareGroup(when, gid, m)
	}
	slices.Sort(want)
	if got := h.w.Groups(); !slices.Equal(got, want) {
		h.fatalf("%s: Groups() = %v, want %v", when, got, want)
	}
}

func (h *propHarness) compareGroup(when string, gid uint64, m *model) {
	h.t.Helper()
	st := h.w.Storage(gid)
	first, _ := st.FirstIndex()
	last, _ := st.LastIndex()
	wfirst, _ := m.ms.FirstIndex()
	wlast, _ := m.ms.LastIndex()
	if first != wfirst || last != wlast {
		h.fatalf("%s: group %d: FirstIndex, LastIndex = %d, %d, want %d, %d", when, gid, first, last, wfirst, wlast)
	}
	for i := max(first, 2) - 2; i <= last+1; i++ {
		got, gerr := st.Term(i)
		want, werr := m.ms.Term(i)
		if got != want || !errors.Is(gerr, werr) {
			h.fatalf("%s: group %d: Term(%d) = %d, %v, want %d, %v", when, gid, i, got, gerr, want, werr)
		}
	}
	for range 3 {
		lo := first + uint64(h.rnd.IntN(int(last-first)+2)) - 1
		hi := lo + uint64(h.rnd.IntN(int(last+2-lo)))
		maxSize := uint64(math.MaxUint64)
		if h.rnd.IntN(2) == 0 {
			maxSize = uint64(h.rnd.IntN(3000))
		}
		if lo == 0 || hi > last+1 || hi < lo {
			continue
		}
		got, gerr := st.Entries(lo, hi, maxSize)
		want, werr := m.ms.Entries(lo, hi, maxSize)
		if !errors.Is(gerr, werr) || (werr == nil && gerr != nil) || !sameEntries(got, want) {
			h.fatalf("%s: group %d: Entries(%d, %d, %d) = %d entries, %v, want %d, %v",
				when, gid, lo, hi, maxSize, len(got), gerr, len(want), werr)
		}
	}
	hs, cs, _ := st.InitialState()
	whs, _, _ := m.ms.InitialState()
	if hs.GetTerm() != whs.GetTerm() || hs.GetVote() != whs.GetVote() || hs.GetCommit() != whs.GetCommit() {
		h.fatalf("%s: group %d: HardState %v, want %v", when, gid, hs, whs)
	}
	if !sameConfState(cs, m.cs) {
		h.fatalf("%s: group %d: ConfState %v, want %v", when, gid, cs, m.cs)
	}
	snap, _ := st.Snapshot()
	wsnap, _ := m.ms.Snapshot()
	if snap.GetMetadata().GetIndex() != wsnap.GetMetadata().GetIndex() || snap.GetMetadata().GetTerm() != wsnap.GetMetadata().GetTerm() ||
		string(snap.GetData()) != string(wsnap.GetData()) ||
		!sameConfState(snap.GetMetadata().GetConfState(), wsnap.GetMetadata().GetConfState()) {
		h.fatalf("%s: group %d: Snapshot %v, want %v", when, gid, snap.GetMetadata(), wsnap.GetMetadata())
	}
}

func sameConfState(a, b *raftpb.ConfState) bool {
	return slices.Equal(a.GetVoters(), b.GetVoters()) && slices.Equal(a.GetLearners(), b.GetLearners()) &&
		slices.Equal(a.GetVotersOutgoing(), b.GetVotersOutgoing()) && slices.Equal(a.GetLearnersNext(), b.GetLearnersNext()) &&
		a.GetAutoLeave() == b.GetAutoLeave()
}

func sameEntries(a, b []*raftpb.Entry) bool {
	return slices.EqualFunc(a, b, func(x, y *raftpb.Entry) bool {
		return x.GetIndex() == y.GetIndex() && x.GetTerm() == y.GetTerm() && x.GetType() == y.GetType() &&
			string(x.GetData()) == string(y.GetData())
	})
}

// TestStorageMatchesMemoryStorage drives the WAL and raft.MemoryStorage with the same random
// appends (with conflicts), HardStates, snapshots, Releases and removals, comparing them after
// every step and after every Close and Open (recovery). Small segments make rotation and GC
// happen throughout.
func TestStorageMatchesMemoryStorage(t *testing.T) {
	seeds, steps := 150, 250
	if testing.Short() {
		seeds = 20
	}
	first := uint64(0)
	if v := os.Getenv("RAFTWAL_SEEDS"); v != "" { // "first:count", for long runs by hand
		if _, err := fmt.Sscanf(v, "%d:%d", &first, &seeds); err != nil {
			t.Fatalf("RAFTWAL_SEEDS=%q: want first:count", v)
		}
	}
	for seed := first; seed < first+uint64(seeds); seed++ {
		runProperty(t, seed, steps)
	}
}

func runProperty(t *testing.T, seed uint64, steps int) {
	rnd := rand.New(rand.NewPCG(seed, 0x5eed))
	fsys := crashfs.New()
	opts := Options{Dir: "/wal", FS: fsys, SegmentBytes: int64(2048 + rnd.IntN(8192)), CacheBytes: rnd.IntN(3) * 2000}
	w, err := Open(opts)
	if err != nil {
		t.Fatalf("seed %d: Open: %v", seed, err)
	}
	h := &propHarness{t: t, seed: seed, rnd: rnd, fs: fsys, opts: opts, w: w, models: map[uint64]*model{}, term: 1}
	for gid := uint64(1); gid <= 3; gid++ {
		h.models[gid] = newModel()
	}
	for h.step = 0; h.step < steps; h.step++ {
		h.doStep()
		h.compare("after the step")
	}
	h.reopen()
	h.compare("after recovery")
	if err := h.w.Close(); err != nil {
		t.Fatalf("seed %d: Close: %v", seed, err)
	}
}
