package multiraft

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// applyTask is one MsgStorageApply, or a snapshot to restore the state
// machine from followed by the responses of its MsgStorageAppend.
type applyTask struct {
	msg   *raftpb.Message
	snap  *raftpb.Snapshot
	resps []*raftpb.Message
	// respsOnly: only deliver resps (an append's, queued behind a snapshot).
	respsOnly bool
	// boot: snap is the log's own snapshot, which the state machine could not restore when
	// the group was added (not counted in snapsQueued).
	boot bool
}

// ErrRestoreRetry, wrapped by a StateMachine.Restore error, says the restore failed without
// changing the state and may succeed later: the data it must copy from another replica is
// unreachable right now, or gone from the replica it asked. The host keeps the snapshot and
// everything queued behind it, frees the apply worker (other groups apply on), and tries again
// after a back-off (one raft tick, doubling up to maxRestoreBackoffTicks), for as long as it
// takes: a failure that persists is logged and counted (tandem_raft_snapshot_restore_failures_total,
// tandem_raft_snapshot_restores_pending), never a reason to stop the group. Any other Restore
// error stops the group, as an Apply error does.
var ErrRestoreRetry = errors.New("multiraft: the snapshot could not be restored yet; retrying")

// maxRestoreBackoffTicks caps the back-off between restore attempts (10s at the default tick).
const maxRestoreBackoffTicks = 100

// applyState is the apply side of a replica; only the apply worker that
// holds the group touches it.
type applyState struct {
	index, term uint64 // last applied entry
	confState   *raftpb.ConfState
	snapIndex   uint64 // index of the last snapshot taken or restored
	snapBytes   int64  // bytes of entries applied since then
	failed      bool
	// restoreFails counts the failed attempts at the snapshot at the head of the queue.
	restoreFails int
}

// proposalHeader prefixes the data of every proposal: a big-endian proposal
// id, so the proposing node finds its waiter when the entry is applied.
const proposalHeader = 8

// processApply runs a group's queued apply tasks in order. Called by one
// apply worker at a time per group.
func (h *Host) processApply(group uint64) {
	r := h.replica(group)
	if r == nil {
		return
	}
	r.apMu.Lock()
	tasks := r.applyQ
	r.applyQ = nil
	r.apMu.Unlock()
	if r.retryTicks.Load() > 0 {
		// A restore waits for its back-off; the tick that ends it queues the group again.
		r.apMu.Lock()
		r.applyQ = append(tasks, r.applyQ...)
		r.apMu.Unlock()
		return
	}
	var out []Envelope
	defer func() {
		if len(out) > 0 {
			h.opts.Transport.Send(out)
		}
	}()
	for i, t := range tasks {
		if r.applyer.failed || r.removed.Load() || h.Err() != nil {
			return
		}
		var err error
		switch {
		case t.respsOnly:
			out = h.deliverLocal(r, t.resps, out)
		case t.snap != nil:
			err = h.restore(r, t.snap)
			if errors.Is(err, ErrRestoreRetry) {
				h.retryRestore(r, tasks[i:], err)
				return
			}
			if err == nil {
				h.restored(r)
				out = h.deliverLocal(r, t.resps, out)
				if !t.boot {
					r.apMu.Lock()
					r.snapsQueued--
					r.apMu.Unlock()
				}
			}
		default:
			err = h.applyEntries(r, t.msg.GetEntries())
			if err == nil {
				out = h.deliverLocal(r, t.msg.GetResponses(), out)
			}
		}
		if err != nil {
			// A state machine that cannot apply stops its group here: raft
			// hears of no further application and the replica stalls.
			r.applyer.failed = true
			h.log.Error("multiraft: group stopped applying", "group", group, "err", err)
			r.failWaiters(err)
			return
		}
	}
}

