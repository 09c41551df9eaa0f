package checker

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ViolationKind names a promise the history shows broken.
type ViolationKind string

const (
	// LostWrite: an acknowledged value is not in the final read at the partition and offset
	// it was acknowledged with.
	LostWrite ViolationKind = "lost-write"
	// InconsistentOffset: one (partition, offset) holds different values in different
	// observations (sends, polls, final reads).
	InconsistentOffset ViolationKind = "inconsistent-offset"
	// Duplicate: a value is at more than one (partition, offset) (idempotent producers only).
	Duplicate ViolationKind = "duplicate"
	// AbortedRead: a value whose send definitely failed was read.
	AbortedRead ViolationKind = "aborted-read"
	// PhantomRead: a value was read that no send of the history sent.
	PhantomRead ViolationKind = "phantom-read"
	// ProducerOrder: one producer's acknowledged offsets on a partition do not rise in send
	// order.
	ProducerOrder ViolationKind = "producer-order"
	// PollOrder: within one assignment a consumer read an offset at or below one it had read
	// already.
	PollOrder ViolationKind = "poll-order"
	// PollGap: within one assignment a consumer skipped offsets.
	PollGap ViolationKind = "poll-gap"
	// FinalGap: the final read of a partition is missing offsets between its start and end,
	// or has records outside them.
	FinalGap ViolationKind = "final-gap"
	// CommitRegressed: a group's committed offset for a partition went back.
	CommitRegressed ViolationKind = "commit-regressed"
	// CommitBeyondEnd: a committed offset is above the partition's log end (read after the
	// commit, or at the final read).
	CommitBeyondEnd ViolationKind = "commit-beyond-end"
	// NoRecovery: no send was acknowledged after a fault was healed.
	NoRecovery ViolationKind = "no-recovery"
)

// Violation is one broken promise with the values involved.
type Violation struct {
	Kind      ViolationKind `json:"kind"`
	Partition int32         `json:"partition"`
	Offset    int64         `json:"offset"`
	Values    []string      `json:"values,omitempty"`
	Detail    string        `json:"detail"`
}

func (v Violation) String() string {
	s := fmt.Sprintf("%s at %d/%d: %s", v.Kind, v.Partition, v.Offset, v.Detail)
	if len(v.Values) > 0 {
		s += " [" + strings.Join(v.Values, ", ") + "]"
	}
	return s
}

// Options change what Check asserts.
type Options struct {
	// AllowDuplicates turns the duplicate check off, for producers without idempotence.
	AllowDuplicates bool
}

// Report is what Check found: the violations, counts of the history, and the liveness figures.
type Report struct {
	Violations []Violation `json:"violations"`

	Sends, Acked, Failed, Unknown int // sends by outcome
	// UnknownLanded is how many unknown-outcome sends are in the final read.
	UnknownLanded int
	Polls         int // poll operations
	Polled        int // records returned by polls
	Commits       int
	FinalRecords  int // records in the final read
	// BelowStart is how many acknowledged values could not be checked because the final read
	// starts after their offset (retention).
	BelowStart int

	Faults []FaultFigure `json:"faults"`
}

// OK reports whether the history shows no violation.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// maxListed is how many violations of one kind Summary lists.
const maxListed = 20

// Summary is the report in a few lines: counts, violations by kind (the first few of each
// listed), and the unavailability per fault.
func (r Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sends %d (ok %d, failed %d, unknown %d of which %d landed); polls %d (%d records); commits %d; final read %d records",
		r.Sends, r.Acked, r.Failed, r.Unknown, r.UnknownLanded, r.Polls, r.Polled, r.Commits, r.FinalRecords)
	if r.BelowStart > 0 {
		fmt.Fprintf(&b, "; %d acknowledged values below the log start (not checked)", r.BelowStart)
	}
	b.WriteString("\n")
	byKind := map[ViolationKind][]Violation{}
	var kinds []ViolationKind
	for _, v := range r.Violations {
		if byKind[v.Kind] == nil {
			kinds = append(kinds, v.Kind)
		}
		byKind[v.Kind] = append(byKind[v.Kind], v)
	}
	if len(kinds) == 0 {
		b.WriteString("no violations\n")
	}
	for _, k := range kinds {
		vs := byKind[k]
		fmt.Fprintf(&b, "%d × %s\n", len(vs), k)
		for _, v := range vs[:min(len(vs), maxListed)] {
			fmt.Fprintf(&b, "  %s\n", v)
		}
	}
	for _, f := range r.Faults {
		fmt.Fprintf(&b, "%s\n", f)
	}
	return b.String()
}

