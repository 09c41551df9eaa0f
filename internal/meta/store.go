package meta

import (
	"context"
	"log/slog"
	"os"
	"sync"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// StoreOptions configures a Store.
type StoreOptions struct {
	Dir           string       // directory of the log segments and snapshots; created if missing
	SnapshotEvery int          // commands between snapshots; 0 means 10000
	Logger        *slog.Logger // nil means slog.Default()
}

// DefaultSnapshotEvery is the default number of commands between snapshots.
const DefaultSnapshotEvery = 10000

// maxBatch bounds how many proposals one group commit writes.
const maxBatch = 1024

// tailSize is how many recent entries ReadFrom serves from memory.
const tailSize = 8192

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errcode.New(errcode.Unavailable, "metadata store is closed; the node is shutting down")

// Store is the runner around State: it makes commands durable in the metadata log before they
// are applied and acknowledged, recovers the state on Open from the newest snapshot plus the log
// after it, writes snapshots, and serves the log to followers.
//
// One writer goroutine owns the log file and all mutations. Proposals waiting while it fsyncs
// are written together by the next write (group commit). The writer applies a batch to the
// state and fsyncs it while holding mu, so readers never see a change that is not durable.
//
// Lock order: mu, then segMu; notifyMu is a leaf.
type Store struct {
	dir   string
	every int
	log   *slog.Logger

	reqs      chan *request
	closeOnce sync.Once
	done      chan struct{} // closed when the writer goroutine has returned

	// served: the state (written only by the writer goroutine, after each batch is durable),
	// the last durable, applied index, and the wake-up of Wait.
	served

	segMu sync.RWMutex // guards segs and keeps files in it from being deleted while read
	segs  []segment

	// tail holds the most recent committed entries (at most tailSize, oldest first), so
	// followers that keep up (a geo-DR secondary's long-poll wakes on every commit) read
	// them from memory instead of rescanning log segments.
	tail entryTail

	// Owned by the writer goroutine (and by Open before it starts).
	w          *os.File
	snaps      []uint64 // indexes of snapshot files on disk, ascending
	nextSnapAt uint64
	failed     error
	closeErr   error
}

type request struct {
	entries []Entry      // Index 0 means "assign the next index"
	view    func(*State) // called under the write lock once every entry applied, or nil
	done    chan reply
}

type reply struct {
	index uint64
	err   error
}

// Propose makes c durable and applies it. It returns c's index once c is fsynced and applied,
// or the validation error if c does not apply (then nothing is written). If ctx ends after the
// proposal reached the writer, Propose returns ctx's error and c may still commit.
func (s *Store) Propose(ctx context.Context, c Command) (uint64, error) {
	if c == nil {
		return 0, errcode.New(errcode.InvalidArgument, "metadata command is nil")
	}
	return s.submit(ctx, &request{entries: []Entry{{Command: c}}})
}

// ProposeView is Propose that also calls view with the state right after c applied, under
// the write lock, before any later command applies. view must not keep the pointer or modify
// the state. It is not called when c does not apply.
func (s *Store) ProposeView(ctx context.Context, c Command, view func(*State)) (uint64, error) {
	if c == nil {
		return 0, errcode.New(errcode.InvalidArgument, "metadata command is nil")
	}
	return s.submit(ctx, &request{entries: []Entry{{Command: c}}, view: view})
}

// ProposeBatch makes cmds durable and applies them in order, in one write and one fsync. It
// stops at the first command that does not apply and returns its error; the commands before
// it stay applied.
func (s *Store) ProposeBatch(ctx context.Context, cmds []Command) error {
	if len(cmds) == 0 {
		return nil
	}
	entries, err := newEntries(cmds)
	if err != nil {
		return err
	}
	_, err = s.submit(ctx, &request{entries: entries})
	return err
}

// Apply appends entries produced elsewhere (by a geo-DR primary) with their given indexes, which
// must increase. It stops at the first entry that fails and returns its error; the entries before
// it stay applied.
func (s *Store) Apply(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := checkGiven(entries); err != nil {
		return err
	}
	_, err := s.submit(ctx, &request{entries: entries})
	return err
}

func (s *Store) submit(ctx context.Context, r *request) (uint64, error) {
	r.done = make(chan reply, 1)
	select {
	case s.reqs <- r:
	case <-s.closing:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case rep := <-r.done:
		return rep.index, rep.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Close stops the writer goroutine after the batch it is writing and closes the log file.
// Proposals not yet taken by the writer fail with ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.done
		if err := s.w.Close(); err != nil {
			s.closeErr = errcode.New(errcode.Internal, "closing metadata log: %w", err)
		}
	})
	return s.closeErr
}

// run is the writer goroutine.
func (s *Store) run() {
	defer close(s.done)
	s.maybeSnapshot() // recovery may have replayed more than SnapshotEvery commands
	for {
		var batch []*request
		select {
		case <-s.closing:
			return
		case r := <-s.reqs:
			batch = append(batch, r)
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
		s.maybeSnapshot()
	}
}

// commit applies the batch to the state, writes and fsyncs its frames, then acknowledges.
func (s *Store) commit(batch []*request) {
	replies := make([]reply, len(batch))
	if s.failed != nil {
		for _, r := range batch {
			r.done <- reply{err: s.failed}
		}
		return
	}
	var buf []byte
	var staged []Entry
	s.mu.Lock()
	for i, r := range batch {
		replies[i] = s.stageLocked(r, &buf, &staged)
	}
	if len(buf) > 0 {
		if err := s.writeLocked(buf); err != nil {
			s.failed = errcode.New(errcode.Unavailable,
				"metadata log write failed: %w; this node takes no metadata changes until it restarts", pathless(err))
			s.log.Error("metadata log write failed; refusing further changes", "dir", s.dir, "err", err)
			for i := range replies {
				if replies[i].index != 0 {
					replies[i] = reply{err: s.failed}
				}
			}
		}
	}
	idx := s.state.Index()
	s.mu.Unlock()
	if s.failed == nil {
		s.tail.add(staged)
		s.index.Store(idx)
		s.broadcast()
	}
	for i, r := range batch {
		r.done <- replies[i]
	}
}

// stageLocked applies r's entries to the state and appends their frames to buf and the
// entries, with their indexes, to staged.
func (s *Store) stageLocked(r *request, buf *[]byte, staged *[]Entry) reply {
	var rep reply
	for _, e := range r.entries {
		idx := e.Index
		if idx == 0 {
			idx = s.state.Index() + 1
		}
		payload, err := EncodeCommand(e.Command)
		if err == nil && e.Index == 0 {
			err = s.state.Check(e.Command) // a new command: also the rules for new names
		}
		if err == nil {
			err = s.state.Apply(idx, e.Command)
		}
		if err != nil {
			rep.err = err
			return rep
		}
		*buf = appendFrame(*buf, idx, payload)
		*staged = append(*staged, Entry{Index: idx, Command: e.Command})
		rep.index = idx
	}
	if r.view != nil {
		r.view(s.state)
	}
	return rep
}

func (s *Store) writeLocked(buf []byte) error {
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	return s.w.Sync()
}
