package raftnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Frame kinds.
const (
	kindHello     byte = 1
	kindChallenge byte = 2
	kindAuth      byte = 3
	kindBatch     byte = 4
	kindWelcome   byte = 5
)

// protocolVersion is sent in hello; a listener refuses any other. Version 2 added the
// compact heartbeat items of a batch.
const protocolVersion byte = 2

const (
	nonceLen = 32
	macLen   = 32 // HMAC-SHA256
)

// Envelope is the wire unit: a raft message and the raft group it belongs to (raftpb.Message
// has no group id; one node pair carries the messages of many groups).
type Envelope struct {
	Group uint64
	Msg   *raftpb.Message
}

var errMalformed = errors.New("raftnet: malformed frame")

// hello is the dialer's first frame.
type hello struct {
	version  byte
	from, to uint64
	nonce    [nonceLen]byte
}

const helloLen = 1 + 1 + 8 + 8 + nonceLen

func (h hello) append(dst []byte) []byte {
	dst, start := beginFrame(dst, kindHello)
	dst = append(dst, h.version)
	dst = binary.BigEndian.AppendUint64(dst, h.from)
	dst = binary.BigEndian.AppendUint64(dst, h.to)
	dst = append(dst, h.nonce[:]...)
	return finishFrame(dst, start)
}

func decodeHello(p []byte) (hello, error) {
	var h hello
	if len(p) != helloLen || p[0] != kindHello {
		return h, fmt.Errorf("%w: want a hello of %d bytes", errMalformed, helloLen)
	}
	h.version = p[1]
	h.from = binary.BigEndian.Uint64(p[2:])
	h.to = binary.BigEndian.Uint64(p[10:])
	copy(h.nonce[:], p[18:])
	return h, nil
}

// challenge is the listener's answer: its id and its nonce. It proves nothing yet, so a
// stranger learns no MAC from it.
type challenge struct {
	from  uint64
	nonce [nonceLen]byte
}

const challengeLen = 1 + 8 + nonceLen

func (c challenge) append(dst []byte) []byte {
	dst, start := beginFrame(dst, kindChallenge)
	dst = binary.BigEndian.AppendUint64(dst, c.from)
	dst = append(dst, c.nonce[:]...)
	return finishFrame(dst, start)
}

func decodeChallenge(p []byte) (challenge, error) {
	var c challenge
	if len(p) != challengeLen || p[0] != kindChallenge {
		return c, fmt.Errorf("%w: want a challenge of %d bytes", errMalformed, challengeLen)
	}
	c.from = binary.BigEndian.Uint64(p[1:])
	copy(c.nonce[:], p[9:])
	return c, nil
}

// auth is a proof of the secret: the dialer's (kindAuth) and then the listener's
// (kindWelcome), each over both nonces and both ids.
type auth struct {
	mac [macLen]byte
}

const authLen = 1 + macLen

func (a auth) append(dst []byte, kind byte) []byte {
	dst, start := beginFrame(dst, kind)
	dst = append(dst, a.mac[:]...)
	return finishFrame(dst, start)
}

func decodeAuth(p []byte, kind byte) (auth, error) {
	var a auth
	if len(p) != authLen || p[0] != kind {
		return a, fmt.Errorf("%w: want a frame of kind %d and %d bytes", errMalformed, kind, authLen)
	}
	copy(a.mac[:], p[1:])
	return a, nil
}

// Item encodings: how a batch item's bytes encode its message.
const (
	itemProto        byte = 0 // the protobuf of the raft message
	itemHeartbeat    byte = 1 // a MsgHeartbeat: term, commit
	itemHeartbeatRsp byte = 2 // a MsgHeartbeatResp: term
	itemKinds             = 4 // the low 2 bits of an item's length field hold its encoding
)

// item is one encoded message waiting in a queue.
//
// Heartbeats are coalesced per node pair: with thousands of groups every leader sends each
// follower one MsgHeartbeat per group per tick and gets a MsgHeartbeatResp back. Such a
// message has no field but its type, term, commit (heartbeats only), and the From and To
// that the link itself names, so it travels as a compact item of a batch (a few bytes, no
// protobuf) and the receiver rebuilds exactly the message raft sent. A heartbeat that
// carries anything else (a ReadIndex context) travels as protobuf.
type item struct {
	group uint64
	kind  byte // itemProto, itemHeartbeat, itemHeartbeatRsp
	data  []byte
}

// encodeItem encodes m, sent by node from in group, compactly when it is a plain heartbeat.
func encodeItem(group, from uint64, m *raftpb.Message) (item, error) {
	if kind, ok := compactKind(from, m); ok {
		data := binary.AppendUvarint(make([]byte, 0, 2*binary.MaxVarintLen64), m.GetTerm())
		if kind == itemHeartbeat {
			data = binary.AppendUvarint(data, m.GetCommit())
		}
		return item{group: group, kind: kind, data: data}, nil
	}
	data, err := proto.Marshal(m)
	return item{group: group, data: data}, err
}

