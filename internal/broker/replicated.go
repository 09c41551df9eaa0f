package broker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// CheckpointFile is the name of a replicated partition's checkpoint in its log directory.
const CheckpointFile = "replica.checkpoint"

// defaultCheckpointEvery is how many applied entries pass between checkpoints by default.
const defaultCheckpointEvery = 1024

// ReplicatedOptions configure a ReplicatedPartition.
type ReplicatedOptions struct {
	Namespace, Hub string
	ID             int32
	// Log configures the segment log; Log.Dir is the partition's directory, which also holds
	// the checkpoint. Its fsync policy matters little: the checkpoint fsyncs what it covers.
	Log seglog.Options
	// CheckpointEvery: applied entries between checkpoints (default 1024). Fewer means a
	// shorter WAL replay after a crash and an earlier WAL garbage collection.
	CheckpointEvery int
	// Group is the partition's raft group id, which Segments is asked for.
	Group uint64
	// Segments, if set, lets Restore copy the batches a raft snapshot covers from another
	// replica; without it Restore refuses snapshots ahead of the local log
	// (ErrSnapshotNeedsSegments).
	Segments SegmentSource
}

// ReplicatedPartition is an event hub partition as the state machine of its raft group
// (replication.md §3.3 "Apply", §3.5): every replica applies the same committed entries
// through the deterministic Partition.Apply, so offsets are assigned at apply, gap-free and
// identical everywhere, and the segment files only ever hold applied (committed) data. It
// implements multiraft.StateMachine.
//
// Apply also stamps each written batch with partitionLeaderEpoch = epochBase + raft term and
// keeps the epoch history that OffsetForLeaderEpoch answers from.
//
// Durability: the segment log is not fsynced at apply. A checkpoint (every CheckpointEvery
// entries, at Snapshot and at Close) fsyncs the segments and then records {applied index,
// next offset, epoch history, ...}; on open the log is truncated back to the checkpoint and
// Applied reports its index, so the host replays the WAL after it and the bytes come out the
// same.
type ReplicatedPartition struct {
	p     *Partition
	fs    seglog.FS
	ckpt  string // checkpoint path
	every int

	group    uint64
	segments SegmentSource // nil: snapshots ahead of the log are refused
	closing  context.Context
	stop     context.CancelFunc

	mu struct {
		sync.Mutex
		st        replicaState // index, epochs, epochBase, lastAppendTime as applied
		sinceCkpt int
	}
	ckptMu   sync.Mutex // serialises checkpoints
	ckptDone atomic.Uint64

	// proposer side (the leader)
	nextID       atomic.Uint64
	lastProposed atomic.Int64
	resMu        sync.Mutex
	results      map[uint64]*proposalResult // registered proposal ids
}

type proposalResult struct {
	done bool
	res  AppendResult
	err  error
}

// ErrSnapshotNeedsSegments: a raft snapshot is ahead of this replica's segment files and the
// replica has no SegmentSource to copy the missing batches from.
var ErrSnapshotNeedsSegments = errors.New("replicated partition: the snapshot is ahead of this replica's segment files, which must be copied from another replica first, and no segment source is configured")

var _ multiraft.StateMachine = (*ReplicatedPartition)(nil)

