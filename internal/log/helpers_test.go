package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/tandem-streaming/tandem/internal/batch"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var quiet = slog.New(slog.DiscardHandler)

// mkBatch builds a batch of n records whose values identify (id, record) and whose
// timestamps are ts.
func mkBatch(id, n, valueSize int, ts int64) []byte {
	recs := make([]batch.Record, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte(id)}, valueSize)
		binary.BigEndian.PutUint32(v, uint32(id))
		v[4] = byte(i)
		recs[i] = batch.Record{Value: v, Timestamp: ts}
	}
	return batch.Build(recs, batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
}

// batchID returns the id mkBatch encoded in a batch's first record.
func batchID(t testing.TB, b []byte) int {
	t.Helper()
	recs, err := batch.Records(b)
	if err != nil {
		t.Fatal(err)
	}
	return int(binary.BigEndian.Uint32(recs[0].Value))
}

func openLog(t testing.TB, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte, appendTime int64) (int64, int64) {
	t.Helper()
	base, last, err := l.Append(b, appendTime)
	if err != nil {
		t.Fatal(err)
	}
	return base, last
}

// allBatches reads the whole log with the public API, checking that batches are contiguous.
func allBatches(t testing.TB, l *Log) [][]byte {
	t.Helper()
	var out [][]byte
	for off := l.StartOffset(); off < l.EndOffset(); {
		b, err := l.Read(off, 1<<16)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		bs, err := batch.SplitComplete(b)
		if err != nil || len(bs) == 0 {
			t.Fatalf("read %d: %d batches, %v", off, len(bs), err)
		}
		for _, one := range bs {
			h, err := batch.Validate(one)
			if err != nil {
				t.Fatal(err)
			}
			if h.BaseOffset != off {
				t.Fatalf("batch at %d has base offset %d", off, h.BaseOffset)
			}
			off = h.NextOffset()
			out = append(out, one)
		}
	}
	return out
}

// faultFS wraps OSFS with injectable failures and counts fsyncs.
type faultFS struct {
	OSFS
	failSync    atomic.Bool
	writeBudget atomic.Int64 // bytes that may still be written; negative = unlimited
	syncs       atomic.Int64
}

func newFaultFS() *faultFS {
	f := &faultFS{}
	f.writeBudget.Store(-1)
	return f
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFS) SyncDir(name string) error {
	if f.failSync.Load() {
		return syscall.EIO
	}
	return f.OSFS.SyncDir(name)
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	for {
		budget := f.fs.writeBudget.Load()
		if budget < 0 {
			return f.File.WriteAt(p, off)
		}
		n := min(int64(len(p)), budget)
		if !f.fs.writeBudget.CompareAndSwap(budget, budget-n) {
			continue
		}
		w, err := f.File.WriteAt(p[:n], off)
		if err == nil && w < len(p) {
			err = syscall.ENOSPC
		}
		return w, err
	}
}

func (f *faultFile) Sync() error {
	if f.fs.failSync.Load() {
		return fmt.Errorf("fsync: %w", syscall.ENOSPC)
	}
	f.fs.syncs.Add(1)
	return f.File.Sync()
}

func randBatch(r *rand.Rand, id int) []byte {
	return mkBatch(id, 1+r.IntN(8), 8+r.IntN(700), int64(1000+id))
}
