package linz

import (
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/anishathalye/porcupine"
)

// Explain writes, for each hub whose history porcupine could not linearize, the end of the
// longest linearization it found (with the model's state after each operation) and the
// operations that could come next, each with the answer the model expected and the one
// observed: the first place to look. history and info are what CheckOperationsVerbose took
// and gave.
func Explain(w io.Writer, sp Spec, history []porcupine.Operation, info porcupine.LinearizationInfo) {
	if sp.Apply == nil {
		sp.Apply = Apply
	}
	parts := partition(history)
	for p, lins := range info.PartialLinearizationsOperations() {
		if p >= len(parts) || len(lins) == 0 {
			continue
		}
		longest := lins[0]
		for _, l := range lins[1:] {
			if len(l) > len(longest) {
				longest = l
			}
		}
		if len(longest) == len(parts[p]) {
			continue // this hub linearized
		}
		sp.explainPartition(w, parts[p], longest)
	}
}

func (sp Spec) explainPartition(w io.Writer, ops, lin []porcupine.Operation) {
	fmt.Fprintf(w, "hub %s: %d of %d operations linearized\n", ops[0].Input.(Input).Hub, len(lin), len(ops))
	states := []any{State{}}
	done := map[[2]int64]bool{} // (client, call) identifies an operation
	for i, op := range lin {
		var next []any
		for _, s := range states {
			next = append(next, sp.step(s.(State), op.Input.(Input), op.Output.(Output))...)
		}
		states = merged(next)
		done[[2]int64{int64(op.ClientId), op.Call}] = true
		if i >= len(lin)-10 {
			fmt.Fprintf(w, "  ok  %s\n      state %v\n", describe(op), states)
		}
	}
	var rest []porcupine.Operation
	for _, op := range ops {
		if !done[[2]int64{int64(op.ClientId), op.Call}] {
			rest = append(rest, op)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Call < rest[j].Call })
	first := int64(math.MaxInt64) // an operation called after the first pending return cannot be next
	for _, op := range rest {
		first = min(first, op.Return)
	}
	for _, op := range rest {
		if op.Call > first {
			break
		}
		var want []Output
		for _, s := range states {
			o, _ := sp.Apply(s.(State), op.Input.(Input))
			want = append(want, o)
		}
		fmt.Fprintf(w, "  next? %s (model: %v)\n", describe(op), want)
	}
}

func describe(op porcupine.Operation) string {
	ret := "∞"
	if op.Return != math.MaxInt64 {
		ret = fmt.Sprint(op.Return)
	}
	return fmt.Sprintf("client %d [%d, %s] %v → %v", op.ClientId, op.Call, ret, op.Input, op.Output)
}

// merged is states without duplicates.
func merged(states []any) []any {
	seen := map[string]bool{}
	var out []any
	for _, s := range states {
		if k := s.(State).String(); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}