// OpenReplicated opens (or creates) a replicated partition. After a crash the segment log is
// truncated to the last checkpoint, whose applied index Applied then reports.
func OpenReplicated(opts ReplicatedOptions) (*ReplicatedPartition, error) {
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = defaultCheckpointEvery
	}
	fsys := opts.Log.FS
	if fsys == nil {
		fsys = seglog.OSFS{}
	}
	r := &ReplicatedPartition{fs: fsys, ckpt: filepath.Join(opts.Log.Dir, CheckpointFile),
		every: opts.CheckpointEvery, results: make(map[uint64]*proposalResult),
		group: opts.Group, segments: opts.Segments}
	st, found, err := r.readCheckpoint()
	if err != nil {
		return nil, err
	}
	if found {
		if err := removeUncommittedSegments(fsys, opts.Log.Dir, st); err != nil {
			return nil, err
		}
	}
	l, err := seglog.Open(opts.Log)
	if err != nil {
		return nil, err
	}
	if err := r.recoverLog(l, &st, found); err != nil {
		l.Close()
		return nil, err
	}
	// The producer state comes from the checkpoint, not from the log: retention may have
	// deleted batches that other replicas' producer state still remembers.
	r.p = &Partition{Namespace: opts.Namespace, Hub: opts.Hub, ID: opts.ID, log: l, waitCh: make(chan struct{})}
	r.p.mu.producers = producerMap(st.producers)
	st.producers = nil
	r.mu.st = st
	r.closing, r.stop = context.WithCancel(context.Background())
	r.ckptDone.Store(st.index)
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		l.Close()
		return nil, err
	}
	// A random start: ids of an earlier incarnation (or another leader) never match ours.
	r.nextID.Store(binary.BigEndian.Uint64(seed[:]) >> 1)
	r.lastProposed.Store(-1)
	return r, nil
}

// readCheckpoint reads the checkpoint; found is false if there is none (nothing was applied
// durably).
func (r *ReplicatedPartition) readCheckpoint() (st replicaState, found bool, err error) {
	data, err := readFile(r.fs, r.ckpt)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return replicaState{lastAppendTime: -1}, false, nil
	case err != nil:
		return st, false, fmt.Errorf("read the checkpoint of a replicated partition: %w", err)
	}
	if st, err = decodeReplicaState(data); err != nil {
		return st, false, fmt.Errorf("replicated partition checkpoint: %w", err)
	}
	return st, true, nil
}

// recoverLog truncates the log to the checkpoint st (none: to the log's start): whatever the
// log holds past it was applied but not checkpointed, and the host will apply it again from
// the WAL.
func (r *ReplicatedPartition) recoverLog(l *seglog.Log, st *replicaState, found bool) error {
	if !found {
		st.logStart, st.nextOffset = l.StartOffset(), l.StartOffset()
	}
	if l.EndOffset() < st.nextOffset || l.StartOffset() > st.nextOffset {
		return fmt.Errorf("replicated partition: the segment log holds [%d, %d) but the checkpoint at index %d needs it to end at %d; the segment files were lost or moved",
			l.StartOffset(), l.EndOffset(), st.index, st.nextOffset)
	}
	if err := l.TruncateTo(st.nextOffset); err != nil {
		return err
	}
	st.logStart = l.StartOffset()
	st.epochs.trimBefore(st.logStart)
	return nil
}

func readFile(fsys seglog.FS, name string) ([]byte, error) {
	if _, ok := fsys.(seglog.OSFS); ok {
		return os.ReadFile(name)
	}
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := fsys.Stat(name)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, fi.Size())
	n, err := f.ReadAt(buf, 0)
	if n == len(buf) {
		err = nil
	}
	return buf[:n], err
}

// Partition is the partition for reads (Fetch, ListOffsets); never append to it directly.
func (r *ReplicatedPartition) Partition() *Partition { return r.p }

// Applied is the index of the last applied entry.
func (r *ReplicatedPartition) Applied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.st.index
}

// CheckpointedIndex is the applied index the last checkpoint made durable: the WAL may drop
// this group's entries up to it.
func (r *ReplicatedPartition) CheckpointedIndex() uint64 { return r.ckptDone.Load() }

// LeaderEpoch is the latest leader epoch applied (-1 before any entry).
func (r *ReplicatedPartition) LeaderEpoch() int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.st.epochs.latest()
}

// Epochs returns a copy of the epoch history.
func (r *ReplicatedPartition) Epochs() []EpochEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]EpochEntry(nil), r.mu.st.epochs...)
}

