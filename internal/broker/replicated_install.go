package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/batch"
	"github.com/tandem-streaming/tandem/internal/errcode"
	seglog "github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/multiraft"
)

// SegmentSource fetches committed batches of a replicated partition from another replica, out of
// band of raft (replication.md §3.3 "Snapshots"). A replica whose log is behind a raft snapshot
// uses it to copy the batches the snapshot covers before adopting it.
type SegmentSource interface {
	// Fetch streams the whole batches of group's partition that cover [from, to), verbatim as
	// a replica's segment files hold them: the first batch starts at from and the last ends at
	// to. Any replica that applied past to holds the same bytes. The caller closes the stream.
	Fetch(ctx context.Context, group uint64, from, to int64) (io.ReadCloser, error)
}

// maxShippedBatch bounds one shipped batch, so a corrupt length cannot make a replica allocate
// without limit.
const maxShippedBatch = 64 << 20

// installAttempts bounds the fetches of one Restore: a source whose log start moved past the
// range asked for is asked again from its new start (it may move on meanwhile). Any other
// failure ends the attempt at once with multiraft.ErrRestoreRetry; the host retries it after a
// back-off, without holding an apply worker in the meantime.
const installAttempts = 3

// LogStartMovedError is what a SegmentSource returns when the range asked for starts before the
// log start of every replica asked (retention deleted those batches there) while one of them
// holds the rest of the range from Start on.
type LogStartMovedError struct {
	From  int64 // the offset asked for
	Start int64 // the smallest log start, past From, of the replicas asked
	Err   error // what the replicas answered
}

func (e *LogStartMovedError) Error() string {
	return fmt.Sprintf("the batches from offset %d were deleted by retention; the replicas asked start at %d or later: %v", e.From, e.Start, e.Err)
}

func (e *LogStartMovedError) Unwrap() error { return e.Err }

// ReadRange streams the whole batches covering [from, to) of this replica's log: what a
// SegmentSource serves for another replica. from must be a batch's first offset in the log and
// to at most the end.
func (r *ReplicatedPartition) ReadRange(from, to int64) (io.ReadCloser, error) {
	start, end := r.p.StartOffset(), r.p.EndOffset()
	if from < start && to <= end {
		return nil, &LogStartMovedError{From: from, Start: start, Err: errcode.New(errcode.OffsetOutOfRange,
			"cannot ship offsets [%d, %d) of partition %d of %s/%s, which holds [%d, %d): retention deleted the batches before %d",
			from, to, r.p.ID, r.p.Namespace, r.p.Hub, start, end, start)}
	}
	if from < start || to > end || from > to {
		return nil, errcode.New(errcode.OffsetOutOfRange,
			"cannot ship offsets [%d, %d) of partition %d of %s/%s, which holds [%d, %d)", from, to, r.p.ID, r.p.Namespace, r.p.Hub, start, end)
	}
	return &rangeReader{p: r.p, next: from, to: to}, nil
}

// rangeReader reads [next, to) of a partition in whole batches, a chunk at a time.
type rangeReader struct {
	p        *Partition
	next, to int64
	buf      []byte // unread part of the current chunk
}

const shipChunk = 1 << 20

func (rr *rangeReader) Read(out []byte) (int, error) {
	for len(rr.buf) == 0 {
		if rr.next >= rr.to {
			return 0, io.EOF
		}
		chunk, err := rr.p.Read(rr.next, shipChunk)
		if err != nil {
			return 0, err
		}
		rr.buf = chunk[:0]
		for len(chunk) > 0 && rr.next < rr.to {
			h, err := batch.ParseHeader(chunk)
			if err != nil {
				return 0, err
			}
			if h.BaseOffset != rr.next {
				return 0, errcode.New(errcode.OffsetOutOfRange, "offset %d is not the start of a batch (found %d)", rr.next, h.BaseOffset)
			}
			rr.buf = rr.buf[:len(rr.buf)+h.Size()]
			chunk = chunk[h.Size():]
			rr.next = h.NextOffset()
		}
		if len(rr.buf) == 0 {
			return 0, fmt.Errorf("partition read at %d returned no whole batch", rr.next)
		}
	}
	n := copy(out, rr.buf)
	rr.buf = rr.buf[n:]
	return n, nil
}

func (rr *rangeReader) Close() error { return nil }

// installSegments fetches [from, st.nextOffset) from the source, stages and verifies it, and
// installs it into the log together with st (which becomes the checkpoint in the same step).
// from is the local end, or the snapshot's log start when the local log ends before it (then
// the local log is replaced). On any failure before the install the replica is unchanged.
//
// If the replicas asked no longer hold from (their retention deleted it since the snapshot was
// taken), the copy starts at the smallest log start they report instead, as a Kafka follower
// whose fetch offset fell below the leader's log start restarts at that start: the local log
// is replaced and starts there too. Those batches are gone from the partition's other replicas
// anyway, and every replica agrees on every offset it holds. When even the snapshot's end is
// below that start, the local log is replaced by an empty one starting at the snapshot's end;
// the entries after the snapshot bring the rest.
//
// A failure to copy wraps multiraft.ErrRestoreRetry: the host retries the restore later.
func (r *ReplicatedPartition) installSegments(st replicaState) error {
	end := r.p.EndOffset()
	from := max(end, st.logStart)
	var err error
	for range installAttempts {
		err = r.stage(from, st.nextOffset)
		var moved *LogStartMovedError
		if !errors.As(err, &moved) || moved.Start <= from {
			break
		}
		from = min(moved.Start, st.nextOffset)
	}
	if err != nil {
		return fmt.Errorf("%w: replicated partition: copy offsets [%d, %d) for the snapshot at index %d from another replica: %w",
			multiraft.ErrRestoreRetry, from, st.nextOffset, st.index, err)
	}
	st.logStart = r.p.StartOffset()
	if from > end { // the local log is replaced
		st.logStart = from
	}
	st.epochs.trimBefore(st.logStart)
	r.mu.Lock()
	st.lastAppendTime = max(st.lastAppendTime, r.mu.st.lastAppendTime)
	r.mu.Unlock()
	rec := st
	rec.term = 0
	// No checkpoint (retention's included) may write the old state over the new one meanwhile.
	r.ckptMu.Lock()
	defer r.ckptMu.Unlock()
	err = r.p.log.InstallSegment(from, func() error { return seglog.WriteFileDurable(r.fs, r.ckpt, rec.encode()) })
	if err != nil {
		return fmt.Errorf("%w: install the copied segment: %w", errApplyFailed, err)
	}
	r.adopt(st)
	r.ckptDone.Store(st.index)
	return nil
}

