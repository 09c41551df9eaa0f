package bench

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestGapTrackerKeepsEachPartitionsLongestGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type ack struct {
		p  int32
		ms int
	}
	for _, tc := range []struct {
		name string
		acks []ack
		want []AckGap
	}{
		{"none", nil, []AckGap{}},
		{"first ack counts from the start", []ack{{0, 30}, {0, 40}}, []AckGap{{0, 30 * time.Millisecond}}},
		{"a stall in the middle", []ack{{1, 5}, {1, 10}, {1, 2010}, {1, 2015}}, []AckGap{{1, 2000 * time.Millisecond}}},
		{"partitions are separate and sorted", []ack{{3, 10}, {2, 500}, {3, 20}, {2, 510}},
			[]AckGap{{2, 500 * time.Millisecond}, {3, 10 * time.Millisecond}}},
		{"an ack reported late does not move time back", []ack{{0, 100}, {0, 90}, {0, 150}},
			[]AckGap{{0, 100 * time.Millisecond}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGapTracker(t0)
			for _, a := range tc.acks {
				g.ack(a.p, at(a.ms))
			}
			got := g.gaps()
			if len(got) != len(tc.want) {
				t.Fatalf("gaps %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("gaps %v, want %v", got, tc.want)
				}
			}
		})
	}
	if g := LongestAckGap([]AckGap{{0, time.Second}, {5, 3 * time.Second}, {7, 2 * time.Second}}); g.Partition != 5 || g.Max != 3*time.Second {
		t.Fatalf("LongestAckGap = %+v, want partition 5, 3s", g)
	}
}

// A broker that stops answering produce requests for a while shows up as a gap at least that
// long, printed on the produce result.
func TestAckGapShowsAStalledBroker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const stall = 400 * time.Millisecond
	var produces atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if produces.Add(1) == 20 { // well after the start: a gap between acks, not before the first
			time.Sleep(stall) // kfake handles requests one at a time: every ack waits
		}
		return nil, nil, false
	})
	res := run(t, Options{Brokers: c.ListenAddrs(), Topic: "g", Partitions: 2, Duration: 1500 * time.Millisecond,
		RecordSize: 16, Mode: ModeProduce, Rate: 400})
	if produces.Load() < 20 {
		t.Fatalf("only %d produce requests; the stall never happened", produces.Load())
	}
	p := res.Produce
	if len(p.AckGaps) == 0 || len(p.AckGaps) > 2 {
		t.Fatalf("ack gaps %v, want one per partition written (keyless records stick to a partition a while)", p.AckGaps)
	}
	g := LongestAckGap(p.AckGaps)
	if g.Max < stall || g.Max > p.Elapsed {
		t.Fatalf("longest ack gap %v, want at least the %v stall and at most the phase (%v)", g, stall, p.Elapsed)
	}
	if s := res.String(); !strings.Contains(s, "longest gap between acknowledgements: ") {
		t.Fatalf("result does not print the gap:\n%s", s)
	}
}