// EpochEndOffset answers OffsetForLeaderEpoch for epoch (KIP-101/KIP-279): the end offset of
// the largest known epoch <= epoch, and that epoch; (-1, -1) if unknown.
func (r *ReplicatedPartition) EpochEndOffset(epoch int32) (endOffset int64, epochFound int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.st.epochs.endOffsetFor(epoch, r.p.EndOffset())
}

// Close checkpoints and closes the segment log.
func (r *ReplicatedPartition) Close() error {
	r.stop()
	err := r.Checkpoint()
	if cerr := r.p.close(); err == nil {
		err = cerr
	}
	return err
}

// Checkpoint fsyncs the segment log and records the applied state durably.
func (r *ReplicatedPartition) Checkpoint() error {
	_, err := r.checkpoint()
	return err
}

func (r *ReplicatedPartition) checkpoint() (replicaState, error) {
	r.ckptMu.Lock()
	defer r.ckptMu.Unlock()
	r.mu.Lock()
	st := r.mu.st
	st.epochs = append(epochHistory(nil), st.epochs...)
	r.mu.sinceCkpt = 0
	r.p.mu.Lock() // apply holds r.mu, so the producer state matches st.index
	st.producers = producerRecords(r.p.mu.producers)
	r.p.mu.Unlock()
	r.mu.Unlock()
	st.logStart = r.p.StartOffset()
	// The log may hold more than st covers (an apply after the copy): recovery truncates it.
	if err := r.p.log.Sync(); err != nil {
		return st, err
	}
	st.term = 0
	if err := seglog.WriteFileDurable(r.fs, r.ckpt, st.encode()); err != nil {
		return st, err
	}
	r.ckptDone.Store(st.index)
	return st, nil
}

// Snapshot checkpoints and returns the raft snapshot descriptor as of Applied(). Segment
// files are not part of it (they would be shipped out of band).
func (r *ReplicatedPartition) Snapshot() ([]byte, error) {
	st, err := r.checkpoint()
	if err != nil {
		return nil, err
	}
	return st.encode(), nil
}

// Restore adopts a snapshot's state, producer state included. If the local log ends before the
// snapshot, the missing batches are first copied from another replica through
// ReplicatedOptions.Segments and installed crash-safely (without a SegmentSource it refuses
// with ErrSnapshotNeedsSegments); a copy that fails (no peer reachable, or none holds the
// batches any more) wraps multiraft.ErrRestoreRetry, and the host retries later. If the local
// log ends past the snapshot, the replicas have diverged and it refuses. Nothing changes on
// refusal.
func (r *ReplicatedPartition) Restore(snap *raftpb.Snapshot) error {
	st, err := decodeReplicaState(snap.GetData())
	if err != nil {
		return fmt.Errorf("replicated partition snapshot: %w", err)
	}
	st.index = snap.GetMetadata().GetIndex()
	end := r.p.EndOffset()
	switch {
	case end > st.nextOffset:
		return fmt.Errorf("replicated partition: this replica's log ends at %d, past the snapshot's %d at index %d; the replicas have diverged",
			end, st.nextOffset, st.index)
	case st.index <= r.Applied():
		return nil
	case end < st.nextOffset && r.segments == nil:
		return fmt.Errorf("%w: the snapshot at index %d ends at offset %d, this replica's log at %d",
			ErrSnapshotNeedsSegments, st.index, st.nextOffset, end)
	case end < st.nextOffset:
		return r.installSegments(st)
	}
	st.logStart = r.p.StartOffset()
	st.epochs.trimBefore(st.logStart)
	r.mu.Lock()
	st.lastAppendTime = max(st.lastAppendTime, r.mu.st.lastAppendTime)
	r.mu.Unlock()
	r.adopt(st)
	return r.Checkpoint()
}