// retryRestore puts the snapshot whose restore failed, and the tasks behind it, back at the
// head of the group's queue and starts its back-off.
func (h *Host) retryRestore(r *replica, rest []applyTask, err error) {
	r.apMu.Lock()
	r.applyQ = append(slices.Clip(rest), r.applyQ...)
	r.apMu.Unlock()
	a := &r.applyer
	a.restoreFails++
	if !r.restorePending.Swap(true) {
		h.met.restoresPending.Inc()
	}
	h.met.restoreFailures.Inc()
	wait := int64(maxRestoreBackoffTicks)
	if a.restoreFails <= 7 {
		wait = min(wait, int64(1)<<(a.restoreFails-1))
	}
	if n := a.restoreFails; n&(n-1) == 0 || n%64 == 0 {
		lvl := slog.LevelWarn
		if n >= 8 {
			lvl = slog.LevelError // failing for half a minute or more: someone should look
		}
		h.log.Log(context.Background(), lvl, "multiraft: group waits for a snapshot restore; retrying", "group", r.id,
			"snapshot_index", rest[0].snap.GetMetadata().GetIndex(), "attempts", n, "retry_in_ticks", wait, "err", err)
	}
	r.retryTicks.Store(wait)
}

// restored ends a restore's back-off state after it succeeded.
func (h *Host) restored(r *replica) {
	if r.applyer.restoreFails > 0 {
		h.log.Info("multiraft: snapshot restored after failed attempts", "group", r.id, "attempts", r.applyer.restoreFails+1)
		r.applyer.restoreFails = 0
	}
	if r.restorePending.Swap(false) {
		h.met.restoresPending.Dec()
	}
}

func (h *Host) restore(r *replica, snap *raftpb.Snapshot) error {
	md := snap.GetMetadata()
	if md.GetIndex() <= r.applyer.index {
		return nil // the state machine is already past it
	}
	if err := r.sm.Restore(snap); err != nil {
		return fmt.Errorf("restore snapshot at %d: %w", md.GetIndex(), err)
	}
	r.applyer.index, r.applyer.term = md.GetIndex(), md.GetTerm()
	r.applyer.confState = md.GetConfState()
	r.applyer.snapIndex = md.GetIndex()
	r.applyer.snapBytes = 0
	r.applied.Store(md.GetIndex())
	r.appliedTerm.Store(md.GetTerm())
	r.releaseReads()
	h.met.snapshotsRestored.Inc()
	return nil
}

func (h *Host) applyEntries(r *replica, ents []*raftpb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	out := make([]Entry, 0, len(ents))
	type done struct {
		id, index uint64
		data      []byte // the entry's bytes (nil: a membership change)
	}
	var mine []done
	confChanged := false
	for _, e := range ents {
		if e.GetIndex() <= r.applyer.index {
			continue // already in the state machine (restored from a snapshot)
		}
		se := Entry{Index: e.GetIndex(), Term: e.GetTerm()}
		switch e.GetType() {
		case raftpb.EntryNormal:
			if d := e.GetData(); len(d) >= proposalHeader {
				mine = append(mine, done{binary.BigEndian.Uint64(d), e.GetIndex(), d})
				se.Data = d[proposalHeader:]
				r.applyer.snapBytes += int64(len(d))
			}
		case raftpb.EntryConfChange, raftpb.EntryConfChangeV2:
			se.Kind = EntryConfChange
			confChanged = true
			id, err := h.applyConfChange(r, e)
			if err != nil {
				return err
			}
			if id != 0 {
				mine = append(mine, done{id: id, index: e.GetIndex()})
			}
		}
		out = append(out, se)
	}
	if len(out) == 0 {
		return nil
	}
	if err := r.sm.Apply(out); err != nil {
		return fmt.Errorf("apply entries %d-%d: %w", out[0].Index, out[len(out)-1].Index, err)
	}
	last := out[len(out)-1]
	r.applyer.index, r.applyer.term = last.Index, last.Term
	r.applied.Store(last.Index)
	r.appliedTerm.Store(last.Term)
	h.met.applied.Add(float64(len(out)))
	if len(mine) > 0 {
		r.wMu.Lock()
		for _, d := range mine {
			// Only the waiter's own entry: same id and same bytes (see nextID).
			if p, ok := r.waiters[d.id]; ok && bytes.Equal(p.data, d.data) {
				delete(r.waiters, d.id)
				h.met.commitSeconds.Observe(time.Since(p.start).Seconds())
				p.finish(d.index, nil)
			}
		}
		r.wMu.Unlock()
	}
	r.releaseReads()
	return h.maybeSnapshot(r, confChanged)
}

