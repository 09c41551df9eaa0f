package meta

import (
	"reflect"
	"testing"
)

// TestTouchesSince checks the journal: what each command touched, commands that touch nothing
// derived left out, the caller's position honoured, and a state from a snapshot (or a caller
// further behind than the journal holds) told to rebuild.
func TestTouchesSince(t *testing.T) {
	s := baseState(t) // indexes 1-5: namespace, hub, group, commit, hub policy
	got, ok := s.TouchesSince(0)
	want := []Touch{
		{Index: 1, Namespace: ns, Settings: true, AllHubs: true},
		{Index: 2, Namespace: ns, Hub: "orders"},
		{Index: 3, Namespace: ns, Hub: "orders"},
		{Index: 5, Namespace: ns, Hub: "orders"},
	}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("TouchesSince(0) = %+v, %v; want %+v", got, ok, want)
	}
	if got, ok := s.TouchesSince(3); !ok || !reflect.DeepEqual(got, want[3:]) {
		t.Fatalf("TouchesSince(3) = %+v, %v", got, ok)
	}
	if got, ok := s.TouchesSince(5); !ok || len(got) != 0 {
		t.Fatalf("TouchesSince(5) = %+v, %v; want nothing", got, ok)
	}

	snap, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := UnmarshalSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.TouchesSince(4); ok {
		t.Fatal("a state from a snapshot claims to know what the commands before it touched")
	}
	if got, ok := r.TouchesSince(5); !ok || len(got) != 0 {
		t.Fatalf("snapshot state: TouchesSince(its index) = %+v, %v", got, ok)
	}

	idx := s.Index()
	for i := range 3 * touchCap {
		idx++
		if err := s.Apply(idx, UpdateHub{Namespace: ns, Hub: "orders", MaxEventBytes: int32(2048 + i), Time: t1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.TouchesSince(5); ok {
		t.Fatal("a caller further behind than the journal holds is not told to rebuild")
	}
	if got, ok := s.TouchesSince(idx - 10); !ok || len(got) != 10 || got[9].Index != idx {
		t.Fatalf("TouchesSince(last-10) = %d touches, %v", len(got), ok)
	}
}

// TestTouchOfKnowsEveryCommand: a command type the journal does not list asks readers for a
// full rebuild (correct but slow); every command this package defines is listed.
func TestTouchOfKnowsEveryCommand(t *testing.T) {
	for _, typ := range CommandTypes() {
		c, err := decoders[typ]([]byte(`{}`))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if tc, _ := touchOf(c); tc.Global {
			t.Errorf("touchOf does not know %s: add it to meta/touch.go (or readers rebuild their index after every one)", typ)
		}
	}
}
