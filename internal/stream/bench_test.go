package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/sqlval"
)

// The two benchmarks: events decoded from JSON and pushed through the engine, one
// goroutine (so events/s is per core). Run:
//
//	go test -run XXX -bench Engine -benchtime 1000000x ./internal/stream/

func benchEvents(n, keys int) [][]byte {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		ts := base.Add(time.Duration(i) * time.Millisecond / 10) // 10,000 events per second of event time
		out[i] = fmt.Appendf(nil, `{"deviceId":"device-%05d","temperature":%d.%d,"humidity":%d,"time":"%s"}`,
			i%keys, 20+i%15, i%10, 40+i%30, ts.Format("2006-01-02T15:04:05.0000000Z"))
	}
	return out
}

func benchEngine(b *testing.B, query string) {
	evs := benchEvents(1<<20, 10_000)
	e, err := Compile(query, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	rows := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw := evs[i%len(evs)]
		bytes += int64(len(raw))
		v, err := sqlval.ParseJSON(raw)
		if err != nil {
			b.Fatal(err)
		}
		// Beyond 2^20 events the file repeats; shift the times so event time keeps moving.
		if i >= len(evs) {
			v = shiftTime(v, int64(i/len(evs))*int64(len(evs))*1000)
		}
		out, err := e.Push(Event{Input: "input", Value: v})
		if err != nil {
			b.Fatal(err)
		}
		rows += len(out)
	}
	out, _ := e.Flush()
	rows += len(out)
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "events/s")
	b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
	b.ReportMetric(float64(rows), "rows")
}

func shiftTime(v sqlval.Value, ticks int64) sqlval.Value {
	fs := append([]sqlval.Field(nil), v.Fields()...)
	for i := range fs {
		if fs[i].Name == "time" {
			t, _ := sqlval.ParseDatetime(fs[i].Value.Str())
			fs[i].Value = sqlval.Datetime(t + ticks)
		}
	}
	return sqlval.Record(fs)
}

// (a) filter and projection.
func BenchmarkEngineFilterProject(b *testing.B) {
	benchEngine(b, `SELECT deviceId, temperature * 1.8 + 32 AS fahrenheit
		FROM input TIMESTAMP BY time WHERE humidity > 50`)
}

// (b) a 10-second tumbling COUNT/AVG by a key with 10,000 distinct keys.
func BenchmarkEngineTumblingByKey(b *testing.B) {
	benchEngine(b, `SELECT deviceId, COUNT(*) AS n, AVG(temperature) AS avgTemp
		FROM input TIMESTAMP BY time GROUP BY deviceId, TumblingWindow(second, 10)`)
}
