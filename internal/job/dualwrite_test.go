package job

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestDedupWindow(t *testing.T) {
	d := newDedup(time.Second) // 1e7 ticks
	if !d.fresh("a", 100) || d.fresh("a", 100) || d.fresh("a", 5e6) {
		t.Fatal("a repeat within the window must be dropped")
	}
	if !d.fresh("b", 200) {
		t.Fatal("a new id is fresh")
	}
	// 2 s later, a and b are out of the window: a repeat of them passes (the documented limit).
	if !d.fresh("c", 2e7+300) || !d.fresh("a", 2e7+400) {
		t.Fatal("ids older than the window are forgotten")
	}
	if len(d.seen) != 2 || len(d.order) != 2 {
		t.Fatalf("remembered %d ids (%d in order), want c and a", len(d.seen), len(d.order))
	}
}

func TestDedupStateRoundTrip(t *testing.T) {
	d := newDedup(time.Minute)
	for i := range 1000 {
		d.fresh(fmt.Sprintf("p-%d", i), int64(i)*1e6)
	}
	st := d.appendState(nil)
	r := newDedup(time.Minute)
	if err := r.restore(st); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.appendState(nil), st) {
		t.Fatal("a restored state encodes differently")
	}
	for i := range 1000 {
		// The window reaches back to 999e6 - 6e8 ticks: ids 399 and later are remembered.
		if remembered := i >= 399; r.fresh(fmt.Sprintf("p-%d", i), int64(i)*1e6) == remembered {
			t.Fatalf("id %d: remembered after restore = %v, want %v", i, !remembered, remembered)
		}
	}
}

func FuzzDedupRestore(f *testing.F) {
	d := newDedup(time.Minute)
	d.fresh("x", 1)
	d.fresh("y", 2)
	f.Add(d.appendState(nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newDedup(time.Minute)
		if err := r.restore(b); err != nil {
			return
		}
		if got := r.appendState(nil); !bytes.Equal(got, b) {
			// Varints have several encodings; a state that decodes must at least re-decode equal.
			s := newDedup(time.Minute)
			if err := s.restore(got); err != nil || len(s.order) != len(r.order) {
				t.Fatalf("re-encoding a decoded state does not decode the same: %v", err)
			}
		}
	})
}
