package meta

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// TestJobLeaseAndFencing walks a job's lease through acquisition, renewal, a competing
// node, expiry, takeover and the former holder's late checkpoint.
func TestJobLeaseAndFencing(t *testing.T) {
	s := NewState()
	idx := uint64(0)
	apply := func(c Command) error {
		idx++
		if err := s.Apply(idx, c); err != nil {
			idx--
			return err
		}
		return nil
	}
	def := json.RawMessage(`{"spec":{"name":"Counter"}}`)
	ttl := 10 * time.Second
	acq := func(node uint64, now time.Time) AcquireJobLease {
		return AcquireJobLease{Name: "counter", Node: node, Now: now, Expires: now.Add(ttl)}
	}
	steps := []struct {
		name string
		cmd  Command
		code errcode.Code // "" means it applies
		node uint64       // then the lease holder (0: none)
		seq  uint64
	}{
		{"lease of a missing job", acq(1, t0), errcode.NotFound, 0, 0},
		{"create", PutJob{Name: "Counter", Definition: def, Create: true, Time: t0}, "", 0, 0},
		{"create again (other case)", PutJob{Name: "counter", Definition: def, Create: true, Time: t0}, errcode.AlreadyExists, 0, 0},
		{"node 1 takes the free lease", acq(1, t0), "", 1, 1},
		{"node 2 cannot take it before expiry", acq(2, t0.Add(9*time.Second)), errcode.Conflict, 1, 1},
		{"node 1 checkpoints", SaveJobCheckpoint{Name: "counter", Node: 1, Seq: 1, Data: []byte("ck1")}, "", 1, 1},
		{"node 1 renews (same seq)", acq(1, t0.Add(5*time.Second)), "", 1, 1},
		{"node 2 still refused before the renewed expiry", acq(2, t0.Add(12*time.Second)), errcode.Conflict, 1, 1},
		{"node 2 takes it after expiry", acq(2, t0.Add(15*time.Second)), "", 2, 2},
		{"node 1's late checkpoint is fenced", SaveJobCheckpoint{Name: "counter", Node: 1, Seq: 1, Data: []byte("late")}, errcode.Conflict, 2, 2},
		{"node 1 cannot release a lease it lost", ReleaseJobLease{Name: "counter", Node: 1, Seq: 1}, errcode.Conflict, 2, 2},
		{"node 2 checkpoints", SaveJobCheckpoint{Name: "counter", Node: 2, Seq: 2, Number: 2, Data: []byte("ck2")}, "", 2, 2},
		{"a late copy of an earlier checkpoint is refused", SaveJobCheckpoint{Name: "counter", Node: 2, Seq: 2, Number: 1, Data: []byte("ck1")}, errcode.AlreadyExists, 2, 2},
		{"a repeated copy is refused", SaveJobCheckpoint{Name: "counter", Node: 2, Seq: 2, Number: 2, Data: []byte("ck2")}, errcode.AlreadyExists, 2, 2},
		{"too big a checkpoint", SaveJobCheckpoint{Name: "counter", Node: 2, Seq: 2, Data: make([]byte, MaxJobCheckpointBytes+1)}, errcode.InvalidArgument, 2, 2},
		{"a lease too long", AcquireJobLease{Name: "counter", Node: 2, Now: t0, Expires: t0.Add(time.Hour)}, errcode.InvalidArgument, 2, 2},
		{"node 2 releases", ReleaseJobLease{Name: "counter", Node: 2, Seq: 2}, "", 0, 0},
		{"node 1 takes the free lease: a new seq", acq(1, t0.Add(16*time.Second)), "", 1, 3},
		{"restart revokes the lease", PutJob{Name: "counter", Definition: def, Restart: true, Time: t0}, "", 0, 0},
		{"the revoked holder's checkpoint is fenced", SaveJobCheckpoint{Name: "counter", Node: 1, Seq: 3, Data: []byte("x")}, errcode.Conflict, 0, 0},
	}
	for _, st := range steps {
		err := apply(st.cmd)
		if st.code == "" && err != nil || st.code != "" && !errcode.Is(err, st.code) {
			t.Fatalf("%s: got %v, want %q", st.name, err, st.code)
		}
		j, _ := s.Job("counter")
		var node, seq uint64
		if j.Lease != nil {
			node, seq = j.Lease.Node, j.Lease.Seq
		}
		if node != st.node || seq != st.seq {
			t.Fatalf("%s: lease of node %d seq %d, want node %d seq %d", st.name, node, seq, st.node, st.seq)
		}
		if st.name == "node 2 checkpoints" && string(j.Checkpoint) != "ck2" {
			t.Fatalf("checkpoint %q", j.Checkpoint)
		}
	}
	j, _ := s.Job("counter")
	if j.Checkpoint != nil || j.Name != "Counter" || j.Version != idx {
		t.Fatalf("after restart (index %d): %+v", idx, j)
	}
	// Conditional changes: a stale version (or the second copy of a change) is refused.
	stale := PutJob{Name: "counter", Definition: def, IfVersion: j.Version, Time: t0}
	if err := apply(stale); err != nil {
		t.Fatal(err)
	}
	if err := apply(stale); !errcode.Is(err, errcode.Conflict) {
		t.Fatalf("a put at a stale version: %v", err)
	}
	if err := apply(DeleteJob{Name: "counter", IfVersion: j.Version}); !errcode.Is(err, errcode.Conflict) {
		t.Fatalf("a delete at a stale version: %v", err)
	}
	if err := apply(DeleteJob{Name: "COUNTER"}); err != nil || len(s.JobNames()) != 0 {
		t.Fatalf("delete: %v, %v", err, s.JobNames())
	}
}

