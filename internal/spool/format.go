package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// A record on disk is a 16-byte header and the payload:
//
//	length  uint32 LE  payload bytes
//	crc     uint32 LE  CRC-32C (Castagnoli) over the 8 seq bytes as stored, then the payload
//	seq     uint64 LE  the record's sequence number; the top bit (batchEnd) marks the last
//	                   record of an Append, so recovery keeps or drops a batch whole
//	payload length bytes
//
// A segment file is records back to back, nothing else; a batch never spans two segments.
const (
	headerLen      = 16
	maxRecordBytes = 64 << 20
	batchEnd       = uint64(1) << 63
	seqMask        = batchEnd - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameLen is the bytes a record of n payload bytes takes on disk and toward Options.MaxBytes.
func frameLen(n int) int64 { return headerLen + int64(n) }

// putRecord appends the framed record to dst.
func putRecord(dst []byte, seq uint64, end bool, payload []byte) []byte {
	if end {
		seq |= batchEnd
	}
	var h [headerLen]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:], seq)
	binary.LittleEndian.PutUint32(h[4:], recordCRC(h[8:], payload))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

func recordCRC(seq, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(seq, castagnoli), castagnoli, payload)
}

// header is a parsed record header.
type header struct {
	n   int64  // payload length
	crc uint32 // stored CRC
	raw uint64 // seq field as stored, with the batchEnd bit
}

func parseHeader(b []byte) header {
	return header{
		n:   int64(binary.LittleEndian.Uint32(b[0:])),
		crc: binary.LittleEndian.Uint32(b[4:]),
		raw: binary.LittleEndian.Uint64(b[8:]),
	}
}

func (h header) seq() uint64 { return h.raw & seqMask }
func (h header) end() bool   { return h.raw&batchEnd != 0 }

// valid reports whether payload matches the header's CRC.
func (h header) valid(payload []byte) bool {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], h.raw)
	return recordCRC(s[:], payload) == h.crc
}

// check says what is wrong with a header found at off in a file of size bytes when the record
// there must carry seq want, or "" when the header is plausible (its payload is not checked).
func (h header) check(off, size int64, want uint64) string {
	switch {
	case h.n > maxRecordBytes:
		return fmt.Sprintf("record length %d is over the %d-byte limit", h.n, maxRecordBytes)
	case off+headerLen+h.n > size:
		return fmt.Sprintf("record of %d bytes runs past the end of the file", headerLen+h.n)
	case h.seq() != want:
		return fmt.Sprintf("record has sequence number %d where %d belongs", h.seq(), want)
	}
	return ""
}
