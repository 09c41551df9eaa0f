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

// Memory lends EachRecordIn the memory a batch needs beyond one record: a zstd frame's
// window, or a snappy batch decoded whole. Reserve takes n bytes, waiting while they are in
// use, or fails (the read is then given up with that error); release gives them back.
type Memory interface {
	Reserve(n int64) (release func(), err error)
}

// zstdStreamOverhead is what a zstd stream decoder holds besides its window: the ring's
// block space (2 × 128 KiB plus over-allocation), one block's literals and sequences, and
// the read buffers.
const zstdStreamOverhead = 1 << 20

// EachRecord is EachRecordIn without a Memory: nothing is reserved.
func EachRecord(b []byte, fn func(Record) (more bool, err error)) error {
	return EachRecordIn(b, nil, fn)
}

// EachRecordIn decodes the records of the batch at the start of b one at a time and calls fn
// for each, in order, until fn returns false or an error (which EachRecordIn returns as it
// is). Unlike Records it does not hold the whole decompressed batch: gzip, LZ4 and zstd data
// are decompressed as records are read, so a reader that stops early (a receive that reached
// its byte budget) decompresses and allocates only what it used, plus the codec's window.
// Snappy batches, whose blocks have no stream form, are decoded whole. When mem is not nil,
// the zstd window (what the frame header declares, at most MaxDecompressedSize) and a snappy
// batch's decoded size are reserved from it first, so the readers of a node cannot hold
// more of these than mem allows, whatever windows producers chose.
func EachRecordIn(b []byte, mem Memory, fn func(Record) (more bool, err error)) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	var fnErr error
	call := func(r *recordView) error {
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
	src := b[HeaderSize:h.Size()]
	release := func() {}
	switch c := h.Compression(); c {
	case Gzip, LZ4, Zstd:
		var window int64
		if c == Zstd {
			window = zstdWindow(src)
			if release, err = reserve(mem, window+zstdStreamOverhead); err != nil {
				return err
			}
		}
		err = walkStream(h, src, window, call)
	case Snappy:
		var n int64
		if n, err = snappyDecodedLen(src); err != nil {
			return err
		}
		if release, err = reserve(mem, n); err != nil {
			return err
		}
		var data []byte
		if data, err = decodeSnappyN(src, int(n)); err == nil {
			err = walk(h, data, call)
		}
	default:
		var data []byte
		if h, data, err = body(b); err == nil {
			err = walk(h, data, call)
		}
	}
	release()
	switch {
	case fnErr != nil:
		return fnErr
	case errors.Is(err, errStop):
		return nil
	}
	return err
}

// reserve takes n bytes from mem, if there is one.
func reserve(mem Memory, n int64) (func(), error) {
	if mem == nil || n <= 0 {
		return func() {}, nil
	}
	return mem.Reserve(n)
}

// zstdWindow is the window the first frame of src declares (its content size for a
// single-segment frame), between zstd's minimum and MaxDecompressedSize. A header that
// cannot be read gives the minimum: the decoder then reports the corruption.
func zstdWindow(src []byte) int64 {
	var zh zstd.Header
	w := uint64(zstd.MinWindowSize)
	if zh.Decode(src) == nil {
		w = zh.WindowSize
		if zh.SingleSegment || w == 0 {
			w = zh.FrameContentSize
		}
	}
	return int64(min(max(w, zstd.MinWindowSize), MaxDecompressedSize))
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
// window is the largest zstd window accepted (the one reserved for it).
func walkStream(h Header, src []byte, window int64, fn func(*recordView) error) error {
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
		// frame's window in memory, which the caller has reserved; a later frame declaring a
		// larger one is refused rather than allowed past the reservation.
		zd, err := zstd.NewReader(bytes.NewReader(src), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(MaxDecompressedSize), zstd.WithDecoderMaxWindow(uint64(max(window, zstd.MinWindowSize))))
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
	case lr.N <= 0, errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return errTooLarge(h.Compression())
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errRecord(h, i, what)
	}
	return errDecompress(h.Compression(), err)
}
