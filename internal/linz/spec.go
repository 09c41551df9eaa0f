package linz

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Deviations are answers an implementation gave that a sequential event hub would not: known
// findings, each named after the handler that gave it, so a check can pass while they are
// being fixed. All three are fixed (the handlers answer from their own write, via
// meta.Backend.ProposeView); the e2e check uses the zero Deviations, the API's promise, and
// only the unit tests here still use the flags, to show the model tells each apart.
type Deviations struct {
	// PutHubReread: PUT hub (httpapi putHub) reads whether the hub exists, then creates or
	// updates it, then reads it again for its answer. A delete between the steps makes it
	// answer 404, with or without having taken effect; a concurrent PUT shows its partition
	// count in the answer. The model cannot tell whether a delete raced the PUT: with this
	// flag a PUT hub may answer 404 at a point where the hub is absent, with or without
	// creating it.
	PutHubReread bool
	// PutGroupReread: PUT consumer group (putGroup) answers an existing group from a second
	// read; a delete in between makes it answer 404 after creating the group. With this flag
	// a PUT group may answer 404 at a point where the group is absent, with or without
	// creating it.
	PutGroupReread bool
	// PutCheckpointReread: PUT checkpoint (putCheckpoint) checks the group, commits, then reads
	// the checkpoints for its answer: the offset answered may be a concurrent writer's, a 404
	// may come after the commit took effect (a delete of the group or hub before the re-read),
	// and a commit that races a group delete recreates the group (empty user metadata) with
	// the checkpoint, as a Kafka offset commit does.
	PutCheckpointReread bool
}

// All is every known deviation.
var All = Deviations{PutHubReread: true, PutGroupReread: true, PutCheckpointReread: true}

// Spec is a sequential specification to check histories against: Apply (nil: the package's
// Apply) with the deviations allowed. Tests of the checker give it a wrong Apply.
type Spec struct {
	Deviations
	Apply func(State, Input) (Output, State)
}

// Model is the porcupine model of the spec, partitioned by hub; every hub starts absent.
func (sp Spec) Model() porcupine.Model {
	if sp.Apply == nil {
		sp.Apply = Apply
	}
	m := porcupine.NondeterministicModel{
		Partition:         partition,
		Init:              func() []any { return []any{State{}} },
		Step:              func(s, in, out any) []any { return sp.step(s.(State), in.(Input), out.(Output)) },
		Equal:             equal,
		Hash:              hash,
		DescribeOperation: func(in, out any) string { return fmt.Sprintf("%v → %v", in, out) },
		DescribeState:     func(s any) string { return s.(State).String() },
	}
	return m.ToModel()
}

// step returns the states the call may leave when linearized at s with answer out; none when
// it cannot be. A call without an answer (Unknown) is taken with its effect: porcupine places
// its return at infinity, so "it never happened" is the linearization that puts it last.
func (sp Spec) step(s State, in Input, out Output) []any {
	want, next := sp.Apply(s, in)
	switch {
	case out.Result == Unknown || out == want:
		return []any{next}
	case sp.PutHubReread && in.Kind == CreateHub:
		if out.Result == NotFound && !s.Exists {
			return []any{s, next} // it may have created the hub that a racing delete removed
		}
		if out.Result == want.Result {
			return []any{next} // the partition count answered is a later read's
		}
	case sp.PutGroupReread && in.Kind == CreateGroup && out.Result == NotFound && s.Exists:
		if _, ok := s.group(in.Group); !ok {
			return []any{s, next} // it may have created the group that a racing delete removed
		}
	case sp.PutCheckpointReread && in.Kind == SetCheckpoint:
		return sp.checkpointReread(s, in, out, want, next)
	}
	return nil
}

func (sp Spec) checkpointReread(s State, in Input, out, want Output, next State) []any {
	switch {
	case out.Result == OK && want.Result == OK:
		return []any{next} // the offset answered is a later read's
	case out.Result == NotFound && want.Result == OK:
		return []any{s, next} // committed, then a delete made the re-read fail
	case out.Result == OK && want.Result == NotFound && s.Exists:
		// the group was deleted after the handler's check: the commit recreates it
		_, with := sp.Apply(s, Input{Kind: CreateGroup, Hub: in.Hub, Group: in.Group})
		_, after := sp.Apply(with, in)
		return []any{after}
	}
	return nil
}
