package broker

import (
	"time"

	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// Retention of replicated partitions (cluster mode). Every replica applies its hub's retention
// to its own segment files, leader and followers alike, as Kafka's replicas do: whole segments
// go by time (their newest batch is older than RetentionTime) or size (the log would still
// hold RetentionBytes without its oldest segment); the active segment never goes, so the log
// start only moves forward and never past what was applied. Replicas roll segments at the same
// offsets only by chance, so their log starts differ a little; a replica that needs batches
// below a peer's start (catching up from a snapshot) starts its log at that peer's start
// instead (installSegments). The settings are read from the hub at every round, so an
// UpdateHub applies at the next round without reopening anything.

// applyReplicaRetention runs one retention round over this node's partition replicas.
func (b *Broker) applyReplicaRetention() {
	if b.cl == nil {
		return
	}
	hubs := b.hubs.Load()
	b.cl.mu.Lock()
	reps := make([]*replica, 0, len(b.cl.reps))
	for _, r := range b.cl.reps {
		reps = append(reps, r)
	}
	b.cl.mu.Unlock()
	for _, r := range reps {
		h, ok := hubs.hub(r.ns, r.hub)
		if !ok || b.partitionDir(h, r.id) != r.dir { // deleted, or another incarnation
			continue
		}
		n, err := r.rp.ApplyRetentionWith(h.RetentionTime, h.RetentionBytes)
		switch {
		case err != nil && b.groupReplica(r.group) != r.rp:
			// removed meanwhile (its hub was deleted): nothing to report
		case err != nil:
			b.log.Warn("retention failed", "namespace", r.ns, "eventhub", r.hub, "partition", r.id, "group", r.group, "err", err)
		case n > 0:
			b.log.Info("retention deleted segments", "namespace", r.ns, "eventhub", r.hub, "partition", r.id,
				"group", r.group, "segments", n, "log_start", r.rp.Partition().StartOffset())
		}
	}
}

// ApplyRetentionWith deletes the segments retention time t and size limit bytes (0: none)
// let go, as ApplyRetention does with the log's own options.
func (r *ReplicatedPartition) ApplyRetentionWith(t time.Duration, bytes int64) (deletedSegments int, err error) {
	if t <= 0 && bytes <= 0 {
		return 0, nil
	}
	return r.applyRetention(func() (int, error) { return r.p.log.ApplyRetentionWith(t, bytes) })
}

// ApplyRetention deletes old segments by the log's retention options.
func (r *ReplicatedPartition) ApplyRetention() (deletedSegments int, err error) {
	return r.applyRetention(r.p.log.ApplyRetention)
}

// applyRetention deletes segments with del and records the new log start in the checkpoint.
// Applies wait meanwhile. The order keeps a crash at any point recoverable: first a checkpoint
// of everything applied (so the checkpoint's log end is the log's end, inside the active
// segment, which del never deletes), then the deletion, then a checkpoint with the new start.
// A crash between the last two leaves a checkpoint whose start is behind the files, which
// recovery reads from the files. The producer state is in the checkpoint, not in the deleted
// batches, so idempotent producers keep being de-duplicated.
func (r *ReplicatedPartition) applyRetention(del func() (int, error)) (int, error) {
	if r.CheckpointedIndex() != r.Applied() {
		// Most of the fsync outside the apply lock; what is applied meanwhile is synced below.
		if err := r.Checkpoint(); err != nil {
			return 0, err
		}
	}
	r.ckptMu.Lock()
	defer r.ckptMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ckptDone.Load() != r.mu.st.index {
		if err := r.writeCheckpointLocked(); err != nil {
			return 0, err
		}
	}
	n, err := del()
	if n == 0 || err != nil {
		return n, err
	}
	r.mu.st.logStart = r.p.StartOffset()
	r.mu.st.epochs.trimBefore(r.mu.st.logStart)
	return n, r.writeCheckpointLocked()
}

// writeCheckpointLocked fsyncs the log and checkpoints the applied state; the caller holds
// ckptMu and mu.
func (r *ReplicatedPartition) writeCheckpointLocked() error {
	if err := r.p.log.Sync(); err != nil {
		return err
	}
	st := r.mu.st
	st.logStart = r.p.StartOffset()
	r.p.mu.Lock()
	st.producers = producerRecords(r.p.mu.producers)
	r.p.mu.Unlock()
	st.term = 0
	if err := seglog.WriteFileDurable(r.fs, r.ckpt, st.encode()); err != nil {
		return err
	}
	r.mu.sinceCkpt = 0
	r.ckptDone.Store(st.index)
	return nil
}

// ReplicaPartition returns this node's replica of partition id of ns/hub for reading, leader
// or not (nil if the node holds none): for diagnostics and tests, which compare replicas. A
// follower's data may lag the leader's; never append to it.
func (b *Broker) ReplicaPartition(ns, hub string, id int32) *Partition {
	if b.cl == nil {
		return nil
	}
	h, err := b.Hub(ns, hub)
	if err != nil {
		return nil
	}
	r, _, err := b.localReplica(h, id)
	if err != nil || r == nil {
		return nil
	}
	return r.rp.Partition()
}
