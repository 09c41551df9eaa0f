package log

import (
	"bytes"
	"context"
	"testing"

	"github.com/tandem-streaming/tandem/internal/batch"
)

const benchRecords = 16

func benchBatch() []byte {
	recs := make([]batch.Record, benchRecords)
	for i := range recs {
		recs[i] = batch.Record{Value: bytes.Repeat([]byte{'x'}, 1024), Timestamp: 1}
	}
	return batch.Build(recs, batch.BuildOptions{ProducerID: -1})
}

// benchAppend appends 16 x 1 KiB batches and, at the end, waits until they are durable, so the
// time includes the fsyncs that make them so.
func benchAppend(b *testing.B, policy FsyncPolicy) {
	l := openLog(b, Options{Dir: b.TempDir(), Fsync: policy, Logger: quiet})
	bt := benchBatch()
	b.SetBytes(int64(len(bt)))
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := l.Append(bt, -1); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.WaitDurable(context.Background(), l.EndOffset()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkAppend1KiB(b *testing.B) {
	benchAppend(b, FsyncPolicy{Mode: FsyncInterval})
}

func BenchmarkAppendFsyncAlways(b *testing.B) {
	benchAppend(b, FsyncPolicy{Mode: FsyncAlways})
}

// BenchmarkAppendDurableParallel has many producers each waiting for its batch to be durable
// before sending the next, as acks=all producers do; group commit shares the fsyncs.
func BenchmarkAppendDurableParallel(b *testing.B) {
	l := openLog(b, Options{Dir: b.TempDir(), Logger: quiet})
	b.SetBytes(int64(len(benchBatch())))
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		bt := benchBatch()
		for pb.Next() {
			_, last, err := l.Append(bt, -1)
			if err == nil {
				err = l.WaitDurable(context.Background(), last+1)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRead reads 1 MiB at a time from a log in the page cache into a reused buffer.
func BenchmarkRead(b *testing.B) {
	l := openLog(b, Options{Dir: b.TempDir(), Logger: quiet})
	bt := benchBatch()
	for range 4096 { // 64 MiB
		if _, _, err := l.Append(bt, -1); err != nil {
			b.Fatal(err)
		}
	}
	end := l.EndOffset()
	b.ResetTimer()
	var bytesRead, off int64
	var buf []byte
	for b.Loop() {
		var err error
		buf, err = l.ReadAppend(buf[:0], off, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		bytesRead += int64(len(buf))
		off += int64(len(buf) / len(bt) * benchRecords)
		if off >= end {
			off = 0
		}
	}
	b.SetBytes(bytesRead / int64(b.N))
	b.ReportMetric(float64(bytesRead/int64(len(bt))*benchRecords)/b.Elapsed().Seconds(), "records/s")
}