// compactKind reports whether m is a heartbeat (or response) from node from that the compact
// encoding rebuilds exactly: no field set but type, to, from, term and (heartbeat) commit.
func compactKind(from uint64, m *raftpb.Message) (byte, bool) {
	var kind byte
	switch m.GetType() {
	case raftpb.MsgHeartbeat:
		kind = itemHeartbeat
	case raftpb.MsgHeartbeatResp:
		kind = itemHeartbeatRsp
		if m.Commit != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	plain := m.GetFrom() == from && m.To != nil && m.Term != nil &&
		m.LogTerm == nil && m.Index == nil && len(m.Entries) == 0 && m.Vote == nil &&
		m.Snapshot == nil && m.Reject == nil && m.RejectHint == nil && m.Context == nil &&
		len(m.Responses) == 0 && len(m.ProtoReflect().GetUnknown()) == 0
	if kind == itemHeartbeat && m.Commit == nil {
		plain = false
	}
	return kind, plain
}

// decodeCompact rebuilds the heartbeat (or response) that from sent to.
func decodeCompact(kind byte, data []byte, from, to uint64) (*raftpb.Message, error) {
	term, n := binary.Uvarint(data)
	if n <= 0 {
		return nil, fmt.Errorf("%w: heartbeat term", errMalformed)
	}
	data = data[n:]
	m := &raftpb.Message{To: proto.Uint64(to), From: proto.Uint64(from), Term: proto.Uint64(term)}
	if kind == itemHeartbeat {
		m.Type = raftpb.MsgHeartbeat.Enum()
		commit, n := binary.Uvarint(data)
		if n <= 0 {
			return nil, fmt.Errorf("%w: heartbeat commit", errMalformed)
		}
		data = data[n:]
		m.Commit = proto.Uint64(commit)
	} else {
		m.Type = raftpb.MsgHeartbeatResp.Enum()
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after a heartbeat", errMalformed, len(data))
	}
	return m, nil
}

// encodedLen is the bytes item takes in a batch body.
func (it item) encodedLen() int {
	return uvarintLen(it.group) + uvarintLen(uint64(len(it.data))*itemKinds+uint64(it.kind)) + len(it.data)
}

// batchOverhead is the most a batch frame adds around its items.
const batchOverhead = frameHeaderLen + 1 + binary.MaxVarintLen64

// appendBatch appends one batch frame holding items.
func appendBatch(dst []byte, items []item) []byte {
	size := batchOverhead
	for _, it := range items {
		size += it.encodedLen()
	}
	dst = slices.Grow(dst, size) // one allocation, not a doubling per large message
	dst, start := beginFrame(dst, kindBatch)
	dst = binary.AppendUvarint(dst, uint64(len(items)))
	for _, it := range items {
		dst = binary.AppendUvarint(dst, it.group)
		dst = binary.AppendUvarint(dst, uint64(len(it.data))*itemKinds+uint64(it.kind))
		dst = append(dst, it.data...)
	}
	return finishFrame(dst, start)
}

// decodeBatch decodes a batch payload that node from sent to node to. It allocates in
// proportion to the payload, whatever count the payload claims.
func decodeBatch(p []byte, from, to uint64) ([]Envelope, error) {
	if len(p) == 0 || p[0] != kindBatch {
		return nil, fmt.Errorf("%w: want a batch", errMalformed)
	}
	p = p[1:]
	count, n := binary.Uvarint(p)
	if n <= 0 {
		return nil, fmt.Errorf("%w: batch count", errMalformed)
	}
	p = p[n:]
	// Each envelope takes at least 2 bytes (group and length).
	if count > uint64(len(p)/2) {
		return nil, fmt.Errorf("%w: batch claims %d messages in %d bytes", errMalformed, count, len(p))
	}
	envs := make([]Envelope, 0, count)
	for range count {
		group, n := binary.Uvarint(p)
		if n <= 0 {
			return nil, fmt.Errorf("%w: group id", errMalformed)
		}
		p = p[n:]
		tag, n := binary.Uvarint(p)
		size, kind := tag/itemKinds, byte(tag%itemKinds)
		if n <= 0 || size > uint64(len(p)-n) {
			return nil, fmt.Errorf("%w: message length", errMalformed)
		}
		p = p[n:]
		var msg *raftpb.Message
		switch kind {
		case itemProto:
			msg = new(raftpb.Message)
			if err := proto.Unmarshal(p[:size], msg); err != nil {
				return nil, fmt.Errorf("%w: message: %v", errMalformed, err)
			}
		case itemHeartbeat, itemHeartbeatRsp:
			var err error
			if msg, err = decodeCompact(kind, p[:size], from, to); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: item encoding %d", errMalformed, kind)
		}
		p = p[size:]
		envs = append(envs, Envelope{Group: group, Msg: msg})
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last message", errMalformed, len(p))
	}
	return envs, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
