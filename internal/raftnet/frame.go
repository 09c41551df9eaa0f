package raftnet

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	// frameHeaderLen is the length and CRC in front of every payload.
	frameHeaderLen = 8
	// handshakeFrameMax caps frames before a peer has authenticated, so a stranger can make
	// a node allocate no more than this.
	handshakeFrameMax = 128
	// frameChunk is the most a frame buffer starts with; it doubles as bytes arrive, so a
	// peer that claims a large frame and sends little costs little memory.
	frameChunk = 64 << 10
	// DefaultMaxFrameBytes is the default cap on one frame (Options.MaxFrameBytes).
	// Snapshots travel out of band, so raft frames only carry entries of MsgApp.
	DefaultMaxFrameBytes = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	errFrameSize = errors.New("raftnet: frame size out of bounds")
	errChecksum  = errors.New("raftnet: frame checksum mismatch")
)

// beginFrame appends a header placeholder and the kind byte to dst and returns the new slice
// and the offset where the frame starts; finishFrame fills in the header.
func beginFrame(dst []byte, kind byte) ([]byte, int) {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderLen)...)
	return append(dst, kind), start
}

// finishFrame writes the length and CRC of the frame that starts at start.
func finishFrame(dst []byte, start int) []byte {
	payload := dst[start+frameHeaderLen:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// frameReader reads frames as their bytes arrive. It never allocates what a peer claims:
// a payload buffer starts at most frameChunk bytes and doubles as bytes are read.
type frameReader struct {
	r   *bufio.Reader
	hdr [frameHeaderLen]byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 32<<10)}
}

// next returns the payload of the next frame. A frame outside 1..limit bytes is refused
// before any of its payload is read; a frame whose CRC does not match is refused after.
func (fr *frameReader) next(limit int) ([]byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return nil, err
	}
	size := uint64(binary.BigEndian.Uint32(fr.hdr[:4]))
	sum := binary.BigEndian.Uint32(fr.hdr[4:])
	if size == 0 || size > uint64(limit) {
		return nil, fmt.Errorf("%w: %d bytes, want 1..%d", errFrameSize, size, limit)
	}
	n := int(size)
	buf := make([]byte, 0, min(n, frameChunk))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(nb, buf)
			buf = nb
		}
		m, err := io.ReadFull(fr.r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	if crc32.Checksum(buf, castagnoli) != sum {
		return nil, errChecksum
	}
	return buf, nil
}