// stage fetches [from, to) into the log's staging file, checking every batch's CRC and that
// offsets are contiguous from from and end at to, and fsyncs it.
func (r *ReplicatedPartition) stage(from, to int64) (err error) {
	ctx, cancel := context.WithCancel(r.closing)
	defer cancel()
	// A source that stops sending (or never answers) is given up after stageIdle, so a
	// restore cannot hold an apply worker for ever.
	idle := time.AfterFunc(stageIdle, cancel)
	defer idle.Stop()
	var rc io.ReadCloser = io.NopCloser(strings.NewReader(""))
	if from < to { // an empty range (the log restarts at to) needs no copy
		if rc, err = r.segments.Fetch(ctx, r.group, from, to); err != nil {
			return err
		}
	}
	defer rc.Close()
	rc = idleReader{rc, idle}
	path := r.p.log.StagedSegmentPath(from)
	f, err := r.fs.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = r.fs.Remove(path)
		}
	}()
	next, pos := from, int64(0)
	hdr := make([]byte, batch.HeaderSize)
	var buf []byte
	for next < to {
		if _, err := io.ReadFull(rc, hdr); err != nil {
			return fmt.Errorf("the copy ends at offset %d before %d: %w", next, to, err)
		}
		h, err := batch.PeekHeader(hdr)
		if err != nil {
			return err
		}
		if h.BaseOffset != next || h.Size() > maxShippedBatch || h.NextOffset() > to {
			return errcode.New(errcode.CorruptData, "the copy has a batch [%d, %d) of %d bytes where offset %d (up to %d) was expected",
				h.BaseOffset, h.NextOffset(), h.Size(), next, to)
		}
		buf = append(append(buf[:0], hdr...), make([]byte, h.Size()-len(hdr))...)
		if _, err := io.ReadFull(rc, buf[len(hdr):]); err != nil {
			return fmt.Errorf("the copy ends inside the batch at %d: %w", next, err)
		}
		if _, err := batch.Validate(buf); err != nil {
			return err
		}
		if _, err := f.WriteAt(buf, pos); err != nil {
			return err
		}
		pos += int64(len(buf))
		next = h.NextOffset()
	}
	if n, _ := rc.Read(hdr[:1]); n != 0 {
		return errcode.New(errcode.CorruptData, "the copy holds more than offsets [%d, %d)", from, to)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return r.fs.SyncDir(filepath.Dir(path))
}

// stageIdle is how long a segment copy may go without receiving anything.
const stageIdle = 30 * time.Second

// idleReader pushes its timer back after every read that received something.
type idleReader struct {
	io.ReadCloser
	t *time.Timer
}

func (r idleReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.t.Reset(stageIdle)
	}
	return n, err
}

// adopt makes st (restored from a snapshot, its log already in place and checkpointed) the
// in-memory state.
func (r *ReplicatedPartition) adopt(st replicaState) {
	r.mu.Lock()
	r.p.mu.Lock()
	r.p.mu.producers = producerMap(st.producers)
	r.p.mu.Unlock()
	st.producers = nil
	r.mu.st = st
	r.mu.sinceCkpt = 0
	r.mu.Unlock()
	r.p.wake()
}

// removeUncommittedSegments deletes, before the log is opened, segment files a crash during a
// segment install left behind: files past the checkpoint's next offset (installed, but the
// checkpoint that adopts them was not written) and files before its log start (replaced by an
// install whose checkpoint was written). Neither holds anything the checkpoint covers.
func removeUncommittedSegments(fsys seglog.FS, dir string, st replicaState) error {
	ents, err := fsys.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list a replicated partition's directory: %w", err)
	}
	for _, e := range ents {
		base, ok := segmentFileBase(e.Name())
		if !ok || (base <= st.nextOffset && base >= st.logStart) {
			continue
		}
		if err := fsys.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove a segment file left by an interrupted install: %w", err)
		}
	}
	return nil
}

// segmentFileBase parses the base offset of a segment's .log, .index or .timeindex file.
func segmentFileBase(name string) (int64, bool) {
	for _, suffix := range []string{".log", ".index", ".timeindex"} {
		if digits, ok := strings.CutSuffix(name, suffix); ok && len(digits) == 20 {
			base, err := strconv.ParseInt(digits, 10, 64)
			return base, err == nil && base >= 0
		}
	}
	return 0, false
}