// Apply applies committed entries in order (multiraft calls it from one goroutine at a time).
// It depends only on the entries and the prior state, so every replica writes the same bytes.
// A batch the partition refuses (sequence gap, fenced producer epoch, malformed) writes
// nothing and fails only its proposer; an I/O error stops the group.
func (r *ReplicatedPartition) Apply(entries []multiraft.Entry) error {
	r.mu.Lock()
	n := 0
	for _, e := range entries {
		if e.Index <= r.mu.st.index {
			continue
		}
		id, res, err := r.applyOneLocked(e)
		if errors.Is(err, errApplyFailed) {
			r.mu.Unlock()
			return err
		}
		r.mu.st.index = e.Index
		n++
		if id != 0 {
			r.deliver(id, res, err)
		}
	}
	r.mu.sinceCkpt += n
	due := r.mu.sinceCkpt >= r.every
	r.mu.Unlock()
	if due {
		return r.Checkpoint()
	}
	return nil
}

// errApplyFailed marks errors that must stop the group (I/O, an entry this node cannot read).
var errApplyFailed = errors.New("replicated partition cannot apply")

// applyOneLocked applies one entry. It returns the entry's proposal id (0: none) with its
// outcome; an error wrapping errApplyFailed stops the group.
func (r *ReplicatedPartition) applyOneLocked(e multiraft.Entry) (uint64, AppendResult, error) {
	st := &r.mu.st
	epoch := int64(st.epochBase) + int64(e.Term)
	if epoch > math.MaxInt32 {
		return 0, AppendResult{}, fmt.Errorf("%w: leader epoch %d+%d overflows", errApplyFailed, st.epochBase, e.Term)
	}
	// An epoch starts at its first entry (a new leader's empty entry), as Kafka records the
	// epoch's start at the log end when a leader is elected.
	st.epochs.assign(int32(epoch), r.p.EndOffset())
	if e.Kind != multiraft.EntryNormal || len(e.Data) == 0 {
		return 0, AppendResult{}, nil
	}
	pe, err := decodeEntry(e.Data)
	if err != nil {
		return 0, AppendResult{}, fmt.Errorf("%w: entry %d: %v", errApplyFailed, e.Index, err)
	}
	if pe.typ == EntryControl {
		return pe.proposalID, AppendResult{}, r.applyControlLocked(pe.body, e.Term)
	}
	b := append([]byte(nil), pe.body...) // Apply rewrites it; the raft log must keep its bytes
	h, err := checkBatch(b)
	if err == nil {
		err = r.p.precheck(h)
	}
	if err != nil {
		return pe.proposalID, AppendResult{}, err
	}
	batch.SetPartitionLeaderEpoch(b, int32(epoch))
	t := max(pe.appendTime, st.lastAppendTime) // timestamps never go back, whatever the leader's clock
	res, err := r.p.Apply(b, t)
	if err != nil {
		return 0, AppendResult{}, fmt.Errorf("%w: entry %d: %w", errApplyFailed, e.Index, err)
	}
	if !res.Duplicate {
		st.lastAppendTime = t
	}
	st.nextOffset = r.p.EndOffset()
	return pe.proposalID, res, nil
}

func (r *ReplicatedPartition) applyControlLocked(body []byte, term uint64) error {
	switch body[0] {
	case ctlEpochBase:
		if len(body) != 5 {
			return errcode.New(errcode.InvalidArgument, "epoch base command of %d bytes", len(body))
		}
		base := int32(binary.BigEndian.Uint32(body[1:]))
		epoch := int64(base) + int64(term)
		if base < r.mu.st.epochBase || epoch > math.MaxInt32 {
			return errcode.New(errcode.InvalidArgument, "epoch base %d refused: the base is %d and epochs must not go back or overflow", base, r.mu.st.epochBase)
		}
		r.mu.st.epochBase = base
		r.mu.st.epochs.assign(int32(epoch), r.p.EndOffset())
		return nil
	}
	return errcode.New(errcode.InvalidArgument, "unknown partition control command %d", body[0])
}

