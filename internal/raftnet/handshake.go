package raftnet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MAC labels: each side proves the secret over a different label, so one side's proof can
// never be replayed as the other's.
const (
	labelServer = "tandem raftnet v1 listener"
	labelClient = "tandem raftnet v1 dialer"
)

// handshakeError says why a handshake failed; reason is the metric label.
type handshakeError struct {
	reason string // bad_mac, refused, wrong_node, bad_version, malformed, io
	err    error
}

func (e *handshakeError) Error() string { return "raftnet handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

func hsErr(reason string, format string, args ...any) error {
	return &handshakeError{reason: reason, err: fmt.Errorf(format, args...)}
}

// reasonOf returns the metric label of a handshake failure.
func reasonOf(err error) string {
	if he, ok := errors.AsType[*handshakeError](err); ok {
		return he.reason
	}
	return "io"
}

// computeMAC is HMAC-SHA256(secret, label || client || server || nonceC || nonceS).
func computeMAC(secret []byte, label string, client, server uint64, nonceC, nonceS *[nonceLen]byte) [macLen]byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	var ids [16]byte
	binary.BigEndian.PutUint64(ids[:], client)
	binary.BigEndian.PutUint64(ids[8:], server)
	h.Write(ids[:])
	h.Write(nonceC[:])
	h.Write(nonceS[:])
	var out [macLen]byte
	h.Sum(out[:0])
	return out
}

// handshaker holds what both sides of a handshake need.
type handshaker struct {
	self   uint64
	secret []byte
	rand   io.Reader
}

// dial runs the dialer's side on an open connection to peer: it proves the secret first,
// then checks that the listener is peer and knows the secret too. Nothing is sent to a
// listener that does not.
func (h handshaker) dial(w io.Writer, fr *frameReader, peer uint64) error {
	hl := hello{version: protocolVersion, from: h.self, to: peer}
	if _, err := io.ReadFull(h.rand, hl.nonce[:]); err != nil {
		return fmt.Errorf("raftnet: nonce: %w", err)
	}
	if _, err := w.Write(hl.append(nil)); err != nil {
		return err
	}
	p, err := fr.next(handshakeFrameMax)
	if err != nil {
		return err
	}
	ch, err := decodeChallenge(p)
	if err != nil {
		return hsErr("malformed", "%w", err)
	}
	if ch.from != peer {
		return hsErr("wrong_node", "dialled node %d but node %d answered", peer, ch.from)
	}
	a := auth{mac: computeMAC(h.secret, labelClient, h.self, peer, &hl.nonce, &ch.nonce)}
	if _, err := w.Write(a.append(nil, kindAuth)); err != nil {
		return err
	}
	if p, err = fr.next(handshakeFrameMax); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return hsErr("refused", "node %d closed the connection after our proof; are the cluster secrets the same?", peer)
		}
		return err
	}
	wel, err := decodeAuth(p, kindWelcome)
	if err != nil {
		return hsErr("malformed", "%w", err)
	}
	want := computeMAC(h.secret, labelServer, h.self, peer, &hl.nonce, &ch.nonce)
	if !hmac.Equal(want[:], wel.mac[:]) {
		return hsErr("bad_mac", "node %d does not know the cluster secret", peer)
	}
	return nil
}

// accept runs the listener's side on an accepted connection and returns the peer's node id
// once the peer has proved the secret; only then does it prove the secret in turn.
func (h handshaker) accept(w io.Writer, fr *frameReader) (uint64, error) {
	p, err := fr.next(handshakeFrameMax)
	if err != nil {
		return 0, err
	}
	hl, err := decodeHello(p)
	if err != nil {
		return 0, hsErr("malformed", "%w", err)
	}
	if hl.version != protocolVersion {
		return 0, hsErr("bad_version", "protocol version %d, want %d", hl.version, protocolVersion)
	}
	if hl.to != h.self || hl.from == 0 || hl.from == h.self {
		return 0, hsErr("wrong_node", "node %d dialled node %d, this is node %d", hl.from, hl.to, h.self)
	}
	ch := challenge{from: h.self}
	if _, err := io.ReadFull(h.rand, ch.nonce[:]); err != nil {
		return 0, fmt.Errorf("raftnet: nonce: %w", err)
	}
	if _, err := w.Write(ch.append(nil)); err != nil {
		return 0, err
	}
	if p, err = fr.next(handshakeFrameMax); err != nil {
		return 0, err
	}
	a, err := decodeAuth(p, kindAuth)
	if err != nil {
		return 0, hsErr("malformed", "%w", err)
	}
	want := computeMAC(h.secret, labelClient, hl.from, h.self, &hl.nonce, &ch.nonce)
	if !hmac.Equal(want[:], a.mac[:]) {
		return 0, hsErr("bad_mac", "node %d does not know the cluster secret", hl.from)
	}
	wel := auth{mac: computeMAC(h.secret, labelServer, hl.from, h.self, &hl.nonce, &ch.nonce)}
	if _, err := w.Write(wel.append(nil, kindWelcome)); err != nil {
		return 0, err
	}
	return hl.from, nil
}