// applyConfChange applies a committed conf change to the RawNode and makes
// the resulting ConfState durable before the state machine moves past it.
// It returns the proposal id carried in the change's context (0: none).
func (h *Host) applyConfChange(r *replica, e *raftpb.Entry) (uint64, error) {
	var cc raftpb.ConfChangeI
	var ctx []byte
	if e.GetType() == raftpb.EntryConfChange {
		c := &raftpb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), c); err != nil {
			return 0, fmt.Errorf("conf change at %d: %w", e.GetIndex(), err)
		}
		cc, ctx = c, c.GetContext()
	} else {
		c := &raftpb.ConfChangeV2{}
		if err := proto.Unmarshal(e.GetData(), c); err != nil {
			return 0, fmt.Errorf("conf change at %d: %w", e.GetIndex(), err)
		}
		cc, ctx = c, c.GetContext()
	}
	r.rnMu.Lock()
	cs := r.rn.ApplyConfChange(cc)
	r.rnMu.Unlock()
	r.applyer.confState = cs
	h.saveMu.RLock()
	var err error
	if !r.removed.Load() {
		err = h.opts.LogStore.Save([]Update{{Group: r.id, ConfState: cs}})
	}
	h.saveMu.RUnlock()
	if err != nil {
		err = fmt.Errorf("multiraft: save conf state: %w", err)
		h.fail(err)
		return 0, err
	}
	var id uint64
	if len(ctx) == proposalHeader {
		id = binary.BigEndian.Uint64(ctx)
	}
	return id, nil
}

// maybeSnapshot snapshots the state machine and compacts the log once
// SnapshotEntries entries were applied since the last snapshot, and at once
// after a conf change: a replica being added that needs a snapshot must find
// itself in the snapshot's ConfState, or it ignores it (raft refuses to
// restore a snapshot that does not name it).
func (h *Host) maybeSnapshot(r *replica, confChanged bool) error {
	n, nb := h.opts.SnapshotEntries, h.opts.SnapshotBytes
	due := r.applyer.index-r.applyer.snapIndex >= uint64(n) ||
		(nb >= 0 && r.applyer.snapBytes >= nb) || (confChanged && r.applyer.snapIndex > 0)
	if n < 0 || !due || r.applyer.index == r.applyer.snapIndex {
		return nil
	}
	data, err := r.sm.Snapshot()
	if err != nil {
		return fmt.Errorf("snapshot at %d: %w", r.applyer.index, err)
	}
	snap := &raftpb.Snapshot{
		Data: data,
		Metadata: &raftpb.SnapshotMetadata{
			Index:     proto.Uint64(r.applyer.index),
			Term:      proto.Uint64(r.applyer.term),
			ConfState: r.applyer.confState,
		},
	}
	h.saveMu.RLock()
	if !r.removed.Load() {
		err = r.storage.SetSnapshot(snap)
	}
	h.saveMu.RUnlock()
	if errors.Is(err, raft.ErrSnapOutOfDate) {
		// A newer snapshot from the leader was recorded while the entries before it were
		// still being applied: it covers this one, so there is nothing to keep.
		err = nil
	}
	if err != nil {
		h.fail(err)
		return err
	}
	r.applyer.snapIndex = r.applyer.index
	r.applyer.snapBytes = 0
	h.met.snapshotsTaken.Inc()
	return nil
}
