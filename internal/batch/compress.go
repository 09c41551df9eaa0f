package batch

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// MaxDecompressedSize bounds the records of one batch after decompression, so a small
// malicious batch cannot expand into an unbounded allocation.
const MaxDecompressedSize = 128 << 20

// xerialMagic starts snappy data framed by the Java xerial library; it is followed by a 4-byte
// version and a 4-byte minimum compatible version, then blocks of (big-endian int32 length,
// raw snappy block).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

var (
	gzipReaders sync.Pool
	zstdDecOnce sync.Once
	zstdDec     *zstd.Decoder
	zstdEncOnce sync.Once
	zstdEnc     *zstd.Encoder
)

func zstdDecoder() *zstd.Decoder {
	zstdDecOnce.Do(func() {
		// Errors only come from invalid options.
		zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxDecompressedSize), zstd.WithDecoderMaxWindow(MaxDecompressedSize))
	})
	return zstdDec
}

func zstdEncoder() *zstd.Encoder {
	zstdEncOnce.Do(func() {
		zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	})
	return zstdEnc
}

func errDecompress(c Codec, err error) error {
	return errcode.New(errcode.CorruptData,
		"record batch %s data could not be decompressed: %w; the batch is corrupt, resend it", c, err)
}

func errTooLarge(c Codec) error {
	return errcode.New(errcode.MessageTooLarge,
		"record batch %s data expands beyond %d bytes; send smaller batches", c, MaxDecompressedSize)
}

// decompress returns the uncompressed records of a batch whose compressed body is src.
func decompress(c Codec, src []byte) ([]byte, error) {
	switch c {
	case None:
		return src, nil
	case Gzip:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return nil, errDecompress(c, err)
		}
		defer gzipReaders.Put(zr)
		return readLimited(c, zr)
	case Snappy:
		return decodeSnappy(src)
	case LZ4:
		return readLimited(c, lz4.NewReader(bytes.NewReader(src)))
	case Zstd:
		out, err := zstdDecoder().DecodeAll(src, nil)
		if err != nil {
			if len(out) >= MaxDecompressedSize {
				return nil, errTooLarge(c)
			}
			return nil, errDecompress(c, err)
		}
		return out, nil
	}
	return nil, errcode.New(errcode.CorruptData,
		"record batch uses compression codec %d, which Kafka does not define; the batch is corrupt", int(c))
}

func readLimited(c Codec, r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, MaxDecompressedSize+1))
	if err != nil {
		return nil, errDecompress(c, err)
	}
	if len(out) > MaxDecompressedSize {
		return nil, errTooLarge(c)
	}
	return out, nil
}

// decodeSnappy decodes raw snappy (franz-go, librdkafka) and xerial-framed snappy (Java).
func decodeSnappy(src []byte) ([]byte, error) {
	n, err := snappyDecodedLen(src)
	if err != nil {
		return nil, err
	}
	return decodeSnappyN(src, int(n))
}

// snappyBlocks calls fn for each raw snappy block of src: src itself, or the blocks of
// xerial framing.
func snappyBlocks(src []byte, fn func(block []byte) error) error {
	if len(src) < xerialHeaderSize || !bytes.HasPrefix(src, xerialMagic) {
		return fn(src)
	}
	for p := src[xerialHeaderSize:]; len(p) > 0; {
		if len(p) < 4 {
			return errDecompress(Snappy, io.ErrUnexpectedEOF)
		}
		n := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint64(n) > uint64(len(p)) {
			return errDecompress(Snappy, io.ErrUnexpectedEOF)
		}
		if err := fn(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// snappyDecodedLen is the size snappy data src decodes to, as its block headers declare it,
// without decoding it; over MaxDecompressedSize is an error.
func snappyDecodedLen(src []byte) (int64, error) {
	var total int64
	err := snappyBlocks(src, func(block []byte) error {
		n, err := s2.DecodedLen(block)
		if err != nil {
			return errDecompress(Snappy, err)
		}
		if total += int64(n); total > MaxDecompressedSize {
			return errTooLarge(Snappy)
		}
		return nil
	})
	return total, err
}

// decodeSnappyN decodes snappy data src of decoded size n (snappyDecodedLen) into one
// buffer of that size.
func decodeSnappyN(src []byte, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	err := snappyBlocks(src, func(block []byte) error {
		dn, err := s2.DecodedLen(block)
		if err != nil || dn > cap(out)-len(out) {
			return errDecompress(Snappy, io.ErrUnexpectedEOF)
		}
		if _, err := s2.Decode(out[len(out):len(out)+dn], block); err != nil {
			return errDecompress(Snappy, err)
		}
		out = out[:len(out)+dn]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// compress returns src compressed with c. Snappy is written raw (unframed), which every Kafka
// client reads.
func compress(c Codec, src []byte) []byte {
	var buf bytes.Buffer
	switch c {
	case None:
		return src
	case Gzip:
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(src) // writes to a bytes.Buffer cannot fail
		_ = zw.Close()
		return buf.Bytes()
	case Snappy:
		return s2.EncodeSnappy(nil, src)
	case LZ4:
		zw := lz4.NewWriter(&buf)
		_, _ = zw.Write(src)
		_ = zw.Close()
		return buf.Bytes()
	case Zstd:
		return zstdEncoder().EncodeAll(src, nil)
	}
	panic("batch: unknown codec " + c.String())
}
