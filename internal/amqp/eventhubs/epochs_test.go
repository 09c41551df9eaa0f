package eventhubs

import (
	"strings"
	"testing"
)

func i64(v int64) *int64 { return &v }

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestEpochSteal(t *testing.T) {
	r := newEpochRegistry(5)
	k := epochKey{ns: "ns", hub: "hub", group: "$Default", partition: 0}
	a, err := r.register(k, "A", i64(0))
	if err != nil {
		t.Fatal(err)
	}
	// Same epoch steals (a restarted processor takes its partition back with epoch 0).
	b, err := r.register(epochKey{ns: "ns", hub: "hub", group: "$default", partition: 0}, "B", i64(0))
	if err != nil {
		t.Fatal(err)
	}
	if !isClosed(a.Stolen()) || a.Reason() == nil || a.Reason().Condition != condStolen {
		t.Fatalf("A was not stolen by B: %v", a.Reason())
	}
	for _, want := range []string{"'B'", "'A'", "epoch of '0'"} {
		if !strings.Contains(a.Reason().Description, want) {
			t.Errorf("stolen text %q does not contain %s", a.Reason().Description, want)
		}
	}
	// Higher steals.
	c, err := r.register(k, "C", i64(3))
	if err != nil || !isClosed(b.Stolen()) {
		t.Fatalf("C (epoch 3) did not steal from B: %v", err)
	}
	// Lower is refused and steals nothing.
	if _, err := r.register(k, "D", i64(2)); err == nil || err.Condition != condStolen || !strings.Contains(err.Description, "'C'") {
		t.Fatalf("lower epoch: %v", err)
	}
	if isClosed(c.Stolen()) {
		t.Fatal("a refused receiver stole the partition")
	}
	// Non-epoch refused while an epoch receiver exists.
	if _, err := r.register(k, "E", nil); err == nil || err.Condition != condStolen {
		t.Fatalf("non-epoch beside an epoch receiver: %v", err)
	}
	r.unregister(k, c)
	if n := r.count(k); n != 0 {
		t.Fatalf("%d receivers left after the last closed", n)
	}
	// Other partitions and groups are independent.
	if _, err := r.register(epochKey{ns: "ns", hub: "hub", group: "$default", partition: 1}, "F", nil); err != nil {
		t.Fatal(err)
	}
}

func TestNonEpochQuota(t *testing.T) {
	r := newEpochRegistry(5)
	k := epochKey{ns: "ns", hub: "hub", group: "g", partition: 2}
	var es []*receiverEntry
	for i := 0; i < 5; i++ {
		e, err := r.register(k, string(rune('a'+i)), nil)
		if err != nil {
			t.Fatalf("receiver %d: %v", i, err)
		}
		es = append(es, e)
	}
	_, err := r.register(k, "sixth", nil)
	if err == nil || err.Condition != condResourceLimit || !strings.Contains(err.Description, "which is 5") || !strings.Contains(err.Description, "a, b, c, d, e") {
		t.Fatalf("6th non-epoch receiver: %v", err)
	}
	r.unregister(k, es[0])
	if _, err := r.register(k, "sixth", nil); err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	// An epoch receiver disconnects every non-epoch one.
	if _, err := r.register(k, "owner", i64(0)); err != nil {
		t.Fatal(err)
	}
	for i, e := range es[1:] {
		if !isClosed(e.Stolen()) || !strings.Contains(e.Reason().Description, "epoch 'none'") {
			t.Errorf("non-epoch receiver %d not disconnected by the epoch receiver", i+1)
		}
	}
}
