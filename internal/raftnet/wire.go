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

// protocolVersion is sent in hello; a listener refuses any other.
const protocolVersion byte = 1

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

// item is one marshalled message waiting in a queue.
type item struct {
	group uint64
	data  []byte
}

// encodedLen is the bytes item takes in a batch body.
func (it item) encodedLen() int {
	return uvarintLen(it.group) + uvarintLen(uint64(len(it.data))) + len(it.data)
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
		dst = binary.AppendUvarint(dst, uint64(len(it.data)))
		dst = append(dst, it.data...)
	}
	return finishFrame(dst, start)
}

// decodeBatch decodes a batch payload. It allocates in proportion to the payload, whatever
// count the payload claims.
func decodeBatch(p []byte) ([]Envelope, error) {
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
		size, n := binary.Uvarint(p)
		if n <= 0 || size > uint64(len(p)-n) {
			return nil, fmt.Errorf("%w: message length", errMalformed)
		}
		p = p[n:]
		msg := new(raftpb.Message)
		if err := proto.Unmarshal(p[:size], msg); err != nil {
			return nil, fmt.Errorf("%w: message: %v", errMalformed, err)
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
