package amqp

// Temporary: the frames functions of the contract (amqp-wire) until that branch is merged.

import (
	"errors"

	"github.com/tandem-streaming/tandem/internal/amqp/frames"
)

func decodeBody(b []byte) (frames.Performative, error) {
	return nil, errors.New("frames.Decode is not merged yet")
}

func appendFrame(dst []byte, typ byte, channel uint16, p frames.Performative, payload []byte) []byte {
	panic("frames.Append is not merged yet")
}
