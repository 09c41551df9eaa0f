package broker

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
)

// partSlot is a single-node partition in the broker's map, from the moment its first use
// starts opening it: the first use opens the log outside the broker lock and closes done;
// concurrent uses of the same partition wait for done and share the result, and uses of
// every other partition go on meanwhile. Opening a large partition after a restart (log
// recovery, producer state from the snapshot and the batch headers after it) can take a
// while, and must never stall the node.
type partSlot struct {
	done chan struct{}
	p    *Partition // set before done is closed; nil if the open failed
	err  error
}

// localPartition returns partition id of h on a single node, opening it on first use.
func (b *Broker) localPartition(h HubInfo, id int32) (*Partition, error) {
	key := partKey{h.Namespace, h.Name, h.Incarnation, id}
	b.mu.Lock()
	s, ok := b.mu.parts[key]
	if !ok {
		if b.mu.closed {
			b.mu.Unlock()
			return nil, errcode.New(errcode.Unavailable, "the broker is shutting down; retry on another node or after it restarts")
		}
		s = &partSlot{done: make(chan struct{})}
		b.mu.parts[key] = s
	}
	b.mu.Unlock()
	if ok {
		<-s.done
		return s.p, s.err
	}
	s.p, s.err = b.openLocal(h, id)
	if s.err != nil {
		// Forget the failed open, so that the next use tries again.
		b.mu.Lock()
		if b.mu.parts[key] == s {
			delete(b.mu.parts, key)
		}
		b.mu.Unlock()
	}
	close(s.done)
	return s.p, s.err
}

// openLocal opens partition id of h from its directory; no broker lock is held.
func (b *Broker) openLocal(h HubInfo, id int32) (*Partition, error) {
	dir := b.partitionDir(h, id)
	logger := b.log.With("namespace", h.Namespace, "eventhub", h.Name, "partition", id)
	// The log's files count against the node's budget: idle partitions beyond it close their
	// files and keep their state (log indexes, idempotent producers) in memory, so a reopen
	// opens files and nothing more.
	l, err := seglog.Open(seglog.Options{
		Dir:            dir,
		SegmentBytes:   b.opts.SegmentBytes,
		Fsync:          b.opts.Fsync,
		RetentionTime:  h.RetentionTime,
		RetentionBytes: h.RetentionBytes,
		Now:            b.opts.Now,
		Logger:         logger,
		Name:           fmt.Sprintf("partition %d of %s/%s", id, h.Namespace, h.Name),
		Budget:         b.files,
		FS:             b.opts.FS,
	})
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, "opening partition %d of %s/%s: %w", id, h.Namespace, h.Name, err)
	}
	p, err := openPartitionWith(h.Namespace, h.Name, id, l, newProducerSnapshots(b.opts.FS, dir, logger))
	if err != nil {
		l.Close()
		return nil, errcode.New(errcode.Unavailable, "recovering partition %d of %s/%s: %w", id, h.Namespace, h.Name, err)
	}
	return p, nil
}

// openPartitions lists the single-node partitions that are open (not those still opening).
func (b *Broker) openPartitions() []*Partition {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*Partition, 0, len(b.mu.parts))
	for _, s := range b.mu.parts {
		select {
		case <-s.done:
			if s.p != nil {
				out = append(out, s.p)
			}
		default:
		}
	}
	return out
}

// takeSlots removes from the map and returns the slots match selects.
func (b *Broker) takeSlots(match func(partKey) bool) []*partSlot {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*partSlot
	for k, s := range b.mu.parts {
		if match(k) {
			out = append(out, s)
			delete(b.mu.parts, k)
		}
	}
	return out
}

// closeHub closes and forgets the partitions of one hub that lives on (its retention
// changed: they reopen with the new settings on next use), each with a producer snapshot,
// waiting for opens in progress.
func (b *Broker) closeHub(ns, hub string) {
	for _, s := range b.takeSlots(func(k partKey) bool { return k.ns == ns && k.hub == hub }) {
		<-s.done
		if s.p != nil {
			s.p.closeWithSnapshot()
		}
	}
}

// dropHub closes and forgets the partitions of a deleted hub, waiting for opens in progress.
func (b *Broker) dropHub(ns, hub string) {
	for _, s := range b.takeSlots(func(k partKey) bool { return k.ns == ns && k.hub == hub }) {
		<-s.done
		if s.p != nil {
			s.p.close()
		}
	}
}

// closePartitions closes every single-node partition (waiting for opens in progress), each
// with a producer snapshot at its end, and lets no partition open afterwards.
func (b *Broker) closePartitions() error {
	b.mu.Lock()
	b.mu.closed = true
	b.mu.Unlock()
	var first error
	for _, s := range b.takeSlots(func(partKey) bool { return true }) {
		<-s.done
		if s.p == nil {
			continue
		}
		if err := s.p.closeWithSnapshot(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
