package raftwal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A record on disk is a frame
//
//	[u32 body length][u32 crc32c of the length bytes and the body][body]
//
// and a body is
//
//	[u8 kind][u64 group][u64 index][u64 term][payload]
//
// all big-endian. What index, term and payload mean depends on the kind (see the kind
// constants). A segment file is a sequence of frames with nothing between them.
const (
	frameHeader = 8
	bodyFixed   = 1 + 8 + 8 + 8
	// maxBody bounds one record, so a corrupt length cannot make recovery allocate without
	// limit (it is also checked against the bytes left in the file).
	maxBody = 256 << 20
)

// kind is the type of a record.
type kind uint8

const (
	// kindEntry+t is a raft entry of raftpb.EntryType t at index with term; payload is its data.
	// Writing entry i replaces entry i and every entry after it.
	kindEntry    kind = 1 // EntryNormal; 2 = EntryConfChange, 3 = EntryConfChangeV2
	kindEntryMax kind = 3
	// kindHardState: index = commit, term = term, payload = u64 vote.
	kindHardState kind = 16
	// kindConfState: payload = the marshalled raftpb.ConfState.
	kindConfState kind = 17
	// kindSnapshot: index/term = the snapshot's; payload = the marshalled raftpb.Snapshot. It only
	// records the snapshot; its effect on the log is a separate kindCompact record.
	kindSnapshot kind = 18
	// kindCompact: the log now starts after index (whose term is term) and ends at the u64 in
	// the payload ("last"). last == index resets the log to empty at index.
	kindCompact kind = 19
	// kindRemove: the group is forgotten.
	kindRemove kind = 20
)

func (k kind) isEntry() bool { return k >= kindEntry && k <= kindEntryMax }

func (k kind) String() string {
	switch {
	case k.isEntry():
		return fmt.Sprintf("entry(type %d)", k-kindEntry)
	case k == kindHardState:
		return "hardstate"
	case k == kindConfState:
		return "confstate"
	case k == kindSnapshot:
		return "snapshot"
	case k == kindCompact:
		return "compact"
	case k == kindRemove:
		return "remove"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func validKind(k kind) bool {
	return k.isEntry() || (k >= kindHardState && k <= kindRemove)
}

// record is one decoded record. payload aliases the buffer it was decoded from.
type record struct {
	kind    kind
	group   uint64
	index   uint64
	term    uint64
	payload []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends r's frame to buf.
func appendRecord(buf []byte, r record) []byte {
	n := bodyFixed + len(r.payload)
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	buf = append(buf, 0, 0, 0, 0)
	buf = append(buf, byte(r.kind))
	buf = binary.BigEndian.AppendUint64(buf, r.group)
	buf = binary.BigEndian.AppendUint64(buf, r.index)
	buf = binary.BigEndian.AppendUint64(buf, r.term)
	buf = append(buf, r.payload...)
	crc := crc32.Update(crc32.Checksum(buf[start:start+4], castagnoli), castagnoli, buf[start+frameHeader:])
	binary.BigEndian.PutUint32(buf[start+4:start+8], crc)
	return buf
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// errTorn reports a frame that cannot be read whole: a torn tail, or corruption.
type errTorn struct {
	off    int64
	reason string
}

func (e *errTorn) Error() string { return fmt.Sprintf("%s at byte %d", e.reason, e.off) }

// decodeFrame decodes one frame from the start of data, returning the record and the frame
// length. A short, oversized, unknown or checksum-bad frame is an *errTorn (with off 0).
func decodeFrame(data []byte) (record, int, error) {
	if len(data) < frameHeader {
		return record{}, 0, &errTorn{reason: fmt.Sprintf("%d bytes of a frame header", len(data))}
	}
	n := binary.BigEndian.Uint32(data[0:4])
	if n < bodyFixed || n > maxBody {
		return record{}, 0, &errTorn{reason: fmt.Sprintf("record length %d", n)}
	}
	if uint64(len(data)) < frameHeader+uint64(n) {
		return record{}, 0, &errTorn{reason: fmt.Sprintf("record needs %d bytes, %d remain", frameHeader+n, len(data))}
	}
	body := data[frameHeader : frameHeader+n]
	crc := crc32.Update(crc32.Checksum(data[0:4], castagnoli), castagnoli, body)
	if crc != binary.BigEndian.Uint32(data[4:8]) {
		return record{}, 0, &errTorn{reason: "checksum mismatch in record"}
	}
	r := record{
		kind:    kind(body[0]),
		group:   binary.BigEndian.Uint64(body[1:9]),
		index:   binary.BigEndian.Uint64(body[9:17]),
		term:    binary.BigEndian.Uint64(body[17:25]),
		payload: body[bodyFixed:],
	}
	if !validKind(r.kind) {
		return record{}, 0, &errTorn{reason: fmt.Sprintf("unknown record kind %d", r.kind)}
	}
	return r, frameHeader + int(n), nil
}

// scanRecords reads frames from r (size bytes long) in order and calls fn with each record and
// the byte offset of its frame. It returns the length of the valid prefix and, if it stopped
// before size, an *errTorn saying why. An error from fn or from reading stops the scan. The
// allocation is bounded by the largest frame, which is bounded by size and maxBody.
func scanRecords(r io.ReaderAt, size int64, fn func(rec record, off int64, n int) error) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 256<<10)
	var hdr [frameHeader]byte
	var buf []byte
	for off := int64(0); off < size; {
		rest := size - off
		if rest < frameHeader {
			return off, &errTorn{off: off, reason: fmt.Sprintf("%d bytes of a frame header", rest)}
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return off, err
		}
		n := int64(binary.BigEndian.Uint32(hdr[0:4]))
		if n < bodyFixed || n > maxBody {
			return off, &errTorn{off: off, reason: fmt.Sprintf("record length %d", n)}
		}
		if rest < frameHeader+n {
			return off, &errTorn{off: off, reason: fmt.Sprintf("record needs %d bytes, %d remain", frameHeader+n, rest)}
		}
		if int64(cap(buf)) < frameHeader+n {
			buf = make([]byte, frameHeader+n)
		}
		buf = buf[:frameHeader+n]
		copy(buf, hdr[:])
		if _, err := io.ReadFull(br, buf[frameHeader:]); err != nil {
			return off, err
		}
		rec, _, err := decodeFrame(buf)
		if err != nil {
			var t *errTorn
			if errors.As(err, &t) {
				t.off = off
			}
			return off, err
		}
		if err := fn(rec, off, len(buf)); err != nil {
			return off, err
		}
		off += int64(len(buf))
	}
	return size, nil
}
