package batch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

// maxStreamWindow is the largest zstd window EachRecord decodes as a stream: the 8 MiB that
// RFC 8878 recommends every decoder support, and what common Kafka producers use.
const maxStreamWindow = 8 << 20

// EachRecord decodes the records of the batch at the start of b one at a time and calls fn
// for each, in order, until fn returns false or an error (which EachRecord returns as it is).
// Unlike Records it does not hold the whole decompressed batch: gzip, LZ4 and zstd data are
// decompressed as records are read, so a reader that stops early (a receive that reached its
// byte budget) decompresses and allocates only what it used, plus the codec's window (at
// most maxStreamWindow). Snappy batches, whose blocks have no stream form, uncompressed ones
// and zstd frames with a larger window are decoded as Records does.
func EachRecord(b []byte, fn func(Record) (more bool, err error)) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	var fnErr error
	passed := 0
	call := func(r *recordView) error {
		passed++
		rec, err := toRecord(h, r)
		if err != nil {
			return err
		}
		more, err := fn(rec)
		switch {
		case err != nil:
			fnErr = err
			return err
		case !more:
			return errStop
		}
		return nil
	}
	switch h.Compression() {
	case Gzip, LZ4, Zstd:
		err = walkStream(h, b[HeaderSize:h.Size()], call)
		// The zstd stream decoder refuses a window over its limit at the frame header, before
		// any record, with one of these two.
		if (errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded)) && passed == 0 {
			if data, derr := decompress(Zstd, b[HeaderSize:h.Size()]); derr != nil {
				err = derr
			} else {
				err = walk(h, data, call)
			}
		}
	default:
		var data []byte
		if h, data, err = body(b); err == nil {
			err = walk(h, data, call)
		}
	}
	switch {
	case fnErr != nil:
		return fnErr
	case errors.Is(err, errStop):
		return nil
	}
	return err
}

// toRecord is the Record of view r in the batch with header h (as Records builds it).
func toRecord(h Header, r *recordView) (Record, error) {
	rec := Record{Offset: h.BaseOffset + int64(r.offsetDelta), Key: r.key, Value: r.value}
	if h.TimestampType() == LogAppendTime {
		rec.Timestamp = h.MaxTimestamp
	} else {
		rec.Timestamp = h.FirstTimestamp + r.timestampDelta
	}
	if r.numHeaders > 0 {
		rec.Headers = make([]RecordHeader, 0, r.numHeaders)
		if err := r.headers(func(k, v []byte) { rec.Headers = append(rec.Headers, RecordHeader{string(k), v}) }); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}

// walkStream decodes the h.NumRecords records of the compressed body src record by record.
func walkStream(h Header, src []byte, fn func(*recordView) error) error {
	c := h.Compression()
	var r io.Reader
	switch c {
	case Gzip:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return errDecompress(c, err)
		}
		defer gzipReaders.Put(zr)
		r = zr
	case LZ4:
		r = lz4.NewReader(bytes.NewReader(src))
	case Zstd:
		// A decoder of its own: the shared one decodes whole buffers only. A stream needs its
		// frame's window in memory; a batch whose window is larger than zstd's usual maximum
		// is decoded whole instead (EachRecord falls back to that), so a crafted frame header
		// cannot make every reader allocate a 128 MiB window.
		zd, err := zstd.NewReader(bytes.NewReader(src), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(MaxDecompressedSize), zstd.WithDecoderMaxWindow(maxStreamWindow))
		if err != nil {
			return errDecompress(c, err)
		}
		defer zd.Close()
		r = zd
	}
	lr := &io.LimitedReader{R: r, N: MaxDecompressedSize + 1}
	br := bufio.NewReaderSize(lr, 32<<10)
	var view recordView
	for i := 0; i < int(h.NumRecords); i++ {
		n, err := binary.ReadVarint(br)
		if err != nil || n < 0 || n > MaxDecompressedSize {
			return streamErr(h, i, lr, err, "bad record length")
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(br, rec); err != nil {
			return streamErr(h, i, lr, err, "record shorter than its length")
		}
		if msg := parseRecord(rec, &view); msg != "" {
			return errRecord(h, i, msg)
		}
		if err := fn(&view); err != nil {
			return err
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return errcode.New(errcode.CorruptData,
			"record batch at offset %d has data after its %d records; the batch is corrupt, resend it", h.BaseOffset, h.NumRecords)
	}
	return nil
}

// streamErr describes a failure to read record i from a decompressing stream.
func streamErr(h Header, i int, lr *io.LimitedReader, err error, what string) error {
	switch {
	case lr.N <= 0:
		return errTooLarge(h.Compression())
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errRecord(h, i, what)
	}
	return errDecompress(h.Compression(), err)
}
