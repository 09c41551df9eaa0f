package drillkafka

import (
	"errors"
	"testing"
	"time"
)

func TestAcks(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type ack struct {
		seq        int64
		sent, done int
		err        error
		part       int32
	}
	for _, tc := range []struct {
		name                string
		acks                []ack
		read                []int64
		gap, slowest        time.Duration
		acked, failed, lost int64
		dups, readN         int64
	}{
		{name: "the client's start is no pause", acks: []ack{{1, 0, 900, nil, 0}, {2, 10, 905, nil, 0}, {3, 920, 930, nil, 0}},
			read: []int64{1, 2, 3}, gap: 25 * time.Millisecond, slowest: 10 * time.Millisecond, acked: 3, readN: 3},
		{name: "one partition waits while another goes on", acks: []ack{{1, 0, 5, nil, 0}, {2, 10, 15, nil, 1}, {3, 20, 800, nil, 0},
			{4, 30, 35, nil, 1}, {5, 40, 45, nil, 1}}, read: []int64{1, 2, 3, 4, 5}, gap: 795 * time.Millisecond, slowest: 780 * time.Millisecond, acked: 5, readN: 5},
		{name: "steady", acks: []ack{{1, 0, 5, nil, 0}, {2, 10, 15, nil, 0}, {3, 20, 24, nil, 0}}, read: []int64{1, 2, 3},
			gap: 10 * time.Millisecond, slowest: 5 * time.Millisecond, acked: 3, readN: 3},
		{name: "a pause while a leader is elected", acks: []ack{{1, 0, 5, nil, 0}, {2, 10, 1500, nil, 0}, {3, 20, 1501, nil, 0}, {4, 1600, 1610, nil, 0}},
			read: []int64{4, 3, 2, 1}, gap: 1495 * time.Millisecond, slowest: 1490 * time.Millisecond, acked: 4, readN: 4},
		{name: "a lost and a duplicated record", acks: []ack{{1, 0, 5, nil, 0}, {2, 10, 15, nil, 0}, {3, 20, 25, nil, 0}}, read: []int64{1, 1, 3},
			gap: 10 * time.Millisecond, slowest: 5 * time.Millisecond, acked: 3, lost: 1, dups: 1, readN: 2},
		{name: "a failure is not an acknowledgement", acks: []ack{{1, 0, 5, nil, 0}, {2, 10, 900, errors.New("boom"), 0}, {3, 20, 30, nil, 0}},
			read: []int64{1, 3}, gap: 25 * time.Millisecond, slowest: 10 * time.Millisecond, acked: 2, failed: 1, readN: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAcks()
			for range tc.acks {
				a.Sent()
			}
			for _, k := range tc.acks {
				a.Done(k.seq, k.part, ms(k.sent), ms(k.done), k.err)
			}
			s := a.Check(tc.read)
			if s.Gap != tc.gap || s.Slowest != tc.slowest || s.Acked != tc.acked || s.Failed != tc.failed ||
				s.Lost != tc.lost || s.Duplicates != tc.dups || s.Read != tc.readN || s.Sent != int64(len(tc.acks)) {
				t.Errorf("summary %+v; want gap %v slowest %v acked %d failed %d lost %d dups %d read %d",
					s, tc.gap, tc.slowest, tc.acked, tc.failed, tc.lost, tc.dups, tc.readN)
			}
		})
	}
}
