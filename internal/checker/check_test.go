package checker

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func ack(proc string, seq int64, p int32, off int64, v string, ms int) Op {
	return Op{Kind: KindSend, Process: proc, Seq: seq, Partition: p, Offset: off, Value: v, Outcome: OK, Invoke: at(ms - 5), Time: at(ms)}
}

func recs(p int32, from int64, values ...string) []Record {
	out := make([]Record, len(values))
	for i, v := range values {
		out[i] = Record{Partition: p, Offset: from + int64(i), Value: v}
	}
	return out
}

func i64(v int64) *int64 { return &v }

// cleanHistory is a history of a region that kept every promise, with the awkward cases a
// checker must not flag: sends of unknown outcome that landed and that did not, a definite
// failure never read, a group consumer re-reading after a rebalance, a commit repeated, and a
// fault after which producers recovered.
func cleanHistory() []Op {
	return []Op{
		ack("p1", 1, 0, 0, "a0", 10), ack("p1", 2, 0, 1, "a1", 20), ack("p1", 3, 0, 2, "a2", 30),
		ack("p2", 1, 1, 0, "b0", 31), ack("p2", 2, 1, 1, "b1", 32),
		{Kind: KindPoll, Process: "plain", Assignment: 1, Records: append(recs(0, 0, "a0", "a1", "a2"), recs(1, 0, "b0")...), Time: at(35)},
		{Kind: KindPoll, Process: "group", Assignment: 1, Records: recs(0, 0, "a0", "a1"), Time: at(36)},
		{Kind: KindCommit, Process: "group", Group: "g", Partition: 0, Offset: 2, End: i64(3), Time: at(37)},
		{Kind: KindFault, Process: "nemesis", Fault: "kill -9", Invoke: at(40), Time: at(1000)},
		{Kind: KindSend, Process: "p2", Seq: 3, Partition: 1, Value: "b3", Outcome: Info, Err: "context deadline exceeded", Invoke: at(41), Time: at(900)},
		{Kind: KindSend, Process: "p2", Seq: 4, Partition: 1, Value: "b4", Outcome: Info, Err: "connection reset", Invoke: at(42), Time: at(900)},
		{Kind: KindSend, Process: "p1", Seq: 4, Partition: 0, Value: "a5", Outcome: Fail, Err: "NOT_ENOUGH_REPLICAS", Invoke: at(43), Time: at(901)},
		ack("p2", 5, 1, 2, "b2", 1100),
		ack("p1", 5, 0, 3, "a3", 1200), ack("p1", 6, 0, 4, "a4", 1210),
		{Kind: KindPoll, Process: "plain", Assignment: 1, Records: append(recs(0, 3, "a3", "a4"), recs(1, 1, "b1", "b2", "b3")...), Time: at(1300)},
		{Kind: KindPoll, Process: "group", Assignment: 2, Records: recs(0, 2, "a2", "a3", "a4"), Time: at(1301)},
		{Kind: KindCommit, Process: "group", Group: "g", Partition: 0, Offset: 2, Time: at(1302)},
		{Kind: KindCommit, Process: "group", Group: "g", Partition: 0, Offset: 5, End: i64(5), Time: at(1303)},
		{Kind: KindCommit, Process: "group", Group: "g", Partition: 1, Offset: 4, Time: at(1304)},
		{Kind: KindFinal, Partition: 0, Start: 0, End: i64(5), Records: recs(0, 0, "a0", "a1", "a2", "a3", "a4"), Time: at(2000)},
		{Kind: KindFinal, Partition: 1, Start: 0, End: i64(4), Records: recs(1, 0, "b0", "b1", "b2", "b3"), Time: at(2001)},
	}
}

// find returns the index of the first op matching f.
func find(ops []Op, f func(Op) bool) int {
	i := slices.IndexFunc(ops, f)
	if i < 0 {
		panic("no such op")
	}
	return i
}

func final(p int32) func(Op) bool {
	return func(op Op) bool { return op.Kind == KindFinal && op.Partition == p }
}