// Check checks a history with idempotent producers (no duplicates allowed).
func Check(ops []Op) Report { return CheckWith(ops, Options{}) }

// CheckWith checks a history.
func CheckWith(ops []Op, opt Options) Report {
	var r Report
	c := newChecker(ops)
	r.Sends, r.Acked, r.Failed, r.Unknown = c.counts()
	for _, op := range ops {
		switch op.Kind {
		case KindPoll:
			r.Polls++
			r.Polled += len(op.Records)
		case KindCommit:
			r.Commits++
		case KindFinal:
			r.FinalRecords += len(op.Records)
		}
	}
	add := func(vs []Violation) { r.Violations = append(r.Violations, vs...) }
	add(c.finalGaps())
	lost, below, landed := c.lostWrites()
	add(lost)
	r.BelowStart, r.UnknownLanded = below, landed
	add(c.inconsistentOffsets())
	if !opt.AllowDuplicates {
		add(c.duplicates())
	}
	add(c.abortedAndPhantomReads())
	add(c.producerOrder())
	add(c.pollOrder())
	add(c.commits())
	figs, stuck := faultFigures(ops)
	r.Faults = figs
	add(stuck)
	return r
}

// pos is a (partition, offset).
type pos struct {
	p int32
	o int64
}

// seen is one observation of a value at a position.
type seen struct {
	pos
	value string
	where string
}

// checker holds a history indexed for the checks.
type checker struct {
	ops    []Op
	sends  map[string][]Op // by value
	finals map[int32]Op    // the last final read of each partition
	obs    []seen          // every value at a position: acknowledged sends, polls, final reads
}

func newChecker(ops []Op) *checker {
	c := &checker{ops: ops, sends: map[string][]Op{}, finals: map[int32]Op{}}
	for i, op := range ops {
		switch op.Kind {
		case KindSend:
			c.sends[op.Value] = append(c.sends[op.Value], op)
			if op.Outcome == OK {
				c.obs = append(c.obs, seen{pos{op.Partition, op.Offset}, op.Value, fmt.Sprintf("ack to %s#%d", op.Process, op.Seq)})
			}
		case KindPoll:
			for _, rec := range op.Records {
				c.obs = append(c.obs, seen{pos{rec.Partition, rec.Offset}, rec.Value, fmt.Sprintf("poll %d by %s", i, op.Process)})
			}
		case KindFinal:
			c.finals[op.Partition] = op
			for _, rec := range op.Records {
				c.obs = append(c.obs, seen{pos{rec.Partition, rec.Offset}, rec.Value, "final read"})
			}
		}
	}
	return c
}

func (c *checker) counts() (sends, acked, failed, unknown int) {
	for _, op := range c.ops {
		if op.Kind != KindSend {
			continue
		}
		sends++
		switch op.Outcome {
		case OK:
			acked++
		case Fail:
			failed++
		default:
			unknown++
		}
	}
	return
}

// finalGaps checks that each final read holds every offset in [Start, End), in order.
func (c *checker) finalGaps() []Violation {
	var out []Violation
	for _, p := range sortedKeys(c.finals) {
		f := c.finals[p]
		next, broken := f.Start, false
		for _, rec := range f.Records {
			if rec.Partition != p || rec.Offset != next {
				out = append(out, Violation{Kind: FinalGap, Partition: rec.Partition, Offset: rec.Offset, Values: []string{rec.Value},
					Detail: fmt.Sprintf("final read of partition %d expected offset %d next", p, next)})
				broken = true
				break
			}
			next++
		}
		if end := endOf(f); !broken && next != end {
			out = append(out, Violation{Kind: FinalGap, Partition: p, Offset: next,
				Detail: fmt.Sprintf("final read of partition %d stops at %d, its end is %d", p, next, end)})
		}
	}
	return out
}

func endOf(op Op) int64 {
	if op.End != nil {
		return *op.End
	}
	return op.Start + int64(len(op.Records))
}

