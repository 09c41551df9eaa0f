package dualwrite_test

import (
	"context"
	"testing"
)

// BenchmarkSend dual-writes batches of 100 and 1000 small events to two regions that are up
// (HTTP on loopback, durable acknowledgements), and to one up and one cut off (its spool takes
// them, fsync per batch). Sends are serialised (that keeps the regions in the same order), so
// this is one producer's throughput.
func BenchmarkSend(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cut   bool
		batch int
	}{{"both-up/100", false, 100}, {"one-spooled/100", true, 100}, {"both-up/1000", false, 1000}, {"one-spooled/1000", true, 1000}} {
		b.Run(tc.name, func(b *testing.B) {
			east, west := startRegion(b, "east"), startRegion(b, "west")
			w := open(b, b.TempDir(), 0, east, west)
			defer w.Close()
			if tc.cut {
				west.proxy.Cut()
			}
			batch := events(0, tc.batch)
			b.ResetTimer()
			for b.Loop() {
				if _, err := w.Send(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*tc.batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
