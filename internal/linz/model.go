package linz

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// DefaultGroup exists on every hub and cannot be deleted.
const DefaultGroup = "$Default"

// State is one event hub as the API shows it. It is immutable: Step returns a new State.
type State struct {
	Exists     bool
	Partitions int32
	Groups     []Group // sorted by name; $Default first (it sorts before letters)
}

// Group is a consumer group and its checkpoints.
type Group struct {
	Name        string
	Meta        string
	Checkpoints []Checkpoint // sorted by partition
}

// Checkpoint is a stored offset of one partition.
type Checkpoint struct {
	Partition int32
	Offset    int64
}

func (s State) String() string {
	if !s.Exists {
		return "absent"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "partitions=%d", s.Partitions)
	for _, g := range s.Groups {
		fmt.Fprintf(&b, " %s=%q{", g.Name, g.Meta)
		for i, c := range g.Checkpoints {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%d:%d", c.Partition, c.Offset)
		}
		b.WriteByte('}')
	}
	return b.String()
}

func (s State) group(name string) (int, bool) {
	return slices.BinarySearchFunc(s.Groups, name, func(g Group, n string) int { return strings.Compare(g.Name, n) })
}

// withGroup returns s with group g put at its place (replacing one of the same name).
func (s State) withGroup(g Group) State {
	gs := slices.Clone(s.Groups)
	if i, ok := s.group(g.Name); ok {
		gs[i] = g
	} else {
		gs = slices.Insert(gs, i, g)
	}
	s.Groups = gs
	return s
}

func (s State) withoutGroup(name string) State {
	if i, ok := s.group(name); ok {
		s.Groups = slices.Delete(slices.Clone(s.Groups), i, i+1)
	}
	return s
}

func (g Group) checkpoint(p int32) (int, bool) {
	return slices.BinarySearchFunc(g.Checkpoints, p, func(c Checkpoint, p int32) int { return int(c.Partition - p) })
}

func (g Group) withCheckpoint(c Checkpoint) Group {
	cs := slices.Clone(g.Checkpoints)
	if i, ok := g.checkpoint(c.Partition); ok {
		cs[i] = c
	} else {
		cs = slices.Insert(cs, i, c)
	}
	g.Checkpoints = cs
	return g
}

// listing is the state's groups in Output.Groups form.
func (s State) listing() string {
	names, metas := make([]string, len(s.Groups)), make([]string, len(s.Groups))
	for i, g := range s.Groups {
		names[i], metas[i] = g.Name, g.Meta
	}
	return Groups(names, metas)
}

// Apply is the sequential specification: the answer the API gives to in on a hub in state s,
// and the state after it. It is the model's core, a pure function.
func Apply(s State, in Input) (Output, State) {
	if !s.Exists {
		if in.Kind == CreateHub {
			return Output{Result: Created, Partitions: in.Partitions},
				State{Exists: true, Partitions: in.Partitions, Groups: []Group{{Name: DefaultGroup}}}
		}
		return Output{Result: NotFound}, s
	}
	switch in.Kind {
	case CreateHub:
		if in.Partitions < s.Partitions {
			return Output{Result: Invalid}, s // partition counts only grow
		}
		s.Partitions = in.Partitions
		return Output{Result: OK, Partitions: in.Partitions}, s
	case DeleteHub:
		return Output{Result: OK}, State{}
	case GetHub:
		return Output{Result: OK, Partitions: s.Partitions}, s
	case ListGroups:
		return Output{Result: OK, Groups: s.listing()}, s
	case CreateGroup:
		i, ok := s.group(in.Group)
		switch {
		case !ok:
			return Output{Result: Created}, s.withGroup(Group{Name: in.Group, Meta: in.Meta})
		case s.Groups[i].Meta != in.Meta:
			return Output{Result: Conflict}, s
		}
		return Output{Result: OK}, s
	case DeleteGroup:
		if _, ok := s.group(in.Group); !ok {
			return Output{Result: NotFound}, s
		}
		if in.Group == DefaultGroup {
			return Output{Result: Invalid}, s
		}
		return Output{Result: OK}, s.withoutGroup(in.Group) // with its checkpoints
	case SetCheckpoint, GetCheckpoint:
		return applyCheckpoint(s, in)
	}
	panic(fmt.Sprintf("linz: unknown operation %v", in.Kind))
}

// applyCheckpoint checks in the order the API does: the partition, then the group.
func applyCheckpoint(s State, in Input) (Output, State) {
	if in.Partition < 0 || in.Partition >= s.Partitions {
		return Output{Result: NoPartition}, s
	}
	i, ok := s.group(in.Group)
	if !ok {
		return Output{Result: NotFound}, s
	}
	g := s.Groups[i]
	if in.Kind == SetCheckpoint {
		return Output{Result: OK, Offset: in.Offset}, s.withGroup(g.withCheckpoint(Checkpoint{in.Partition, in.Offset}))
	}
	j, ok := g.checkpoint(in.Partition)
	if !ok {
		return Output{Result: NotFound}, s
	}
	return Output{Result: OK, Offset: g.Checkpoints[j].Offset}, s
}

func equal(a, b any) bool { return a.(State).String() == b.(State).String() }

func hash(s any) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s.(State).String()))
	return h.Sum64()
}

// partition splits a history by hub: operations on different hubs commute.
func partition(history []porcupine.Operation) [][]porcupine.Operation {
	byHub := map[string][]porcupine.Operation{}
	var order []string
	for _, op := range history {
		h := op.Input.(Input).Hub
		if _, ok := byHub[h]; !ok {
			order = append(order, h)
		}
		byHub[h] = append(byHub[h], op)
	}
	out := make([][]porcupine.Operation, len(order))
	for i, h := range order {
		out[i] = byHub[h]
	}
	return out
}

// Model is the porcupine model of the metadata operations, partitioned by hub; every hub
// starts absent. It is Spec{}.Model(): the API's promise, with no deviation allowed.
func Model() porcupine.Model { return Spec{}.Model() }
