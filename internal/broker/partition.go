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
	}

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

func openPartition(ns, hub string, id int32, l *seglog.Log) (*Partition, error) {
	p := &Partition{Namespace: ns, Hub: hub, ID: id, log: l, waitCh: make(chan struct{})}
	p.mu.producers = make(map[int64]*producerState)
	if err := p.rebuildProducersLocked(); err != nil {
		return nil, err
	}
	return p, nil
}

// rebuildProducersLocked replays the batch headers of the log to recover idempotent
// producer state. Only the headers are read, so this is cheap even for large logs.
func (p *Partition) rebuildProducersLocked() error {
	return p.log.ScanHeaders(p.log.StartOffset(), func(h batch.Header) bool {
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
