package raftwal

import (
	"fmt"
	"os"
	"time"
)

// run is the group-commit writer, owned by the WAL and waited for in Close. Each turn it seals
// the open batch (every record written since the previous turn, from any number of callers),
// writes it with one WriteAt and makes it durable with one fsync, then starts the next turn at
// once if anything was written meanwhile: there is no timer, so a lone Save waits for one
// fsync and a busy WAL flushes back to back.
func (w *WAL) run() {
	defer close(w.done)
	for range w.kick {
		for {
			b, closed := w.seal()
			if b == nil {
				if closed {
					return
				}
				break
			}
			w.flush(b)
		}
	}
}

// seal takes the open batch for writing and opens the next one. It returns nil when there is
// nothing to write, and whether the WAL is closing.
func (w *WAL) seal() (*batch, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.mu.open
	if len(b.buf) == 0 {
		return nil, w.mu.closed
	}
	if w.mu.failed == nil && w.mu.gcDirty {
		b.deletable = w.gcLocked(b)
	}
	w.mu.open = w.newBatch(b.seg, b.end())
	w.mu.flushing = b
	return b, w.mu.closed
}

// flush writes and fsyncs b, wakes its waiters and deletes the segments GC released with it.
func (w *WAL) flush(b *batch) {
	err := w.write(b)
	w.mu.Lock()
	w.mu.flushing = nil
	if err != nil && w.mu.failed == nil {
		w.mu.failed = fmt.Errorf("raftwal: writing segment %s failed: %w; the WAL takes no more writes; "+
			"free disk space or replace the disk, then restart the node", segName(b.seg), pathless(err))
		w.log.Error("raft WAL failed", "segment", segName(b.seg), "err", err)
	}
	b.err = w.mu.failed
	w.mu.Unlock()
	close(b.done)
	if b.err == nil && len(b.deletable) > 0 {
		w.deleteSegments(b.deletable)
	}
}

func (w *WAL) write(b *batch) error {
	w.mu.RLock()
	failed := w.mu.failed
	seg := w.mu.segs[b.seg]
	w.mu.RUnlock()
	if failed != nil {
		return failed
	}
	if b.newSeg {
		f, err := w.fs.OpenFile(w.path(segName(b.seg)), os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
		if err != nil {
			return err
		}
		seg = &segment{seq: b.seg, name: segName(b.seg), f: f}
		w.mu.Lock()
		w.mu.segs[b.seg] = seg
		w.mu.Unlock()
	}
	if seg == nil {
		return fmt.Errorf("segment %s is not open", segName(b.seg))
	}
	if _, err := seg.f.WriteAt(b.buf, b.start); err != nil {
		return err
	}
	start := time.Now()
	if err := seg.f.Sync(); err != nil {
		return err
	}
	w.met.fsyncSeconds.Observe(time.Since(start).Seconds())
	w.met.flushBytes.Observe(float64(len(b.buf)))
	w.stats.flushes.Add(1)
	w.stats.bytes.Add(int64(len(b.buf)))
	if b.newSeg {
		return w.fs.SyncDir(w.opts.Dir)
	}
	return nil
}

// deleteSegments removes segment files no group needs any more. A failure only leaves garbage
// behind (recovery replays it harmlessly), so it is logged, not fatal.
func (w *WAL) deleteSegments(seqs []uint64) {
	for _, seq := range seqs {
		w.mu.Lock()
		s := w.mu.segs[seq]
		delete(w.mu.segs, seq)
		delete(w.mu.segGroups, seq)
		w.mu.gcDirty = true // pins that only older segments held may be gone now
		w.mu.Unlock()
		if s == nil {
			continue
		}
		_ = s.f.Close()
		if err := w.fs.Remove(w.path(s.name)); err != nil {
			w.log.Warn("raft WAL: removing a collected segment failed", "segment", s.name, "err", err)
		}
	}
	if err := w.fs.SyncDir(w.opts.Dir); err != nil {
		w.log.Warn("raft WAL: syncing the directory after removing segments failed", "err", err)
	}
}
