package broker

import (
	"context"
	"sync"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// Partition is one partition of an event hub: its log plus the state that the append step
// derives from the log (idempotent producers). Apply is the deterministic append step: the
// same log, batch and append time always give the same offsets and the same state, which is
// what lets a consensus layer apply committed batches on every replica later.
type Partition struct {
	Namespace, Hub string
	ID             int32

	log *seglog.Log

	mu struct {
		sync.Mutex
		producers map[int64]*producerState
		// snapAt is the offset of the last producer snapshot written or loaded (-1: none),
		// and rollAt the log's active segment base when it was last looked at: a roll
		// writes a snapshot at the new segment's base.
		snapAt, rollAt int64
	}
	// snaps keeps the producer snapshot of a single-node partition; nil for a replicated one,
	// whose replica checkpoint holds the producer state.
	snaps *producerSnapshots
	// replayed is how many batch headers the open replayed to rebuild producer state.
	replayed int

	// waitMu guards waitCh, which is closed and replaced after every append so that
	// long-polling fetchers wake up.
	waitMu sync.Mutex
	waitCh chan struct{}
}

// AppendResult is where an applied batch landed.
type AppendResult struct {
	BaseOffset int64
	LastOffset int64
	AppendTime int64 // log-append time in Unix milliseconds (the Event Hubs enqueued time)
	Duplicate  bool  // an idempotent producer re-sent a batch already written
}

// openPartition opens a partition over l, rebuilding its producer state from every batch
// header in the log.
func openPartition(ns, hub string, id int32, l *seglog.Log) (*Partition, error) {
	return openPartitionWith(ns, hub, id, l, nil)
}

// openPartitionWith opens a partition over l whose producer snapshots snaps keeps (nil:
// none): the state comes from the snapshot when one matches the log, and the batch headers
// after it; otherwise from every batch header in the log.
func openPartitionWith(ns, hub string, id int32, l *seglog.Log, snaps *producerSnapshots) (*Partition, error) {
	p := &Partition{Namespace: ns, Hub: hub, ID: id, log: l, waitCh: make(chan struct{}), snaps: snaps}
	p.mu.producers = make(map[int64]*producerState)
	p.mu.snapAt, p.mu.rollAt = -1, l.ActiveBase()
	from := l.StartOffset()
	if off, recs, ok := snaps.load(l); ok {
		p.mu.producers = producerMap(recs)
		p.mu.snapAt, from = off, off
	}
	if err := p.replayProducersLocked(from); err != nil {
		return nil, err
	}
	return p, nil
}

// replayProducersLocked replays the batch headers of the log from offset from to recover
// idempotent producer state. Only the headers are read.
func (p *Partition) replayProducersLocked(from int64) error {
	return p.log.ScanHeaders(from, func(h batch.Header) bool {
		p.replayed++
		if h.ProducerID >= 0 {
			p.mu.producers[h.ProducerID] = p.mu.producers[h.ProducerID].record(h, h.BaseOffset, h.MaxTimestamp)
		}
		return true
	})
}

// Apply appends one validated v2 record batch, de-duplicating idempotent producers, and
// stamps it with appendTime. b is rewritten in place (base offset, timestamps, CRC).
func (p *Partition) Apply(b []byte, appendTime int64) (AppendResult, error) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return AppendResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var st *producerState
	if h.ProducerID >= 0 {
		st = p.mu.producers[h.ProducerID]
		verdict, dup, err := st.check(h)
		if err != nil {
			return AppendResult{}, err
		}
		if verdict == seqDuplicate {
			return AppendResult{BaseOffset: dup.baseOffset, LastOffset: dup.baseOffset + int64(dup.lastSeq-dup.firstSeq),
				AppendTime: dup.appendTime, Duplicate: true}, nil
		}
	}
	base, last, err := p.log.Append(b, appendTime)
	if err != nil {
		return AppendResult{}, err
	}
	if p.snaps != nil {
		if ab := p.log.ActiveBase(); ab != p.mu.rollAt {
			// The log rolled to a segment starting with this batch: the state before
			// recording it is the state at ab, and everything below ab is fsynced.
			p.mu.rollAt = ab
			p.snapshotLocked(ab)
		}
	}
	if h.ProducerID >= 0 {
		p.mu.producers[h.ProducerID] = st.record(h, base, appendTime)
	}
	p.wake()
	return AppendResult{BaseOffset: base, LastOffset: last, AppendTime: appendTime}, nil
}

func (p *Partition) wake() {
	p.waitMu.Lock()
	close(p.waitCh)
	p.waitCh = make(chan struct{})
	p.waitMu.Unlock()
}

// Changed returns a channel closed at the next append.
func (p *Partition) Changed() <-chan struct{} {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return p.waitCh
}

// WaitDurable blocks until every record before offset is on disk.
func (p *Partition) WaitDurable(ctx context.Context, offset int64) error {
	return p.log.WaitDurable(ctx, offset)
}

// Read returns whole batches starting with the one that holds offset.
func (p *Partition) Read(offset int64, maxBytes int) ([]byte, error) {
	return p.log.Read(offset, maxBytes)
}

// ReadAppend is Read into dst's spare capacity, for callers that reuse buffers.
func (p *Partition) ReadAppend(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	return p.log.ReadAppend(dst, offset, maxBytes)
}

// StartOffset is the first retained offset; EndOffset the next offset to be written (the
// high watermark: only committed data is ever in the log).
func (p *Partition) StartOffset() int64 { return p.log.StartOffset() }
func (p *Partition) EndOffset() int64   { return p.log.EndOffset() }
func (p *Partition) Size() int64        { return p.log.Size() }

// OffsetForTime is the first offset of the first batch enqueued at or after ts (Unix ms).
func (p *Partition) OffsetForTime(ts int64) (int64, error) { return p.log.OffsetForTime(ts) }

// LastEnqueuedTime returns the enqueued time of the last batch, or -1 if the log is empty.
func (p *Partition) LastEnqueuedTime() int64 {
	end := p.log.EndOffset()
	if end == p.log.StartOffset() {
		return -1
	}
	var ts int64 = -1
	// Scanning from end-1 visits exactly the last batch.
	_ = p.log.ScanHeaders(end-1, func(h batch.Header) bool { ts = h.MaxTimestamp; return false })
	return ts
}

func (p *Partition) close() error { return p.log.Close() }

// closeWithSnapshot closes the partition after making its log durable and writing a producer
// snapshot at its end (unless one is there already), so the next open replays nothing.
func (p *Partition) closeWithSnapshot() error {
	if p.snaps != nil {
		p.mu.Lock()
		if end := p.log.EndOffset(); end != p.mu.snapAt && p.log.Sync() == nil {
			p.snapshotLocked(end)
		}
		p.mu.Unlock()
	}
	return p.log.Close()
}

// snapshotLocked writes the producer state as the snapshot at offset, which must be the
// offset the state is exact at and below the log's durable end.
func (p *Partition) snapshotLocked(offset int64) {
	if p.snaps.write(offset, p.mu.producers) {
		p.mu.snapAt = offset
	}
}

// checkOffset reports an errcode.OffsetOutOfRange error if offset is outside the log.
func (p *Partition) checkOffset(offset int64) error {
	start, end := p.log.StartOffset(), p.log.EndOffset()
	if offset < start || offset > end {
		return errcode.New(errcode.OffsetOutOfRange,
			"offset %d is outside partition %d of %s/%s, which holds offsets %d to %d; read from start, end or a time instead",
			offset, p.ID, p.Namespace, p.Hub, start, end)
	}
	return nil
}
