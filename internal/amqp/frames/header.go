package frames

import (
	"encoding/binary"
	"fmt"
)

// HeaderSize is the size of the fixed frame header.
const HeaderSize = 8

// ProtoHeader returns the protocol header "AMQP" proto 1 0 0.
func ProtoHeader(proto byte) [8]byte {
	return [8]byte{'A', 'M', 'Q', 'P', proto, 1, 0, 0}
}

// ReadProtoHeader checks a protocol header and returns its protocol id (ProtoAMQP, ProtoTLS,
// ProtoSASL or another byte). A header with another version returns its protocol id and an
// error: the server then answers with its own header and closes (part 2.2).
func ReadProtoHeader(b [8]byte) (proto byte, err error) {
	if string(b[:4]) != "AMQP" {
		if b[0] == 0x16 && b[1] == 0x03 {
			return 0, fmt.Errorf("amqp frames: the client started TLS (a TLS ClientHello) on a plain AMQP listener; use the AMQPS port or connect without TLS")
		}
		if string(b[:4]) == "GET " || string(b[:4]) == "POST" {
			return 0, fmt.Errorf("amqp frames: the client sent HTTP to the AMQP listener; use the HTTP API's port")
		}
		return 0, fmt.Errorf("amqp frames: protocol header % x does not start with \"AMQP\"; is this an AMQP 1.0 client?", b)
	}
	if b[5] != 1 || b[6] != 0 || b[7] != 0 {
		return b[4], fmt.Errorf("amqp frames: the client asks for AMQP version %d.%d.%d (protocol id %d); only 1.0.0 is served", b[5], b[6], b[7], b[4])
	}
	switch b[4] {
	case ProtoAMQP, ProtoTLS, ProtoSASL:
		return b[4], nil
	}
	return b[4], fmt.Errorf("amqp frames: unknown protocol id %d in the protocol header; expected 0 (AMQP), 2 (TLS) or 3 (SASL)", b[4])
}

// ParseHeader parses the 8-byte frame header at the start of b. It checks that the size covers
// the header and the data offset, and that the data offset is at least 2 words.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("amqp frames: frame header needs 8 bytes, got %d", len(b))
	}
	h := Header{
		Size:    binary.BigEndian.Uint32(b),
		DOff:    b[4],
		Type:    b[5],
		Channel: binary.BigEndian.Uint16(b[6:]),
	}
	if h.Size < HeaderSize {
		return h, fmt.Errorf("amqp frames: frame size %d is smaller than the 8-byte header", h.Size)
	}
	if h.DOff < 2 {
		return h, fmt.Errorf("amqp frames: data offset %d is below the minimum 2 (8 bytes)", h.DOff)
	}
	if uint32(h.DOff)*4 > h.Size {
		return h, fmt.Errorf("amqp frames: data offset %d words is past the end of a %d-byte frame", h.DOff, h.Size)
	}
	return h, nil
}

// AppendEmpty appends an empty AMQP frame on channel 0: the heartbeat.
func AppendEmpty(dst []byte) []byte {
	return append(dst, 0, 0, 0, 8, 2, TypeAMQP, 0, 0)
}
