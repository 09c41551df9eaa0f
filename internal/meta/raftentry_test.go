package meta

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

func mustEncodeProposal(t testing.TB, p raftProposal) []byte {
	t.Helper()
	b, err := encodeRaftProposal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRaftProposalRoundTrip(t *testing.T) {
	cases := []raftProposal{
		{kind: proposeNew, token: 1, entries: []Entry{{Command: baseCommands()[0]}}},
		{kind: proposeNew, token: 0, entries: entriesOf(allCommands())},
		{kind: proposeGiven, token: 1 << 63, entries: []Entry{{Index: 7, Command: DeleteHub{Namespace: ns, Hub: "x"}}, {Index: 1 << 40, Command: DeleteNamespace{Namespace: ns}}}},
		{kind: proposeNew, token: 5},
	}
	for i, p := range cases {
		b := mustEncodeProposal(t, p)
		got, err := decodeRaftProposal(b)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got.kind != p.kind || got.token != p.token || entriesJSON(t, got.entries) != entriesJSON(t, p.entries) {
			t.Fatalf("case %d: got %+v, want %+v", i, got, p)
		}
	}
	good := mustEncodeProposal(t, cases[0])
	bad := map[string]struct {
		b    []byte
		code errcode.Code
	}{
		"empty":        {nil, errcode.CorruptData},
		"newer":        {append([]byte{2}, good[1:]...), errcode.UnsupportedVersion},
		"kind":         {append([]byte{1, 9}, good[2:]...), errcode.UnsupportedVersion},
		"no token":     {good[:5], errcode.CorruptData},
		"cut":          {good[:len(good)-1], errcode.CorruptData},
		"trailing":     {append(bytes.Clone(good), 0), errcode.CorruptData},
		"huge count":   {append(bytes.Clone(good[:10]), 0xff, 0xff, 0x03), errcode.CorruptData},
		"unknown type": {mustEncodeProposal(t, raftProposal{kind: proposeNew}), ""},
	}
	for name, c := range bad {
		_, err := decodeRaftProposal(c.b)
		if c.code == "" {
			continue
		}
		if !errcode.Is(err, c.code) {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
}

func entriesOf(cmds []Command) []Entry {
	out := make([]Entry, len(cmds))
	for i, c := range cmds {
		out[i] = Entry{Command: c}
	}
	return out
}

func FuzzDecodeRaftProposal(f *testing.F) {
	f.Add(mustEncodeProposal(f, raftProposal{kind: proposeNew, token: 3, entries: entriesOf(baseCommands())}))
	f.Add(mustEncodeProposal(f, raftProposal{kind: proposeGiven, entries: []Entry{{Index: 9, Command: DeleteNamespace{Namespace: ns}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeRaftProposal(b)
		if err != nil {
			return
		}
		b2, err := encodeRaftProposal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := decodeRaftProposal(b2)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if b3, _ := encodeRaftProposal(p2); !bytes.Equal(b2, b3) {
			t.Fatal("encoding is not stable")
		}
	})
}

// noRaft is the RaftGroup of a store driven directly through its StateMachine: nothing is
// proposed through it.
type noRaft struct{}

func (noRaft) ProposeForward(context.Context, uint64, []byte) (uint64, error) {
	return 0, &multiraft.NotLeaderError{Group: metaGroup}
}
func (noRaft) Propose(context.Context, uint64, []byte) (uint64, error) {
	return 0, &multiraft.NotLeaderError{Group: metaGroup}
}
func (noRaft) ReadIndex(context.Context, uint64) (uint64, error) {
	return 0, &multiraft.NotLeaderError{Group: metaGroup}
}
func (noRaft) Confirmed(uint64) bool { return false }

func openRaftDirect(t *testing.T, dir string, every int) *RaftStore {
	t.Helper()
	s, err := OpenRaft(RaftStoreOptions{Dir: dir, Group: metaGroup, Raft: noRaft{}, CheckpointEvery: every, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// raftEntries is a raft log of the metadata group: a leader's no-op, a conf change, new
// commands (one batch whose second command fails at apply), entries with given indexes, and
// a proposal refused at apply.
func raftEntries(t *testing.T) []multiraft.Entry {
	var out []multiraft.Entry
	add := func(kind multiraft.EntryKind, data []byte) {
		out = append(out, multiraft.Entry{Index: uint64(len(out) + 1), Term: 1, Kind: kind, Data: data})
	}
	add(multiraft.EntryNormal, nil) // the leader's empty entry
	add(multiraft.EntryConfChange, nil)
	add(multiraft.EntryNormal, mustEncodeProposal(t, raftProposal{kind: proposeNew, token: 11, entries: entriesOf(baseCommands())}))
	for i := range 12 {
		add(multiraft.EntryNormal, mustEncodeProposal(t, raftProposal{kind: proposeNew, entries: []Entry{{Command: CreateHub{Namespace: ns, Hub: fmt.Sprintf("h%d", i), Time: t0}}}}))
		if i%5 == 0 {
			add(multiraft.EntryNormal, nil)
		}
	}
	add(multiraft.EntryNormal, mustEncodeProposal(t, raftProposal{kind: proposeNew, entries: []Entry{
		{Command: CreateHub{Namespace: ns, Hub: "x", Time: t0}}, {Command: CreateHub{Namespace: ns, Hub: "x", Time: t1}},
		{Command: CreateHub{Namespace: ns, Hub: "never", Time: t1}}}}))
	add(multiraft.EntryNormal, mustEncodeProposal(t, raftProposal{kind: proposeNew, entries: []Entry{{Command: DeleteHub{Namespace: ns, Hub: "missing"}}}}))
	add(multiraft.EntryNormal, mustEncodeProposal(t, raftProposal{kind: proposeGiven, entries: []Entry{{Index: 100, Command: DeleteHub{Namespace: ns, Hub: "h3"}}}}))
	add(multiraft.EntryNormal, mustEncodeProposal(t, raftProposal{kind: proposeGiven, entries: []Entry{{Index: 50, Command: DeleteHub{Namespace: ns, Hub: "h4"}}}}))
	add(multiraft.EntryNormal, mustEncodeProposal(t, raftProposal{kind: proposeNew, entries: []Entry{{Command: DeleteHub{Namespace: ns, Hub: "h5"}}}}))
	return out
}

// TestRaftStateMachineDeterministic feeds the same raft entries to two stores, in different
// slicings: they end with identical state and logs; no-ops, conf changes and failed commands
// take no metadata index; the proposer's waiter gets its result.
func TestRaftStateMachineDeterministic(t *testing.T) {
	ents := raftEntries(t)
	a, b := openRaftDirect(t, t.TempDir(), 1000), openRaftDirect(t, t.TempDir(), 1000)
	defer a.Close()
	defer b.Close()
	ch := make(chan proposalResult, 1)
	a.pending[11] = &waiter{ch: ch, data: ents[2].Data} // the entry carrying token 11
	for _, e := range ents {
		if err := a.StateMachine().Apply([]multiraft.Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.StateMachine().Apply(ents); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r.err != nil || r.index != uint64(len(baseCommands())) {
		t.Fatalf("proposer's result %+v", r)
	}
	sa, _ := a.Snapshot()
	sb, _ := b.Snapshot()
	if !bytes.Equal(sa, sb) {
		t.Fatalf("states differ:\n%s\n%s", sa, sb)
	}
	want := uint64(len(baseCommands()) + 12 + 1) // the batch applies its first command only
	la, err := a.ReadFrom(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := b.ReadFrom(0, 0)
	if entriesJSON(t, la) != entriesJSON(t, lb) || uint64(len(la)) != want+2 {
		t.Fatalf("logs differ or have %d entries (want %d):\n%s\n%s", len(la), want+2, entriesJSON(t, la), entriesJSON(t, lb))
	}
	for i, e := range la[:want] {
		if e.Index != uint64(i+1) {
			t.Fatalf("entry %d has index %d: new commands must take dense indexes", i, e.Index)
		}
	}
	// The given index 100 is taken as it is, the given 50 (not after 100) fails, and the next
	// new command follows 100.
	if la[want].Index != 100 || la[want+1].Index != 101 || a.Index() != 101 || a.StateMachine().Applied() != uint64(len(ents)) {
		t.Fatalf("given index: %d, then %d, store at %d, raft applied %d", la[want].Index, la[want+1].Index, a.Index(), a.StateMachine().Applied())
	}
}

// TestRaftStoreReopenFromCheckpoint: a store killed after applying raft entries reopens at its
// newest checkpoint (not the end), cuts its applied log back to it, and the entries after it,
// applied again, give the state and log of a store that never stopped.
func TestRaftStoreReopenFromCheckpoint(t *testing.T) {
	ents := raftEntries(t)
	ref := openRaftDirect(t, t.TempDir(), 1000)
	defer ref.Close()
	if err := ref.StateMachine().Apply(ents); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := openRaftDirect(t, dir, 5)
	for _, e := range ents {
		if err := s.StateMachine().Apply([]multiraft.Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	ckpt := newestCheckpoint(t, dir)
	s.crashForTest()
	if ckpt == 0 || ckpt >= uint64(len(ents)) {
		t.Fatalf("checkpoint at %d of %d entries", ckpt, len(ents))
	}
	s = openRaftDirect(t, dir, 5)
	defer s.Close()
	if got := s.StateMachine().Applied(); got != ckpt {
		t.Fatalf("reopened at raft index %d, want %d", got, ckpt)
	}
	// The host hands over entries from its own applied point; the store skips what it holds.
	if err := s.StateMachine().Apply(ents); err != nil {
		t.Fatal(err)
	}
	want, _ := ref.Snapshot()
	got, _ := s.Snapshot()
	if !bytes.Equal(want, got) {
		t.Fatalf("state after reopen differs:\n%s\n%s", got, want)
	}
	lr, _ := ref.ReadFrom(0, 0)
	from := s.segs[0].first - 1
	ls, err := s.ReadFrom(from, 0)
	if err != nil {
		t.Fatal(err)
	}
	if entriesJSON(t, ls) != entriesJSON(t, lr[from:]) {
		t.Fatalf("log after reopen differs:\n%s\n%s", entriesJSON(t, ls), entriesJSON(t, lr[from:]))
	}
}

// TestOpenRaftRefusesStoreDir: OpenRaft does not take over (and cut) a single-node Store's
// directory, and a new directory gets the empty state's checkpoint.
func TestOpenRaftRefusesStoreDir(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	proposeHubs(t, s, 0, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRaft(RaftStoreOptions{Dir: dir, Raft: noRaft{}, Logger: quietLogger()}); !errcode.Is(err, errcode.Conflict) {
		t.Fatalf("OpenRaft on a Store directory: %v", err)
	}
	s = openStore(t, dir, 0)
	if s.Index() != uint64(len(baseCommands())+3) {
		t.Fatalf("the Store lost entries: index %d", s.Index())
	}
	_ = s.Close()
	fresh := t.TempDir()
	r := openRaftDirect(t, fresh, 0)
	if newestCheckpoint(t, fresh) != 0 {
		t.Fatal("no checkpoint of the empty state")
	}
	r.crashForTest()
	r = openRaftDirect(t, fresh, 0)
	_ = r.Close()
}