// lostWrites checks every acknowledged send against the final read of its partition.
func (c *checker) lostWrites() (out []Violation, belowStart, unknownLanded int) {
	at := map[pos]string{}
	for _, f := range c.finals {
		for _, rec := range f.Records {
			at[pos{rec.Partition, rec.Offset}] = rec.Value
		}
	}
	inFinal := map[string]bool{}
	for _, v := range at {
		inFinal[v] = true
	}
	for _, op := range c.ops {
		if op.Kind != KindSend {
			continue
		}
		if op.Outcome == Info && inFinal[op.Value] {
			unknownLanded++
		}
		if op.Outcome != OK {
			continue
		}
		f, ok := c.finals[op.Partition]
		switch {
		case !ok:
			out = append(out, Violation{Kind: LostWrite, Partition: op.Partition, Offset: op.Offset, Values: []string{op.Value},
				Detail: "acknowledged, but its partition has no final read"})
		case op.Offset < f.Start:
			belowStart++
		case at[pos{op.Partition, op.Offset}] != op.Value:
			got, ok := at[pos{op.Partition, op.Offset}]
			d := fmt.Sprintf("acknowledged to %s#%d; the final read has %q there", op.Process, op.Seq, got)
			if !ok {
				d = fmt.Sprintf("acknowledged to %s#%d; the final read (%d to %d) has nothing there", op.Process, op.Seq, f.Start, endOf(f))
			}
			out = append(out, Violation{Kind: LostWrite, Partition: op.Partition, Offset: op.Offset, Values: []string{op.Value}, Detail: d})
		}
	}
	return out, belowStart, unknownLanded
}

// inconsistentOffsets checks that each position holds one value across all observations.
func (c *checker) inconsistentOffsets() []Violation {
	byPos := map[pos][]seen{}
	for _, s := range c.obs {
		byPos[s.pos] = append(byPos[s.pos], s)
	}
	var out []Violation
	for _, p := range sortedPos(byPos) {
		ss := byPos[p]
		var values, wheres []string
		for _, s := range ss {
			if !slices.Contains(values, s.value) {
				values = append(values, s.value)
				wheres = append(wheres, fmt.Sprintf("%q by %s", s.value, s.where))
			}
		}
		if len(values) > 1 {
			out = append(out, Violation{Kind: InconsistentOffset, Partition: p.p, Offset: p.o, Values: values,
				Detail: "several values at one offset: " + strings.Join(wheres, "; ")})
		}
	}
	return out
}

// duplicates checks that each value is at one position only.
func (c *checker) duplicates() []Violation {
	at := map[string][]pos{}
	for _, s := range c.obs {
		if !slices.Contains(at[s.value], s.pos) {
			at[s.value] = append(at[s.value], s.pos)
		}
	}
	var out []Violation
	for _, v := range sortedKeys(at) {
		ps := at[v]
		if len(ps) < 2 {
			continue
		}
		slices.SortFunc(ps, cmpPos)
		var where []string
		for _, p := range ps {
			where = append(where, fmt.Sprintf("%d/%d", p.p, p.o))
		}
		out = append(out, Violation{Kind: Duplicate, Partition: ps[0].p, Offset: ps[0].o, Values: []string{v},
			Detail: "one value at " + strings.Join(where, " and ")})
	}
	return out
}

// abortedAndPhantomReads checks that every value read was sent, and not by a send that
// definitely failed.
func (c *checker) abortedAndPhantomReads() []Violation {
	var out []Violation
	done := map[string]bool{}
	for _, s := range c.obs {
		if done[s.value] {
			continue
		}
		sends := c.sends[s.value]
		switch {
		case len(sends) == 0:
			done[s.value] = true
			out = append(out, Violation{Kind: PhantomRead, Partition: s.p, Offset: s.o, Values: []string{s.value},
				Detail: "read by " + s.where + " but never sent"})
		case slices.ContainsFunc(sends, func(op Op) bool { return op.Outcome == Fail }):
			done[s.value] = true
			out = append(out, Violation{Kind: AbortedRead, Partition: s.p, Offset: s.o, Values: []string{s.value},
				Detail: "read by " + s.where + " but its send definitely failed: " + sends[0].Err})
		}
	}
	return out
}

