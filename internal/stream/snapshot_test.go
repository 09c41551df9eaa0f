package stream

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// A job restarted from a snapshot emits exactly the rows that one that never stopped emits
// after that point: the snapshot holds the whole state. Each run snapshots at random points,
// throws the engine away and continues with a new engine restored from the bytes.
func TestSnapshotRestoreContinues(t *testing.T) {
	for name, q := range determinismQueries {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(6) {
				r := rand.New(rand.NewPCG(seed, 11))
				evs := arrange(r, genEvents(r, 200+r.IntN(100)), 3)
				want, _ := runEvents(t, q, evs, 3)
				got := runWithRestarts(t, q, evs, 3, r)
				if d := firstDifference(want, got); d != "" {
					t.Fatalf("seed %d: %s", seed, d)
				}
			}
		})
	}
}

func runWithRestarts(t *testing.T, q string, evs []Event, parts int, r *rand.Rand) []Row {
	ps := make([]int32, parts)
	for i := range ps {
		ps[i] = int32(i)
	}
	opts := Options{OutOfOrder: determinismTolerance, LateArrival: 2 * determinismTolerance, Partitions: map[string][]int32{"input": ps}}
	e, err := Compile(q, opts)
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	for i, ev := range evs {
		out, err := e.Push(ev)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, out...)
		if r.IntN(40) == 0 || i == len(evs)/2 {
			snap := e.Snapshot()
			if e, err = Compile(q, opts); err != nil {
				t.Fatal(err)
			}
			if err := e.Restore(snap); err != nil {
				t.Fatalf("restore after event %d: %v", i, err)
			}
			if again := e.Snapshot(); string(again) != string(snap) {
				t.Fatalf("after event %d: a restored engine's snapshot differs from the one it loaded", i)
			}
		}
	}
	out, err := e.Flush()
	if err != nil {
		t.Fatal(err)
	}
	return append(rows, out...)
}

func TestRestoreRefusesAnotherQuery(t *testing.T) {
	a, _ := Compile("SELECT * FROM input", Options{})
	b, _ := Compile("SELECT k FROM input", Options{})
	if err := b.Restore(a.Snapshot()); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("got %v", err)
	}
	c, _ := Compile("SELECT * FROM input", Options{OutOfOrder: time.Second})
	if err := c.Restore(a.Snapshot()); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("other options: got %v", err)
	}
}

// FuzzRestore: a corrupt snapshot is an error, never a panic.
func FuzzRestore(f *testing.F) {
	q := determinismQueries["session"]
	r := rand.New(rand.NewPCG(1, 2))
	evs := arrange(r, genEvents(r, 60), 2)
	e, _ := Compile(q, Options{Partitions: map[string][]int32{"input": {0, 1}}})
	for i, ev := range evs {
		e.Push(ev)
		if i%20 == 0 {
			f.Add(e.Snapshot())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, _ := Compile(q, Options{Partitions: map[string][]int32{"input": {0, 1}}})
		if err := e.Restore(b); err != nil && !errors.Is(err, ErrSnapshot) {
			t.Fatalf("error does not wrap ErrSnapshot: %v", err)
		}
	})
}
