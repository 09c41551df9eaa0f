package multiraft

import (
	"fmt"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// appendTask is one MsgStorageAppend of one group.
type appendTask struct {
	r   *replica
	msg *raftpb.Message
}

// appendQueue collects the MsgStorageAppend messages of all groups for the
// storage writer. Everything queued while a Save runs goes into the next
// one: group commit without a timer.
type appendQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	tasks  []appendTask
	closed bool
}

func (q *appendQueue) init() { q.cond.L = &q.mu }

func (q *appendQueue) add(r *replica, msgs []*raftpb.Message) {
	q.mu.Lock()
	for _, m := range msgs {
		q.tasks = append(q.tasks, appendTask{r: r, msg: m})
	}
	q.mu.Unlock()
	q.cond.Signal()
}

// take returns everything queued; with block it waits for work until close.
func (q *appendQueue) take(block bool) ([]appendTask, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.tasks) == 0 {
		if !block || q.closed {
			return nil, false
		}
		q.cond.Wait()
	}
	t := q.tasks
	q.tasks = nil
	return t, true
}

func (q *appendQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// toUpdate turns a MsgStorageAppend into the update the LogStore persists.
func toUpdate(group uint64, m *raftpb.Message) Update {
	u := Update{Group: group, Entries: m.GetEntries()}
	if m.Term != nil || m.Vote != nil || m.Commit != nil {
		// raft sets the three together when the HardState changed.
		u.HardState = &raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
	}
	if s := m.GetSnapshot(); s != nil && !raft.IsEmptySnap(s) {
		u.Snapshot = s
	}
	return u
}

// flushAppends makes one batch of appends durable with one LogStore.Save and
// then delivers their responses. An append carrying a snapshot goes through
// the group's apply queue instead, so that the state machine is restored
// from it in order with the entries applied before it.
func (h *Host) flushAppends(batch []appendTask) {
	if h.Err() != nil {
		return
	}
	updates := make([]Update, 0, len(batch))
	h.saveMu.RLock()
	for _, t := range batch {
		if !t.r.removed.Load() { // a removed group's state is gone from the store
			updates = append(updates, toUpdate(t.r.id, t.msg))
		}
	}
	start := time.Now()
	err := h.opts.LogStore.Save(updates)
	h.saveMu.RUnlock()
	if err != nil {
		h.fail(fmt.Errorf("multiraft: log store save of %d updates: %w", len(updates), err))
		return
	}
	h.met.saveSeconds.Observe(time.Since(start).Seconds())
	h.met.saveUpdates.Observe(float64(len(updates)))
	var out []Envelope
	for _, t := range batch {
		if t.r.removed.Load() {
			continue
		}
		t.r.apMu.Lock()
		s := t.msg.GetSnapshot()
		if isSnap := s != nil && !raft.IsEmptySnap(s); isSnap || t.r.snapsQueued > 0 {
			// Behind a snapshot still being restored, responses wait their turn.
			task := applyTask{resps: t.msg.GetResponses(), respsOnly: !isSnap}
			if isSnap {
				task.snap = s
				t.r.snapsQueued++
			}
			t.r.applyQ = append(t.r.applyQ, task)
			t.r.apMu.Unlock()
			h.applyQ.enqueue(t.r.id)
			continue
		}
		t.r.apMu.Unlock()
		out = h.deliverLocal(t.r, t.msg.GetResponses(), out)
	}
	if len(out) > 0 {
		h.opts.Transport.Send(out)
	}
}