func TestJobCheckpointLimitMessage(t *testing.T) {
	s := NewState()
	s.Apply(1, PutJob{Name: "j", Definition: json.RawMessage(`{}`), Create: true, Time: t0})
	s.Apply(2, AcquireJobLease{Name: "j", Node: 1, Now: t0, Expires: t0.Add(time.Second)})
	err := s.Apply(3, SaveJobCheckpoint{Name: "j", Node: 1, Seq: 1, Data: make([]byte, MaxJobCheckpointBytes+1)})
	if err == nil || !strings.Contains(err.Error(), "4 MiB") {
		t.Fatalf("got %v, want an error naming the 4 MiB limit", err)
	}
}

func TestJobsNotReplicatedAndInSnapshot(t *testing.T) {
	for _, c := range []Command{PutJob{}, DeleteJob{}, AcquireJobLease{}, ReleaseJobLease{}, SaveJobCheckpoint{}} {
		if Replicable(c) || !IsJobCommand(c) {
			t.Fatalf("%s: Replicable %v", c.Type(), Replicable(c))
		}
	}
	s := NewState()
	plain, _ := s.MarshalSnapshot()
	if !bytes.HasPrefix(plain, []byte(`{"v":1,`)) {
		t.Fatalf("a state without jobs changed its snapshot: %s", plain)
	}
	s.Apply(1, PutJob{Name: "j", Definition: json.RawMessage(`{"a":1}`), Create: true, Time: t0})
	s.Apply(2, AcquireJobLease{Name: "j", Node: 3, Now: t0, Expires: t0.Add(time.Second)})
	s.Apply(3, SaveJobCheckpoint{Name: "j", Node: 3, Seq: 1, Data: []byte{0, 1, 2}})
	b, err := s.MarshalSnapshot()
	if err != nil || !bytes.HasPrefix(b, []byte(`{"v":3,`)) {
		t.Fatalf("snapshot %s: %v", b, err)
	}
	s2, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	j, ok := s2.Job("j")
	if !ok || !bytes.Equal(j.Checkpoint, []byte{0, 1, 2}) || j.Lease.Node != 3 || j.Leases != 1 {
		t.Fatalf("restored job %+v", j)
	}
	b2, _ := s2.MarshalSnapshot()
	if !bytes.Equal(b, b2) {
		t.Fatalf("snapshot not stable:\n%s\n%s", b, b2)
	}
	if _, err := UnmarshalSnapshot(bytes.Replace(b, []byte(`{"v":3,`), []byte(`{"v":2,`), 1)); !errcode.Is(err, errcode.CorruptData) {
		t.Fatalf("jobs in a version 2 snapshot: %v", err)
	}
}
