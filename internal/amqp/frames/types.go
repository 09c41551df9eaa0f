// Package frames is the AMQP 1.0 framing layer (OASIS AMQP 1.0, part 2 and part 5): the 8-byte
// frame header, the protocol headers, the transport performatives (open … close), the SASL
// frames, the delivery states and the error type, each as a Go struct with its encoder and
// decoder. It owns no I/O and no protocol state; internal/amqp drives it.
//
// Decoding applies the spec's defaults to absent fields. Fields whose null differs from every
// value (a flow without a handle, a first transfer's delivery-id) are pointers.
package frames

import (
	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// Frame types of the frame header (part 2.3).
const (
	TypeAMQP byte = 0x00
	TypeSASL byte = 0x01
)

// Protocol ids of the 8-byte protocol header "AMQP" id 1 0 0 (part 2.2, part 5.2).
const (
	ProtoAMQP byte = 0
	ProtoTLS  byte = 2
	ProtoSASL byte = 3
)

// Descriptor codes of the performatives, SASL frames, delivery states, terminus and error.
const (
	CodeOpen        uint64 = 0x10
	CodeBegin       uint64 = 0x11
	CodeAttach      uint64 = 0x12
	CodeFlow        uint64 = 0x13
	CodeTransfer    uint64 = 0x14
	CodeDisposition uint64 = 0x15
	CodeDetach      uint64 = 0x16
	CodeEnd         uint64 = 0x17
	CodeClose       uint64 = 0x18
	CodeError       uint64 = 0x1d
	CodeReceived    uint64 = 0x23
	CodeAccepted    uint64 = 0x24
	CodeRejected    uint64 = 0x25
	CodeReleased    uint64 = 0x26
	CodeModified    uint64 = 0x27
	CodeSource      uint64 = 0x28
	CodeTarget      uint64 = 0x29
	CodeSASLMechs   uint64 = 0x40
	CodeSASLInit    uint64 = 0x41
	CodeSASLChall   uint64 = 0x42
	CodeSASLResp    uint64 = 0x43
	CodeSASLOutcome uint64 = 0x44
)

// Roles of a link end (attach.role, disposition.role).
const (
	RoleSender   = false
	RoleReceiver = true
)

// Settlement modes (attach.snd-settle-mode, attach.rcv-settle-mode).
const (
	SenderSettleUnsettled uint8 = 0
	SenderSettleSettled   uint8 = 1
	SenderSettleMixed     uint8 = 2 // the default
	ReceiverSettleFirst   uint8 = 0 // the default
	ReceiverSettleSecond  uint8 = 1
)

// Header is the 8-byte frame header: size (whole frame), data offset (in 4-byte words, ≥ 2),
// type and channel. Extended header bytes are skipped by the reader.
type Header struct {
	Size    uint32
	DOff    uint8
	Type    byte
	Channel uint16
}

// Performative is one of the frame bodies below (*Open, *Begin, …, *SASLOutcome).
type Performative interface{ performative() }

// Error is the AMQP error type (part 2.8.14).
type Error struct {
	Condition   codec.Symbol // e.g. "amqp:not-found"
	Description string
	Info        *codec.Map
}

func (e *Error) Error() string { return string(e.Condition) + ": " + e.Description }

// Open (part 2.7.1). Defaults: MaxFrameSize 4294967295, ChannelMax 65535.
type Open struct {
	ContainerID         string
	Hostname            string
	MaxFrameSize        uint32
	ChannelMax          uint16
	IdleTimeout         uint32 // milliseconds; 0 = none
	OfferedCapabilities []codec.Symbol
	DesiredCapabilities []codec.Symbol
	Properties          *codec.Map
}

// Begin (part 2.7.2). Default HandleMax 4294967295.
type Begin struct {
	RemoteChannel  *uint16
	NextOutgoingID uint32
	IncomingWindow uint32
	OutgoingWindow uint32
	HandleMax      uint32
	OfferedCaps    []codec.Symbol
	DesiredCaps    []codec.Symbol
	Properties     *codec.Map
}

// Source is a link's source terminus (part 3.5.3); Filter keys are symbols.
type Source struct {
	Address      string
	Durable      uint32
	ExpiryPolicy codec.Symbol
	Timeout      uint32
	Dynamic      bool
	Filter       *codec.Map // symbol → described filter
	Capabilities []codec.Symbol
}

// Target is a link's target terminus (part 3.5.4).
type Target struct {
	Address      string
	Durable      uint32
	ExpiryPolicy codec.Symbol
	Timeout      uint32
	Dynamic      bool
	Capabilities []codec.Symbol
}

// Attach (part 2.7.3). Source and Target nil mean null (a refused link when the peer sends it).
type Attach struct {
	Name                 string
	Handle               uint32
	Role                 bool
	SndSettleMode        uint8
	RcvSettleMode        uint8
	Source               *Source
	Target               *Target
	InitialDeliveryCount uint32
	MaxMessageSize       uint64 // 0 = no limit
	OfferedCapabilities  []codec.Symbol
	DesiredCapabilities  []codec.Symbol
	Properties           *codec.Map
}

// Flow (part 2.7.4). A flow without Handle is a session flow.
type Flow struct {
	NextIncomingID *uint32
	IncomingWindow uint32
	NextOutgoingID uint32
	OutgoingWindow uint32
	Handle         *uint32
	DeliveryCount  *uint32
	LinkCredit     *uint32
	Available      *uint32
	Drain          bool
	Echo           bool
	Properties     *codec.Map
}

// Transfer (part 2.7.5). Payload is the bytes after the performative in the frame (a slice of
// the frame; copy it to keep it).
type Transfer struct {
	Handle        uint32
	DeliveryID    *uint32
	DeliveryTag   []byte
	MessageFormat *uint32
	Settled       *bool
	More          bool
	RcvSettleMode *uint8
	State         DeliveryState
	Resume        bool
	Aborted       bool
	Batchable     bool
	Payload       []byte
}

// Disposition (part 2.7.6).
type Disposition struct {
	Role      bool
	First     uint32
	Last      *uint32
	Settled   bool
	State     DeliveryState
	Batchable bool
}

// Detach (part 2.7.7).
type Detach struct {
	Handle uint32
	Closed bool
	Error  *Error
}

// End (part 2.7.8).
type End struct{ Error *Error }

// Close (part 2.7.9).
type Close struct{ Error *Error }

// SASLMechanisms (part 5.3.3.1).
type SASLMechanisms struct{ Mechanisms []codec.Symbol }

// SASLInit (part 5.3.3.2).
type SASLInit struct {
	Mechanism       codec.Symbol
	InitialResponse []byte
	Hostname        string
}

// SASLOutcome codes (part 5.3.3.6).
const (
	SASLOK      uint8 = 0
	SASLAuth    uint8 = 1
	SASLSys     uint8 = 2
	SASLSysPerm uint8 = 3
	SASLSysTemp uint8 = 4
)

// SASLOutcome (part 5.3.3.6).
type SASLOutcome struct {
	Code           uint8
	AdditionalData []byte
}

// DeliveryState is one of *Received, *Accepted, *Rejected, *Released, *Modified.
type DeliveryState interface{ deliveryState() }

type Received struct {
	SectionNumber uint32
	SectionOffset uint64
}
type Accepted struct{}
type Rejected struct{ Error *Error }
type Released struct{}
type Modified struct {
	DeliveryFailed     bool
	UndeliverableHere  bool
	MessageAnnotations *codec.Map
}

func (*Open) performative()           {}
func (*Begin) performative()          {}
func (*Attach) performative()         {}
func (*Flow) performative()           {}
func (*Transfer) performative()       {}
func (*Disposition) performative()    {}
func (*Detach) performative()         {}
func (*End) performative()            {}
func (*Close) performative()          {}
func (*SASLMechanisms) performative() {}
func (*SASLInit) performative()       {}
func (*SASLOutcome) performative()    {}

func (*Received) deliveryState() {}
func (*Accepted) deliveryState() {}
func (*Rejected) deliveryState() {}
func (*Released) deliveryState() {}
func (*Modified) deliveryState() {}
