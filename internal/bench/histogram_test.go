package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// The bucket of every value must contain it, and be narrow enough that reporting its upper
// edge errs by less than 1/subCount of the value.
func TestBucketsContainTheirValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	values := []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64}
	for range 10000 {
		values = append(values, rng.Uint64N(1<<uint(rng.IntN(63)+1)))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, numBuckets)
		}
		hi := bucketHigh(i)
		if hi < v {
			t.Fatalf("bucket %d of %d ends at %d, below the value", i, v, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("value %d also fits the previous bucket %d (ends at %d)", v, i-1, bucketHigh(i-1))
		}
		if v < 2*subCount && hi != v {
			t.Fatalf("small value %d is not exact: bucket ends at %d", v, hi)
		}
		if float64(hi-v) > float64(v)/subCount {
			t.Fatalf("value %d reported as %d: error above 1/%d", v, hi, subCount)
		}
	}
}

func TestQuantilesOfKnownInputs(t *testing.T) {
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{0.999, 9990 * time.Microsecond},
		{1, 10000 * time.Microsecond},
		{0.0001, 1 * time.Microsecond},
	} {
		got := h.Quantile(tc.q)
		if got < tc.want || float64(got-tc.want) > float64(tc.want)/subCount {
			t.Errorf("Quantile(%v) = %v, want %v within +1/%d", tc.q, got, tc.want, subCount)
		}
	}
	s := h.Summary()
	if s.Count != 10000 || s.Max != 10*time.Millisecond {
		t.Errorf("count %d max %v, want 10000 and 10ms exactly", s.Count, s.Max)
	}
	if want := 5000500 * time.Nanosecond; s.Mean != want {
		t.Errorf("mean %v, want exactly %v", s.Mean, want)
	}
}

func TestQuantileOfOneValueIsThatValue(t *testing.T) {
	var h Histogram
	h.Record(1234567 * time.Nanosecond)
	for _, q := range []float64{0.5, 0.99, 0.999, 1} {
		if got := h.Quantile(q); got != 1234567*time.Nanosecond {
			t.Errorf("Quantile(%v) = %v, want the only value (capped at the exact max)", q, got)
		}
	}
}

func TestEmptyHistogramReportsZeros(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Fatalf("empty histogram: %+v", h.Summary())
	}
}

func TestNegativeDurationsCountAsZero(t *testing.T) {
	var h Histogram
	h.Record(-time.Second)
	if h.Count() != 1 || h.Quantile(1) != 0 || h.Max() != 0 {
		t.Fatalf("negative value: %+v", h.Summary())
	}
}

// Property: on a heavy-tailed random sample, every quantile matches the exact one computed by
// sorting, within the histogram's relative error.
func TestQuantilesMatchSortedSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 20 {
		var h Histogram
		n := 1 + rng.IntN(50000)
		sample := make([]time.Duration, n)
		for i := range sample {
			// log-uniform between 1µs and ~1s, as latencies are.
			sample[i] = time.Duration(math.Exp(rng.Float64()*math.Log(1e9/1e3)) * 1e3)
			h.Record(sample[i])
		}
		slices.Sort(sample)
		for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
			exact := sample[max(int(math.Ceil(q*float64(n)))-1, 0)]
			got := h.Quantile(q)
			if got < exact || float64(got-exact) > float64(exact)/subCount {
				t.Fatalf("trial %d n=%d q=%v: got %v, exact %v", trial, n, q, got, exact)
			}
		}
	}
}

func TestConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 4000 || h.Max() != 3999*time.Microsecond {
		t.Fatalf("after concurrent recording: count %d max %v", h.Count(), h.Max())
	}
}
