package frames

import (
	"encoding/binary"
	"fmt"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// Append appends one whole frame: the 8-byte header (data offset 2, size filled in), the
// performative and the payload (only a transfer has one). A nil p appends an empty frame.
// Encoding only fails for Go values the codec cannot encode inside the maps a caller supplies
// (properties, error info, filters); Append panics then, since that is a programming error.
// Use TryAppend to get the error instead.
func Append(dst []byte, typ byte, channel uint16, p Performative, payload []byte) []byte {
	out, err := TryAppend(dst, typ, channel, p, payload)
	if err != nil {
		panic(err)
	}
	return out
}

// TryAppend is Append returning the encoding error instead of panicking; dst is returned
// unchanged on error.
func TryAppend(dst []byte, typ byte, channel uint16, p Performative, payload []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 2, typ, byte(channel>>8), byte(channel))
	if p != nil {
		v, err := performativeValue(p)
		if err != nil {
			return dst[:start], err
		}
		if dst, err = codec.Append(dst, v); err != nil {
			return dst[:start], fmt.Errorf("amqp frames: encoding %T: %w", p, err)
		}
	}
	dst = append(dst, payload...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst, nil
}

// AppendPerformative appends only the encoded performative (no frame header), e.g. to measure
// how much of a frame a transfer's fields take before splitting a payload.
func AppendPerformative(dst []byte, p Performative) ([]byte, error) {
	v, err := performativeValue(p)
	if err != nil {
		return dst, err
	}
	return codec.Append(dst, v)
}

func performativeValue(p Performative) (codec.Described, error) {
	switch p := p.(type) {
	case *Open:
		return described(CodeOpen, []any{
			p.ContainerID, optString(p.Hostname), p.MaxFrameSize, p.ChannelMax, nonZero(p.IdleTimeout),
			nil, nil, optSymbols(p.OfferedCapabilities), optSymbols(p.DesiredCapabilities), optMap(p.Properties),
		}), nil
	case *Begin:
		return described(CodeBegin, []any{
			optU16(p.RemoteChannel), p.NextOutgoingID, p.IncomingWindow, p.OutgoingWindow, p.HandleMax,
			optSymbols(p.OfferedCaps), optSymbols(p.DesiredCaps), optMap(p.Properties),
		}), nil
	case *Attach:
		return described(CodeAttach, []any{
			p.Name, p.Handle, p.Role, p.SndSettleMode, p.RcvSettleMode, sourceValue(p.Source),
			targetValue(p.Target), nil, nil, p.InitialDeliveryCount, nonZero(p.MaxMessageSize),
			optSymbols(p.OfferedCapabilities), optSymbols(p.DesiredCapabilities), optMap(p.Properties),
		}), nil
	case *Flow:
		return described(CodeFlow, []any{
			optU32(p.NextIncomingID), p.IncomingWindow, p.NextOutgoingID, p.OutgoingWindow,
			optU32(p.Handle), optU32(p.DeliveryCount), optU32(p.LinkCredit), optU32(p.Available),
			flag(p.Drain), flag(p.Echo), optMap(p.Properties),
		}), nil
	case *Transfer:
		return described(CodeTransfer, []any{
			p.Handle, optU32(p.DeliveryID), optBinary(p.DeliveryTag), optU32(p.MessageFormat),
			optBool(p.Settled), flag(p.More), optU8(p.RcvSettleMode), stateValue(p.State),
			flag(p.Resume), flag(p.Aborted), flag(p.Batchable),
		}), nil
	case *Disposition:
		return described(CodeDisposition, []any{
			p.Role, p.First, optU32(p.Last), flag(p.Settled), stateValue(p.State), flag(p.Batchable),
		}), nil
	case *Detach:
		return described(CodeDetach, []any{p.Handle, flag(p.Closed), errorValue(p.Error)}), nil
	case *End:
		return described(CodeEnd, []any{errorValue(p.Error)}), nil
	case *Close:
		return described(CodeClose, []any{errorValue(p.Error)}), nil
	case *SASLMechanisms:
		// Always an array, even of one: .NET and go-amqp accept both, older peers only arrays.
		return described(CodeSASLMechs, []any{p.Mechanisms}), nil
	case *SASLInit:
		return described(CodeSASLInit, []any{p.Mechanism, optBinary(p.InitialResponse), optString(p.Hostname)}), nil
	case *SASLChallenge:
		return described(CodeSASLChall, []any{optBinary(p.Challenge)}), nil
	case *SASLResponse:
		return described(CodeSASLResp, []any{optBinary(p.Response)}), nil
	case *SASLOutcome:
		return described(CodeSASLOutcome, []any{p.Code, optBinary(p.AdditionalData)}), nil
	}
	return codec.Described{}, fmt.Errorf("amqp frames: cannot encode performative %T", p)
}