// checkBatch is what apply re-checks of a batch, cheaply (the leader checked the CRC).
func checkBatch(b []byte) (batch.Header, error) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return h, err
	}
	if h.Size() != len(b) {
		return h, errcode.New(errcode.CorruptData, "entry holds %d bytes but its batch is %d bytes", len(b), h.Size())
	}
	if h.NumRecords == 0 {
		return h, errcode.New(errcode.CorruptData, "record batch has no records; send at least one record")
	}
	if h.IsTransactional() || h.IsControl() {
		return h, errcode.New(errcode.InvalidArgument, "transactional batches are not supported; use an idempotent producer without a transactional id")
	}
	return h, nil
}

// precheck is the producer check Apply makes, without writing: what it refuses, Apply would.
func (p *Partition) precheck(h batch.Header) error {
	if h.ProducerID < 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _, err := p.mu.producers[h.ProducerID].check(h)
	return err
}

// GroupProposer proposes data to a raft group and returns its index once it is applied on
// this node (multiraft.Host).
type GroupProposer interface {
	Propose(ctx context.Context, group uint64, data []byte) (uint64, error)
}

// Append is the leader's produce path for one v2 record batch: it validates the batch (framing,
// CRC, sizes, as Broker.Append does), chooses the append time max(now, last append time) so
// timestamps never go back, proposes the entry to group and returns where the batch landed once
// it is applied here. A multi-batch record set is split by the caller (batch.SplitComplete).
// Errors from the proposer (not leader, leadership lost, ctx) leave the outcome unknown.
func (r *ReplicatedPartition) Append(ctx context.Context, prop GroupProposer, group uint64, b []byte, now time.Time, maxEventBytes int) (AppendResult, error) {
	if err := validateProduceBatch(b, maxEventBytes); err != nil {
		return AppendResult{}, err
	}
	t := r.chooseAppendTime(now.UnixMilli())
	id := r.nextID.Add(1)
	slot := &proposalResult{}
	r.resMu.Lock()
	r.results[id] = slot
	r.resMu.Unlock()
	defer func() {
		r.resMu.Lock()
		delete(r.results, id)
		r.resMu.Unlock()
	}()
	if _, err := prop.Propose(ctx, group, EncodeBatchEntry(b, t, id)); err != nil {
		return AppendResult{}, err
	}
	r.resMu.Lock()
	defer r.resMu.Unlock()
	if !slot.done {
		// Applied before this incarnation (restored from a snapshot): nothing to report.
		return AppendResult{}, errcode.New(errcode.Unavailable, "the batch was committed but its result is unknown; retry with an idempotent producer")
	}
	return slot.res, slot.err
}

// chooseAppendTime returns max(now, last applied, last proposed) and remembers it.
func (r *ReplicatedPartition) chooseAppendTime(now int64) int64 {
	r.mu.Lock()
	applied := r.mu.st.lastAppendTime
	r.mu.Unlock()
	for {
		last := r.lastProposed.Load()
		t := max(now, applied, last)
		if r.lastProposed.CompareAndSwap(last, t) {
			return t
		}
	}
}

func (r *ReplicatedPartition) deliver(id uint64, res AppendResult, err error) {
	r.resMu.Lock()
	if s := r.results[id]; s != nil {
		s.done, s.res, s.err = true, res, err
	}
	r.resMu.Unlock()
}

// validateProduceBatch checks one batch as Broker.Append does.
func validateProduceBatch(b []byte, maxEventBytes int) error {
	hdr, err := batch.Validate(b)
	if err != nil {
		return err
	}
	if hdr.NumRecords == 0 {
		return errcode.New(errcode.CorruptData, "record batch has no records; send at least one record")
	}
	if hdr.IsTransactional() || hdr.IsControl() {
		return errcode.New(errcode.InvalidArgument, "transactional batches are not supported; use an idempotent producer without a transactional id")
	}
	m, err := batch.MaxRecordSize(b)
	if err != nil {
		return err
	}
	if maxEventBytes > 0 && m > maxEventBytes {
		return errcode.New(errcode.MessageTooLarge,
			"an event of %d bytes (key, value and headers) exceeds the maximum event size (%d bytes); send smaller events", m, maxEventBytes)
	}
	return nil
}
