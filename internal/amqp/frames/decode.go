package frames

import (
	"fmt"
	"math"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// SASLChallenge (part 5.3.3.4). Tandem never challenges; the type exists for completeness.
type SASLChallenge struct{ Challenge []byte }

// SASLResponse (part 5.3.3.5).
type SASLResponse struct{ Response []byte }

func (*SASLChallenge) performative() {}
func (*SASLResponse) performative()  {}

// Decode decodes a frame body: the bytes after the frame header and its extended header. An
// empty body is a heartbeat and returns (nil, nil). For a *Transfer, Payload is the rest of
// the body (aliasing it); any other performative followed by bytes is an error. Absent fields
// take the spec's defaults.
func Decode(body []byte) (Performative, error) {
	if len(body) == 0 {
		return nil, nil
	}
	code, name, f, n, err := codec.ListFields(body)
	if err != nil {
		return nil, fmt.Errorf("amqp frames: frame body is not a performative: %w", err)
	}
	if name != "" {
		c, ok := names[name]
		if !ok {
			return nil, fmt.Errorf("amqp frames: unknown performative %q", name)
		}
		code = c
	}
	p, err := decodePerformative(code, f)
	if err != nil {
		return nil, err
	}
	if t, ok := p.(*Transfer); ok {
		t.Payload = body[n:len(body):len(body)]
	} else if n != len(body) {
		return nil, fmt.Errorf("amqp frames: %d bytes follow a %s performative; only a transfer carries a payload", len(body)-n, performativeName(code))
	}
	return p, nil
}

var codeNames = func() map[uint64]string {
	m := make(map[uint64]string, len(names))
	for n, c := range names {
		m[c] = string(n[len("amqp:") : len(n)-len(":list")])
	}
	return m
}()

func performativeName(code uint64) string {
	if n, ok := codeNames[code]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", code)
}

func decodePerformative(code uint64, f []any) (Performative, error) {
	r := &fields{what: performativeName(code), f: f}
	var p Performative
	switch code {
	case CodeOpen:
		p = decodeOpen(r)
	case CodeBegin:
		p = &Begin{
			RemoteChannel:  r.uint16p(0, "remote-channel"),
			NextOutgoingID: r.mustUint32(1, "next-outgoing-id"),
			IncomingWindow: r.mustUint32(2, "incoming-window"),
			OutgoingWindow: r.mustUint32(3, "outgoing-window"),
			HandleMax:      r.uint32(4, "handle-max", math.MaxUint32),
			OfferedCaps:    r.symbols(5, "offered-capabilities"),
			DesiredCaps:    r.symbols(6, "desired-capabilities"),
			Properties:     r.mapv(7, "properties"),
		}
	case CodeAttach:
		p = decodeAttach(r)
	case CodeFlow:
		p = decodeFlow(r)
	case CodeTransfer:
		p = decodeTransfer(r)
	case CodeDisposition:
		p = &Disposition{
			Role:      r.mustBool(0, "role"),
			First:     r.mustUint32(1, "first"),
			Last:      r.uint32p(2, "last"),
			Settled:   r.bool(3, "settled"),
			State:     r.state(4, "state"),
			Batchable: r.bool(5, "batchable"),
		}
	case CodeDetach:
		p = &Detach{Handle: r.mustUint32(0, "handle"), Closed: r.bool(1, "closed"), Error: r.error(2, "error")}
	case CodeEnd:
		p = &End{Error: r.error(0, "error")}
	case CodeClose:
		p = &Close{Error: r.error(0, "error")}
	case CodeSASLMechs:
		p = &SASLMechanisms{Mechanisms: r.symbols(0, "sasl-server-mechanisms")}
		if len(p.(*SASLMechanisms).Mechanisms) == 0 {
			r.fail(0, "sasl-server-mechanisms", "is mandatory but absent")
		}
	case CodeSASLInit:
		p = &SASLInit{
			Mechanism:       r.symbol(0, "mechanism", "", true),
			InitialResponse: r.binary(1, "initial-response"),
			Hostname:        r.str(2, "hostname", false),
		}
	case CodeSASLChall:
		p = &SASLChallenge{Challenge: r.binary(0, "challenge")}
	case CodeSASLResp:
		p = &SASLResponse{Response: r.binary(0, "response")}
	case CodeSASLOutcome:
		o := &SASLOutcome{AdditionalData: r.binary(1, "additional-data")}
		if u, ok := r.unsigned(0, "code", math.MaxUint8, true); ok {
			o.Code = uint8(u)
		}
		p = o
	default:
		return nil, fmt.Errorf("amqp frames: unknown performative code 0x%x", code)
	}
	if r.err != nil {
		return nil, r.err
	}
	return p, nil
}

func decodeOpen(r *fields) *Open {
	return &Open{
		ContainerID:         r.str(0, "container-id", true),
		Hostname:            r.str(1, "hostname", false),
		MaxFrameSize:        r.uint32(2, "max-frame-size", math.MaxUint32),
		ChannelMax:          r.uint16(3, "channel-max", math.MaxUint16),
		IdleTimeout:         r.uint32(4, "idle-time-out", 0),
		OfferedCapabilities: r.symbols(7, "offered-capabilities"),
		DesiredCapabilities: r.symbols(8, "desired-capabilities"),
		Properties:          r.mapv(9, "properties"),
	}
}

func decodeAttach(r *fields) *Attach {
	a := &Attach{
		Name:                 r.str(0, "name", true),
		Handle:               r.mustUint32(1, "handle"),
		Role:                 r.mustBool(2, "role"),
		SndSettleMode:        r.uint8(3, "snd-settle-mode", SenderSettleMixed),
		RcvSettleMode:        r.uint8(4, "rcv-settle-mode", ReceiverSettleFirst),
		Source:               decodeSource(r, 5),
		Target:               decodeTarget(r, 6),
		InitialDeliveryCount: r.uint32(9, "initial-delivery-count", 0),
		MaxMessageSize:       r.uint64(10, "max-message-size"),
		OfferedCapabilities:  r.symbols(11, "offered-capabilities"),
		DesiredCapabilities:  r.symbols(12, "desired-capabilities"),
		Properties:           r.mapv(13, "properties"),
	}
	if a.SndSettleMode > SenderSettleMixed {
		r.fail(3, "snd-settle-mode", "is %d; expected 0 (unsettled), 1 (settled) or 2 (mixed)", a.SndSettleMode)
	}
	if a.RcvSettleMode > ReceiverSettleSecond {
		r.fail(4, "rcv-settle-mode", "is %d; expected 0 (first) or 1 (second)", a.RcvSettleMode)
	}
	return a
}

func decodeFlow(r *fields) *Flow {
	return &Flow{
		NextIncomingID: r.uint32p(0, "next-incoming-id"),
		IncomingWindow: r.mustUint32(1, "incoming-window"),
		NextOutgoingID: r.mustUint32(2, "next-outgoing-id"),
		OutgoingWindow: r.mustUint32(3, "outgoing-window"),
		Handle:         r.uint32p(4, "handle"),
		DeliveryCount:  r.uint32p(5, "delivery-count"),
		LinkCredit:     r.uint32p(6, "link-credit"),
		Available:      r.uint32p(7, "available"),
		Drain:          r.bool(8, "drain"),
		Echo:           r.bool(9, "echo"),
		Properties:     r.mapv(10, "properties"),
	}
}

func decodeTransfer(r *fields) *Transfer {
	t := &Transfer{
		Handle:        r.mustUint32(0, "handle"),
		DeliveryID:    r.uint32p(1, "delivery-id"),
		DeliveryTag:   r.binary(2, "delivery-tag"),
		MessageFormat: r.uint32p(3, "message-format"),
		Settled:       r.boolp(4, "settled", false),
		More:          r.bool(5, "more"),
		RcvSettleMode: r.uint8p(6, "rcv-settle-mode"),
		State:         r.state(7, "state"),
		Resume:        r.bool(8, "resume"),
		Aborted:       r.bool(9, "aborted"),
		Batchable:     r.bool(10, "batchable"),
	}
	if len(t.DeliveryTag) > 32 {
		r.fail(2, "delivery-tag", "is %d bytes; the maximum is 32", len(t.DeliveryTag))
	}
	return t
}
