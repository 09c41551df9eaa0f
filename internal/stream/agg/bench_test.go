package agg

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// TestAddDoesNotAllocate: the hot-path aggregates add a value without allocating, called through
// the Acc interface as the engine does.
func TestAddDoesNotAllocate(t *testing.T) {
	tests := []struct {
		spec Spec
		args []sqlval.Value
	}{
		{Spec{Name: "COUNT", Star: true}, nil},
		{Spec{Name: "COUNT"}, []sqlval.Value{S("dev-1")}},
		{Spec{Name: "COUNT"}, []sqlval.Value{N}},
		{Spec{Name: "SUM"}, []sqlval.Value{I(3)}},
		{Spec{Name: "SUM"}, []sqlval.Value{F(2.5)}},
		{Spec{Name: "AVG"}, []sqlval.Value{I(3)}},
		{Spec{Name: "AVG"}, []sqlval.Value{F(21.5)}},
		{Spec{Name: "AVG"}, []sqlval.Value{I(1<<60 + 1)}},
		{Spec{Name: "MIN"}, []sqlval.Value{F(21.5)}},
		{Spec{Name: "MAX"}, []sqlval.Value{S("2026-01-02T00:00:00Z")}},
		{Spec{Name: "STDEV"}, []sqlval.Value{F(21.5)}},
		{Spec{Name: "VARP"}, []sqlval.Value{I(7)}},
	}
	for _, tt := range tests {
		var a Acc = New(tt.spec)
		if err := a.Add(tt.args); err != nil { // the first value of MIN/MAX is stored, not compared
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if err := a.Add(tt.args); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s Add(%v) allocates %.1f times", specName(tt.spec), tt.args, allocs)
		}
	}
}

// benchAdd adds a rotating set of 4 values to one accumulator per iteration, through Acc.
func benchAdd(b *testing.B, spec Spec, vals [4]sqlval.Value) {
	var a Acc = New(spec)
	args := make([]sqlval.Value, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		args[0] = vals[i&3]
		i++
		if err := a.Add(args); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "adds/s")
}

func BenchmarkAddCount(b *testing.B) {
	b.Run("star", func(b *testing.B) {
		var a Acc = New(Spec{Name: "COUNT", Star: true})
		b.ReportAllocs()
		for b.Loop() {
			if err := a.Add(nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "adds/s")
	})
	b.Run("expr", func(b *testing.B) {
		benchAdd(b, Spec{Name: "COUNT"}, [4]sqlval.Value{S("dev-1"), N, S("dev-2"), S("dev-3")})
	})
	b.Run("distinct", func(b *testing.B) {
		benchAdd(b, Spec{Name: "COUNT", Distinct: true}, [4]sqlval.Value{S("dev-1"), S("dev-2"), S("dev-3"), S("dev-1")})
	})
}

func BenchmarkAddAvg(b *testing.B) {
	b.Run("bigint", func(b *testing.B) {
		benchAdd(b, Spec{Name: "AVG"}, [4]sqlval.Value{I(40), I(50), I(61), N})
	})
	b.Run("float", func(b *testing.B) {
		benchAdd(b, Spec{Name: "AVG"}, [4]sqlval.Value{F(21.5), F(22.25), F(19.75), F(20)})
	})
}

func BenchmarkAddSum(b *testing.B) {
	benchAdd(b, Spec{Name: "SUM"}, [4]sqlval.Value{I(40), I(50), I(61), I(-3)})
}

func BenchmarkAddMax(b *testing.B) {
	benchAdd(b, Spec{Name: "MAX"}, [4]sqlval.Value{F(21.5), F(22.25), F(19.75), F(20)})
}

func BenchmarkAddStdev(b *testing.B) {
	benchAdd(b, Spec{Name: "STDEV"}, [4]sqlval.Value{F(21.5), F(22.25), F(19.75), F(20)})
}

// BenchmarkCheckpointAvg is the cost per group of writing and reading back an AVG state.
func BenchmarkCheckpointAvg(b *testing.B) {
	spec := Spec{Name: "AVG"}
	a := New(spec)
	_ = a.Add([]sqlval.Value{F(21.5)})
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = a.AppendState(buf[:0])
		if _, err := Restore(spec, buf); err != nil {
			b.Fatal(err)
		}
	}
}
