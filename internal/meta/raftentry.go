package meta

import (
	"encoding/binary"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// A raft entry of the metadata group carries one proposal: a batch of commands.
//
//	[u8 version][u8 kind][u64 token][uvarint count] count × ([uvarint index][uvarint len][command JSON])
//
// kind is proposeNew (the commands are new: apply checks them with State.Check, and they take
// the next indexes) or proposeGiven (entries of a geo-DR primary with their own indexes, as
// Store.Apply). token identifies the proposing RaftStore's waiter; 0 means nobody waits.
// index is 0 for new commands.
const raftEntryVersion = 1

type proposalKind uint8

const (
	proposeNew   proposalKind = 1
	proposeGiven proposalKind = 2
)

// raftProposal is a decoded metadata raft entry.
type raftProposal struct {
	kind    proposalKind
	token   uint64
	entries []Entry
}

func encodeRaftProposal(p raftProposal) ([]byte, error) {
	buf := []byte{raftEntryVersion, byte(p.kind)}
	buf = binary.BigEndian.AppendUint64(buf, p.token)
	buf = binary.AppendUvarint(buf, uint64(len(p.entries)))
	for _, e := range p.entries {
		c, err := EncodeCommand(e.Command)
		if err != nil {
			return nil, err
		}
		buf = binary.AppendUvarint(buf, e.Index)
		buf = binary.AppendUvarint(buf, uint64(len(c)))
		buf = append(buf, c...)
	}
	return buf, nil
}

// decodeRaftProposal parses a metadata raft entry. A newer version or an unknown command is an
// errcode.UnsupportedVersion: this node cannot apply the entry and must not skip it.
func decodeRaftProposal(b []byte) (raftProposal, error) {
	var p raftProposal
	if len(b) < 2 {
		return p, errcode.New(errcode.CorruptData, "metadata raft entry of %d bytes is too short", len(b))
	}
	if b[0] != raftEntryVersion {
		return p, errcode.New(errcode.UnsupportedVersion,
			"metadata raft entry version %d is not supported (this node reads %d); upgrade tandem on this node", b[0], raftEntryVersion)
	}
	p.kind = proposalKind(b[1])
	if p.kind != proposeNew && p.kind != proposeGiven {
		return p, errcode.New(errcode.UnsupportedVersion, "metadata raft entry kind %d is unknown; upgrade tandem on this node", b[1])
	}
	b = b[2:]
	if len(b) < 8 {
		return p, errcode.New(errcode.CorruptData, "metadata raft entry has no proposal token")
	}
	p.token = binary.BigEndian.Uint64(b)
	b = b[8:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return p, errcode.New(errcode.CorruptData, "metadata raft entry has a bad command count")
	}
	b = b[k:]
	p.entries = make([]Entry, 0, n)
	for i := range n {
		idx, k := binary.Uvarint(b)
		if k <= 0 {
			return p, errcode.New(errcode.CorruptData, "metadata raft entry command %d has a bad index", i)
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return p, errcode.New(errcode.CorruptData, "metadata raft entry command %d has a bad length", i)
		}
		c, err := DecodeCommand(b[k : k+int(l)])
		if err != nil {
			return p, err
		}
		b = b[k+int(l):]
		p.entries = append(p.entries, Entry{Index: idx, Command: c})
	}
	if len(b) != 0 {
		return p, errcode.New(errcode.CorruptData, "metadata raft entry has %d trailing bytes", len(b))
	}
	return p, nil
}
