package multiraft

import "sync"

// scheduler is a ready queue of groups with work, after CockroachDB's raft
// scheduler: a group is queued at most once and handed to at most one worker
// at a time; work that arrives while a worker holds the group queues it again
// when the worker is done. The queue is FIFO, so a simulation that pops it
// from one goroutine is deterministic.
type scheduler struct {
	mu     sync.Mutex
	cond   sync.Cond
	state  map[uint64]uint8 // stateQueued | stateProcessing
	queue  []uint64
	closed bool
}

const (
	stateQueued uint8 = 1 << iota
	stateProcessing
)

func newScheduler() *scheduler {
	s := &scheduler{state: make(map[uint64]uint8)}
	s.cond.L = &s.mu
	return s
}

// enqueue marks the group as having work.
func (s *scheduler) enqueue(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[id]
	if st&stateQueued != 0 {
		return
	}
	s.state[id] = st | stateQueued
	if st&stateProcessing == 0 {
		s.queue = append(s.queue, id)
		s.cond.Signal()
	}
}

// pop takes the next group off the queue and marks it as processing. With
// block it waits for work until close; without, it returns false at once
// when the queue is empty.
func (s *scheduler) pop(block bool) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 {
		if !block || s.closed {
			return 0, false
		}
		s.cond.Wait()
	}
	id := s.queue[0]
	s.queue[0] = 0
	s.queue = s.queue[1:]
	s.state[id] = s.state[id]&^stateQueued | stateProcessing
	return id, true
}

// done releases a group popped before; it goes back on the queue if work
// arrived meanwhile.
func (s *scheduler) done(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[id] &^ stateProcessing
	if st == 0 {
		delete(s.state, id)
		return
	}
	s.state[id] = st
	s.queue = append(s.queue, id)
	s.cond.Signal()
}

// close wakes every blocked pop; they return false once the queue is empty.
func (s *scheduler) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.cond.Broadcast()
}

func (s *scheduler) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}
