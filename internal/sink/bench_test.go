package sink

import (
	"context"
	"testing"
)

// BenchmarkWrite writes batches of 1000 new rows (about 100 bytes each) to each sink and reports
// rows per second. The SQLite sink fsyncs every commit (synchronous=FULL) and the file sink
// every Write; the test PostgreSQL that scripts/test starts runs with fsync off.
func BenchmarkWrite(b *testing.B) {
	const batch = 1000
	for _, k := range kinds() {
		b.Run(k.name, func(b *testing.B) {
			s := open(b, k.url(b, "out"), "out")
			ctx := context.Background()
			template := rows(0, batch)
			span := template[batch-1].Time - template[0].Time + 1e7
			rs := make([]Row, batch)
			n := int64(0)
			for b.Loop() {
				for i := range rs {
					rs[i] = template[i]
					rs[i].Time += n * span
				}
				if err := s.Write(ctx, rs); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n*batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
