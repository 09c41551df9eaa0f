package multiraft

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

func TestSchedulerQueuesOnceAndRequeues(t *testing.T) {
	s := newScheduler()
	s.enqueue(1)
	s.enqueue(2)
	s.enqueue(1) // already queued
	id, _ := s.pop(false)
	s.enqueue(1) // work arrives while 1 is processed: not handed out twice
	var got []uint64
	for {
		x, ok := s.pop(false)
		if !ok {
			break
		}
		got = append(got, x)
		s.done(x)
	}
	if id != 1 || !slices.Equal(got, []uint64{2}) {
		t.Fatalf("popped %d then %v, want 1 then [2]", id, got)
	}
	s.done(1) // 1 had work meanwhile: back on the queue
	if x, ok := s.pop(false); !ok || x != 1 {
		t.Fatalf("after done: %d %v, want 1", x, ok)
	}
	s.done(1)
	if s.len() != 0 || len(s.state) != 0 {
		t.Fatalf("left over: queue %d state %v", s.len(), s.state)
	}
}

// TestSchedulerOneWorkerPerGroup hammers the scheduler from many goroutines
// and checks that no group is ever held by two workers.
func TestSchedulerOneWorkerPerGroup(t *testing.T) {
	s := newScheduler()
	var busy [8]atomic.Int32
	var processed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				id, ok := s.pop(true)
				if !ok {
					return
				}
				if busy[id].Add(1) != 1 {
					t.Errorf("group %d held by two workers", id)
				}
				processed.Add(1)
				busy[id].Add(-1)
				s.done(id)
			}
		})
	}
	var prod sync.WaitGroup
	for p := range 4 {
		prod.Go(func() {
			for i := range 5000 {
				s.enqueue(uint64((i + p) % 8))
			}
		})
	}
	prod.Wait()
	for s.len() > 0 {
		// let the workers drain
		id, ok := s.pop(false)
		if ok {
			s.done(id)
		}
	}
	s.close()
	wg.Wait()
	if processed.Load() == 0 {
		t.Fatal("nothing processed")
	}
}