// producerOrder checks that each producer's acknowledged offsets rise in send order on each
// partition.
func (c *checker) producerOrder() []Violation {
	type key struct {
		producer string
		p        int32
	}
	acked := map[key][]Op{}
	for _, op := range c.ops {
		if op.Kind == KindSend && op.Outcome == OK {
			k := key{op.Process, op.Partition}
			acked[k] = append(acked[k], op)
		}
	}
	var out []Violation
	keys := sortedKeysFunc(acked, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.producer, b.producer), cmp.Compare(a.p, b.p))
	})
	for _, k := range keys {
		ops := acked[k]
		slices.SortStableFunc(ops, func(a, b Op) int { return cmp.Compare(a.Seq, b.Seq) })
		for i := 1; i < len(ops); i++ {
			a, b := ops[i-1], ops[i]
			if b.Offset <= a.Offset {
				out = append(out, Violation{Kind: ProducerOrder, Partition: k.p, Offset: b.Offset, Values: []string{a.Value, b.Value},
					Detail: fmt.Sprintf("%s sent #%d before #%d, but they were acknowledged at offsets %d and %d", k.producer, a.Seq, b.Seq, a.Offset, b.Offset)})
			}
		}
	}
	return out
}

// pollOrder checks that, within one assignment of one consumer, each partition is read at
// consecutive offsets.
func (c *checker) pollOrder() []Violation {
	type key struct {
		consumer   string
		assignment int64
		p          int32
	}
	last := map[key]Record{}
	var out []Violation
	for _, op := range c.ops {
		if op.Kind != KindPoll {
			continue
		}
		for _, rec := range op.Records {
			k := key{op.Process, op.Assignment, rec.Partition}
			prev, ok := last[k]
			last[k] = rec
			if !ok {
				continue
			}
			switch {
			case rec.Offset <= prev.Offset:
				out = append(out, Violation{Kind: PollOrder, Partition: rec.Partition, Offset: rec.Offset, Values: []string{prev.Value, rec.Value},
					Detail: fmt.Sprintf("%s (assignment %d) read offset %d after %d", op.Process, op.Assignment, rec.Offset, prev.Offset)})
			case rec.Offset > prev.Offset+1:
				out = append(out, Violation{Kind: PollGap, Partition: rec.Partition, Offset: rec.Offset, Values: []string{prev.Value, rec.Value},
					Detail: fmt.Sprintf("%s (assignment %d) skipped from offset %d to %d", op.Process, op.Assignment, prev.Offset, rec.Offset)})
			}
		}
	}
	return out
}

// commits checks that each group's committed offsets never go back and are never above the
// log end.
func (c *checker) commits() []Violation {
	type key struct {
		group string
		p     int32
	}
	last := map[key]Op{}
	var out []Violation
	for _, op := range c.ops {
		if op.Kind != KindCommit {
			continue
		}
		k := key{op.Group, op.Partition}
		if prev, ok := last[k]; ok && op.Offset < prev.Offset {
			out = append(out, Violation{Kind: CommitRegressed, Partition: op.Partition, Offset: op.Offset,
				Detail: fmt.Sprintf("group %s committed %d after %d", op.Group, op.Offset, prev.Offset)})
		}
		last[k] = op
		if op.End != nil && op.Offset > *op.End {
			out = append(out, Violation{Kind: CommitBeyondEnd, Partition: op.Partition, Offset: op.Offset,
				Detail: fmt.Sprintf("group %s committed %d; the log ended at %d after the commit", op.Group, op.Offset, *op.End)})
		}
		if f, ok := c.finals[op.Partition]; ok && op.Offset > endOf(f) {
			out = append(out, Violation{Kind: CommitBeyondEnd, Partition: op.Partition, Offset: op.Offset,
				Detail: fmt.Sprintf("group %s committed %d; the final read ends at %d", op.Group, op.Offset, endOf(f))})
		}
	}
	return out
}

func cmpPos(a, b pos) int { return cmp.Or(cmp.Compare(a.p, b.p), cmp.Compare(a.o, b.o)) }

func sortedPos[V any](m map[pos]V) []pos { return sortedKeysFunc(m, cmpPos) }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return sortedKeysFunc(m, cmp.Compare[K])
}

func sortedKeysFunc[K comparable, V any](m map[K]V, f func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, f)
	return keys
}
