package spool

import (
	"sync"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// TestAppenderAndReplayer runs one appender and one replayer on a spool with small segments and a
// small bound, as a dual-write producer does: the appender waits for room when the spool is full,
// the replayer for records when it is empty. The replayer must see every record once, in order.
func TestAppenderAndReplayer(t *testing.T) {
	const total = 3000
	s := openSpool(t, t.TempDir(), Options{MaxBytes: 16 << 10, SegmentBytes: 2 << 10})
	kick, freed := make(chan struct{}, 1), make(chan struct{}, 1)
	signal := func(c chan struct{}) {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	var appendErr, replayErr error
	appenderDone, replayerDone := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(appenderDone)
		for seq := uint64(1); seq <= total; {
			recs := [][]byte{payload(seq), payload(seq + 1), payload(seq + 2)}
			_, last, err := s.Append(recs)
			if errcode.Is(err, errcode.QuotaExceeded) {
				select {
				case <-freed:
				case <-replayerDone:
					return
				}
				continue
			}
			if err != nil {
				appendErr = err
				return
			}
			seq = last + 1
			signal(kick)
		}
	})
	wg.Go(func() {
		defer close(replayerDone)
		next := uint64(1)
		for next <= total {
			recs, err := s.Peek(50, 4<<10)
			if err == nil && len(recs) == 0 {
				select {
				case <-kick:
				case <-appenderDone:
					if s.Len() == 0 {
						replayErr = errcode.New(errcode.Mismatch, "the appender stopped; %d records were replayed", next-1)
						return
					}
				}
				continue
			}
			for _, r := range recs {
				if r.Seq != next || string(r.Data) != string(payload(next)) {
					replayErr = errcode.New(errcode.Mismatch, "replayed record %d, want %d", r.Seq, next)
				}
				next++
			}
			if err == nil && replayErr == nil {
				err = s.Ack(recs[len(recs)-1].Seq)
			}
			if err != nil || replayErr != nil {
				replayErr = cmpOrErr(replayErr, err)
				return
			}
			signal(freed)
		}
	})
	wg.Wait()
	if appendErr != nil || replayErr != nil {
		t.Fatalf("appender: %v; replayer: %v", appendErr, replayErr)
	}
	checkHeld(t, s, total+1, total)
}

func cmpOrErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
