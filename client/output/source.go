package output

import (
	"context"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// source is one region's output, opened on first use: a source that cannot be opened now (its
// directory is on a disk not mounted yet, say) is opened again at the next call. Once open, the
// reader itself reconnects (PostgreSQL) or re-reads the disk (SQLite, files) at each call.
type source struct {
	name        string // "primary" or "secondary"
	url, output string

	mu struct {
		sync.Mutex
		r      sink.Reader // nil until opened
		closed bool
	}
}

// open opens the source's reader unless it is open. A malformed URL is an InvalidArgument
// error, which Follow reports; anything else is retried by the next call.
func (s *source) open(ctx context.Context) (sink.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, errcode.New(errcode.Unavailable, "the %s output reader is closed", s.name)
	}
	if s.mu.r != nil {
		return s.mu.r, nil
	}
	r, err := sink.OpenReader(ctx, s.url, s.output)
	if err != nil {
		return nil, err
	}
	s.mu.r = r
	return r, nil
}

// highWater calls HighWater with a timeout and returns its result.
func (s *source) highWater(ctx context.Context, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := s.open(ctx)
	if err != nil {
		return result{Err: err}
	}
	hw, ok, err := r.HighWater(ctx)
	if err != nil {
		return result{Err: err}
	}
	return result{Known: true, HW: hw, HasHW: ok}
}

// readAfter calls ReadAfter with a timeout.
func (s *source) readAfter(ctx context.Context, timeout time.Duration, after sink.Position, limit int) ([]sink.Row, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return r.ReadAfter(ctx, after, limit)
}

func (s *source) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.closed = true
	if s.mu.r == nil {
		return nil
	}
	err := s.mu.r.Close()
	s.mu.r = nil
	return err
}
