package stream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// The determinism property: the same set of events gives byte-identical output rows (output,
// time, key, JSON) whatever their split over partitions, the interleaving of the partitions and
// their order within the out-of-order tolerance.

var determinismQueries = map[string]string{
	"tumbling": `SELECT k, COUNT(*) AS n, AVG(v) AS a, SUM(v) AS s, System.Timestamp() AS w
		FROM input TIMESTAMP BY t GROUP BY k, TumblingWindow(second, 10)`,
	"hopping": `SELECT k, MIN(v) AS lo, MAX(v) AS hi, STDEV(v) AS sd, COUNT(DISTINCT v) AS d
		FROM input TIMESTAMP BY t GROUP BY k, HoppingWindow(second, 10, 5)`,
	"sliding": `SELECT k, COUNT(*) AS n FROM input TIMESTAMP BY t GROUP BY k, SlidingWindow(second, 7) HAVING COUNT(*) >= 2`,
	"session": `SELECT k, COUNT(*) AS n, MIN(t) AS first, MAX(t) AS last FROM input TIMESTAMP BY t
		GROUP BY k, SessionWindow(second, 3, 20) OVER (PARTITION BY k)`,
	"lag": `SELECT k, v, LAG(v) OVER (PARTITION BY k LIMIT DURATION(second, 30)) AS prev,
		ISFIRST(second, 10) OVER (PARTITION BY k) AS first FROM input TIMESTAMP BY t`,
	"join": `SELECT a.k, a.v AS av, b.v AS bv FROM input a TIMESTAMP BY t
		JOIN input b TIMESTAMP BY t ON a.k = b.k AND DATEDIFF(second, a, b) BETWEEN 1 AND 5`,
	"left-join": `SELECT a.k, a.v AS av, b.v AS bv FROM input a TIMESTAMP BY t
		LEFT JOIN input b TIMESTAMP BY t ON a.k = b.k AND a.v < b.v AND DATEDIFF(second, a, b) BETWEEN 0 AND 3`,
	"filter": `SELECT * INTO evens FROM input TIMESTAMP BY t WHERE v % 2 = 0
		SELECT k, TopOne() OVER (ORDER BY v DESC) AS best, Collect(v) AS vals INTO tops FROM input TIMESTAMP BY t GROUP BY k, TumblingWindow(second, 15)`,
	"steps": `WITH s AS (SELECT k, COUNT(*) AS n FROM input TIMESTAMP BY t GROUP BY k, TumblingWindow(second, 5))
		SELECT SUM(n) AS total, COUNT(*) AS keys FROM s GROUP BY TumblingWindow(second, 20)`,
}

const determinismTolerance = 10 * time.Second

type genEvent struct {
	value   sqlval.Value
	ts      int64
	arrival int64
}

// genEvents makes n events with times that increase by 0–3 s (ties included) and arrival
// times up to the out-of-order tolerance after their event time.
func genEvents(r *rand.Rand, n int) []genEvent {
	base := int64(1_700_000_000) * TicksPerSecond
	ts := base
	evs := make([]genEvent, n)
	for i := range evs {
		ts += int64(r.IntN(4)) * TicksPerSecond
		rec := sqlval.Record([]sqlval.Field{
			{Name: "k", Value: sqlval.String(fmt.Sprintf("key%d", r.IntN(4)))},
			{Name: "v", Value: sqlval.Bigint(int64(r.IntN(20)))},
			{Name: "t", Value: sqlval.Datetime(ts)},
			{Name: "id", Value: sqlval.Bigint(int64(i))},
		})
		evs[i] = genEvent{value: rec, ts: ts, arrival: ts + r.Int64N(int64(determinismTolerance/100))}
	}
	return evs
}

// arrange splits the events over partitions, orders each partition by arrival (so within the
// tolerance) and interleaves the partitions at random.
func arrange(r *rand.Rand, evs []genEvent, parts int) []Event {
	byPart := make([][]genEvent, parts)
	for _, e := range evs {
		p := r.IntN(parts)
		byPart[p] = append(byPart[p], e)
	}
	for _, p := range byPart {
		slices.SortStableFunc(p, func(a, b genEvent) int { return cmpInt64(a.arrival, b.arrival) })
	}
	var out []Event
	for {
		var live []int
		for i, p := range byPart {
			if len(p) > 0 {
				live = append(live, i)
			}
		}
		if len(live) == 0 {
			return out
		}
		p := live[r.IntN(len(live))]
		e := byPart[p][0]
		byPart[p] = byPart[p][1:]
		out = append(out, Event{Input: "input", Partition: int32(p), Arrival: e.arrival, Value: e.value})
	}
}

func runEvents(t *testing.T, query string, evs []Event, parts int) ([]Row, Counters) {
	t.Helper()
	ps := make([]int32, parts)
	for i := range ps {
		ps[i] = int32(i)
	}
	e, err := Compile(query, Options{OutOfOrder: determinismTolerance, LateArrival: 2 * determinismTolerance,
		Partitions: map[string][]int32{"input": ps}})
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	for _, ev := range evs {
		out, err := e.Push(ev)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, out...)
	}
	out, err := e.Flush()
	if err != nil {
		t.Fatal(err)
	}
	return append(rows, out...), e.Counters()
}

func TestDeterminism(t *testing.T) {
	for name, q := range determinismQueries {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(12) {
				r := rand.New(rand.NewPCG(seed, 7))
				evs := genEvents(r, 150+r.IntN(150))
				sorted := make([]Event, len(evs))
				for i, e := range evs {
					sorted[i] = Event{Input: "input", Arrival: e.ts, Value: e.value}
				}
				want, _ := runEvents(t, q, sorted, 1)
				if len(want) == 0 {
					t.Fatalf("seed %d: no output rows: the property would hold trivially", seed)
				}
				for trial := range 4 {
					parts := 1 + r.IntN(4)
					got, c := runEvents(t, q, arrange(r, evs, parts), parts)
					if c.Late+c.OutOfOrder+c.Early+c.Runtime != 0 {
						t.Fatalf("seed %d trial %d: events outside the tolerance or failing: %+v", seed, trial, c)
					}
					if d := firstDifference(want, got); d != "" {
						t.Fatalf("seed %d trial %d (%d partitions): %s", seed, trial, parts, d)
					}
				}
			}
		})
	}
}

func firstDifference(want, got []Row) string {
	for i := 0; i < max(len(want), len(got)); i++ {
		if i >= len(want) || i >= len(got) {
			return fmt.Sprintf("%d rows, want %d", len(got), len(want))
		}
		w, g := want[i], got[i]
		if w.Output != g.Output || w.Time != g.Time || w.Key != g.Key || !bytes.Equal(w.JSON, g.JSON) {
			return fmt.Sprintf("row %d: got %s %d %s %s, want %s %d %s %s", i, g.Output, g.Time, g.Key, g.JSON, w.Output, w.Time, w.Key, w.JSON)
		}
	}
	return ""
}