func sendOf(v string) func(Op) bool {
	return func(op Op) bool { return op.Kind == KindSend && op.Value == v }
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		mutate func([]Op) []Op
		opt    Options
		want   []ViolationKind
	}{
		{name: "clean", mutate: func(ops []Op) []Op { return ops }},
		{name: "lost: the log was truncated", want: []ViolationKind{LostWrite, CommitBeyondEnd}, mutate: func(ops []Op) []Op {
			f := &ops[find(ops, final(0))]
			f.Records, f.End = f.Records[:4], i64(4)
			return ops
		}},
		{name: "lost: values moved", want: []ViolationKind{LostWrite, InconsistentOffset, Duplicate}, mutate: func(ops []Op) []Op {
			f := &ops[find(ops, final(0))]
			f.Records[1].Value, f.Records[2].Value = f.Records[2].Value, f.Records[1].Value
			return ops
		}},
		{name: "lost: no final read of a partition", want: []ViolationKind{LostWrite}, mutate: func(ops []Op) []Op {
			return slices.Delete(ops, find(ops, final(1)), find(ops, final(1))+1)
		}},
		{name: "inconsistent: a poll saw another value", want: []ViolationKind{InconsistentOffset}, mutate: func(ops []Op) []Op {
			return append(ops, Op{Kind: KindPoll, Process: "other", Assignment: 1, Records: recs(0, 3, "b4")})
		}},
		{name: "duplicate", want: []ViolationKind{Duplicate}, mutate: func(ops []Op) []Op {
			f := &ops[find(ops, final(1))]
			f.Records, f.End = append(f.Records, Record{Partition: 1, Offset: 4, Value: "b3"}), i64(5)
			return ops
		}},
		{name: "duplicate allowed without idempotence", opt: Options{AllowDuplicates: true}, mutate: func(ops []Op) []Op {
			f := &ops[find(ops, final(1))]
			f.Records, f.End = append(f.Records, Record{Partition: 1, Offset: 4, Value: "b3"}), i64(5)
			return ops
		}},
		{name: "aborted read", want: []ViolationKind{AbortedRead}, mutate: func(ops []Op) []Op {
			f := &ops[find(ops, final(1))]
			f.Records, f.End = append(f.Records, Record{Partition: 1, Offset: 4, Value: "a5"}), i64(5)
			return ops
		}},
		{name: "unknown outcome may land", mutate: func(ops []Op) []Op {
			f := &ops[find(ops, final(1))]
			f.Records, f.End = append(f.Records, Record{Partition: 1, Offset: 4, Value: "b4"}), i64(5)
			return ops
		}},
		{name: "phantom read", want: []ViolationKind{PhantomRead}, mutate: func(ops []Op) []Op {
			f := &ops[find(ops, final(1))]
			f.Records, f.End = append(f.Records, Record{Partition: 1, Offset: 4, Value: "ghost"}), i64(5)
			return ops
		}},
		{name: "producer order", want: []ViolationKind{ProducerOrder}, mutate: func(ops []Op) []Op {
			ops[find(ops, sendOf("a3"))].Seq, ops[find(ops, sendOf("a4"))].Seq = 6, 5
			return ops
		}},
		{name: "poll order: re-read within an assignment", want: []ViolationKind{PollOrder}, mutate: func(ops []Op) []Op {
			return append(ops, Op{Kind: KindPoll, Process: "plain", Assignment: 1, Records: recs(0, 2, "a2")})
		}},
		{name: "poll gap within an assignment", want: []ViolationKind{PollGap}, mutate: func(ops []Op) []Op {
			i := find(ops, func(op Op) bool { return op.Kind == KindPoll && op.Process == "plain" && op.Time == at(1300) })
			ops[i].Records = ops[i].Records[1:] // skips a3
			return ops
		}},
		{name: "final read has a hole", want: []ViolationKind{FinalGap, LostWrite}, mutate: func(ops []Op) []Op {
			f := &ops[find(ops, final(0))]
			f.Records = slices.Delete(slices.Clone(f.Records), 2, 3)
			return ops
		}},
		{name: "final read stops short of its end", want: []ViolationKind{FinalGap}, mutate: func(ops []Op) []Op {
			ops[find(ops, final(1))].End = i64(6)
			return ops
		}},
		{name: "commit regressed", want: []ViolationKind{CommitRegressed}, mutate: func(ops []Op) []Op {
			return append(ops, Op{Kind: KindCommit, Group: "g", Partition: 0, Offset: 1})
		}},
		{name: "commit above the end read after it", want: []ViolationKind{CommitBeyondEnd}, mutate: func(ops []Op) []Op {
			return append(ops, Op{Kind: KindCommit, Group: "g", Partition: 1, Offset: 4, End: i64(3)})
		}},
		{name: "commit above the final end", want: []ViolationKind{CommitBeyondEnd}, mutate: func(ops []Op) []Op {
			return append(ops, Op{Kind: KindCommit, Group: "g", Partition: 1, Offset: 7})
		}},
		{name: "no recovery after a fault", want: []ViolationKind{NoRecovery}, mutate: func(ops []Op) []Op {
			return append(ops, Op{Kind: KindFault, Fault: "pause", Invoke: at(5000), Time: at(6000)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CheckWith(tt.mutate(cleanHistory()), tt.opt)
			var got []ViolationKind
			for _, v := range r.Violations {
				if !slices.Contains(got, v.Kind) {
					got = append(got, v.Kind)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violation kinds %v, want %v\n%s", got, want, r.Summary())
			}
			for _, v := range r.Violations {
				if v.Kind != NoRecovery && len(v.Values) == 0 && v.Kind != CommitRegressed && v.Kind != CommitBeyondEnd && v.Kind != FinalGap {
					t.Errorf("violation %s names no value", v)
				}
			}
			if r.OK() != (len(tt.want) == 0) {
				t.Errorf("OK() = %v with violations %v", r.OK(), r.Violations)
			}
		})
	}
}

func TestCheckCounts(t *testing.T) {
	r := Check(cleanHistory())
	if r.Sends != 11 || r.Acked != 8 || r.Failed != 1 || r.Unknown != 2 || r.UnknownLanded != 1 {
		t.Errorf("sends %d ok %d failed %d unknown %d landed %d, want 11 8 1 2 1", r.Sends, r.Acked, r.Failed, r.Unknown, r.UnknownLanded)
	}
	if r.Polls != 4 || r.Commits != 4 || r.FinalRecords != 9 {
		t.Errorf("polls %d commits %d final %d, want 4 4 9", r.Polls, r.Commits, r.FinalRecords)
	}
	if s := r.Summary(); !strings.Contains(s, "no violations") || !strings.Contains(s, "kill -9") {
		t.Errorf("summary of a clean history:\n%s", s)
	}
}

func TestSummaryListsViolations(t *testing.T) {
	ops := cleanHistory()
	f := &ops[find(ops, final(0))]
	f.Records, f.End = f.Records[:4], i64(4)
	s := Check(ops).Summary()
	for _, want := range []string{"1 × lost-write", "a4", "0/4"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

func TestBelowLogStartIsNotLost(t *testing.T) {
	ops := cleanHistory()
	f := &ops[find(ops, final(0))]
	f.Start, f.Records = 2, f.Records[2:]
	r := Check(ops)
	if !r.OK() || r.BelowStart != 2 {
		t.Errorf("retention trimmed 2 acknowledged values: OK %v, below start %d\n%s", r.OK(), r.BelowStart, r.Summary())
	}
}

func TestFaultFigures(t *testing.T) {
	ops := []Op{
		{Kind: KindFault, Fault: "link cut", Invoke: at(1000), Time: at(3000)},
		// sent before the fault and acknowledged during it: not counted (the fault was on)
		{Kind: KindSend, Process: "p", Seq: 1, Value: "x", Outcome: OK, Invoke: at(990), Time: at(1001)},
		{Kind: KindSend, Process: "p", Seq: 3, Value: "z", Outcome: OK, Offset: 2, Invoke: at(1500), Time: at(3700)},
		{Kind: KindSend, Process: "p", Seq: 2, Value: "y", Outcome: OK, Offset: 1, Invoke: at(995), Time: at(3500)},
		{Kind: KindFault, Fault: "pause", Invoke: at(5000), Time: at(6000)},
		{Kind: KindSend, Process: "p", Seq: 4, Value: "w", Outcome: OK, Offset: 3, Invoke: at(5100), Time: at(5200)},
	}
	figs, stuck := faultFigures(ops)
	if len(stuck) != 0 || len(figs) != 2 {
		t.Fatalf("figures %v, stuck %v", figs, stuck)
	}
	if f := figs[0]; f.Unavailable != 2500*time.Millisecond || f.AfterHeal != 500*time.Millisecond {
		t.Errorf("link cut: unavailable %v after heal %v, want 2.5s 500ms", f.Unavailable, f.AfterHeal)
	}
	// a send made during the fault and acknowledged before its heal: the fault did not stop
	// producers.
	if f := figs[1]; f.Unavailable != 200*time.Millisecond || f.AfterHeal != 0 {
		t.Errorf("pause: unavailable %v after heal %v, want 200ms 0", f.Unavailable, f.AfterHeal)
	}
	if s := figs[0].String(); !strings.Contains(s, "link cut") || !strings.Contains(s, "2.5s") {
		t.Errorf("figure prints as %q", s)
	}
}

// TestLongestGap: the longest gap is per partition and only around the fault, so a fault that
// stops one partition shows though the others keep acknowledging.
func TestLongestGap(t *testing.T) {
	ops := []Op{
		ack("p", 1, 0, 0, "a0", 900), ack("p", 2, 1, 0, "b0", 950),
		{Kind: KindFault, Fault: "kill -9 leader of 1", Invoke: at(1000), Time: at(2000)},
		// partition 0 keeps going every 100 ms
		ack("p", 3, 0, 1, "a1", 1000), ack("p", 4, 0, 2, "a2", 1100), ack("p", 5, 0, 3, "a3", 1200),
		ack("p", 6, 0, 4, "a4", 1300), ack("p", 7, 0, 5, "a5", 1400), ack("p", 8, 0, 6, "a6", 1500),
		ack("p", 9, 0, 7, "a7", 1600), ack("p", 10, 0, 8, "a8", 1700), ack("p", 11, 0, 9, "a9", 1800),
		ack("p", 12, 0, 10, "a10", 1900), ack("p", 13, 0, 11, "a11", 2000),
		// partition 1 is back 2.4 s after its last acknowledgement before the fault
		ack("p", 14, 1, 1, "b1", 3350),
		// a later, longer gap on partition 0, from the heal on:
		// not the fault's
		ack("p", 15, 0, 12, "a12", 9000),
	}
	figs, _ := faultFigures(ops)
	if len(figs) != 1 {
		t.Fatalf("figures %v", figs)
	}
	if f := figs[0]; f.LongestGap != 2400*time.Millisecond || f.GapPartition != 1 {
		t.Errorf("longest gap %v on partition %d, want 2.4s on partition 1", f.LongestGap, f.GapPartition)
	}
	if s := figs[0].String(); !strings.Contains(s, "2.4s (partition 1)") {
		t.Errorf("figure prints as %q", s)
	}
}
