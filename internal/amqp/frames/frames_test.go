package frames

import (
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

func u32(v uint32) *uint32 { return &v }
func u16(v uint16) *uint16 { return &v }
func u8(v uint8) *uint8    { return &v }
func bp(v bool) *bool      { return &v }

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frameBody splits a whole frame into header and body, checking the header.
func frameBody(t testing.TB, frame []byte) (Header, []byte) {
	t.Helper()
	h, err := ParseHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	if int(h.Size) != len(frame) {
		t.Fatalf("header size %d, frame %d bytes", h.Size, len(frame))
	}
	return h, frame[int(h.DOff)*4:]
}

func props(kv ...any) *codec.Map {
	m := &codec.Map{}
	for i := 0; i < len(kv); i += 2 {
		m.Pairs = append(m.Pairs, codec.Pair{Key: kv[i], Value: kv[i+1]})
	}
	return m
}

var allPerformatives = []Performative{
	&Open{ContainerID: "c1", Hostname: "localhost:5672", MaxFrameSize: 65536, ChannelMax: 65535, IdleTimeout: 60000,
		OfferedCapabilities: []codec.Symbol{"ANONYMOUS-RELAY"}, DesiredCapabilities: []codec.Symbol{"a", "b"},
		Properties: props(codec.Symbol("product"), "tandem")},
	&Open{ContainerID: "min", MaxFrameSize: math.MaxUint32, ChannelMax: math.MaxUint16},
	&Begin{RemoteChannel: u16(7), NextOutgoingID: 1, IncomingWindow: 5000, OutgoingWindow: 4294967295, HandleMax: 255},
	&Begin{NextOutgoingID: 0, IncomingWindow: 0, OutgoingWindow: 0, HandleMax: math.MaxUint32},
	&Attach{Name: "recv-1", Handle: 3, Role: RoleReceiver, SndSettleMode: SenderSettleSettled, RcvSettleMode: ReceiverSettleFirst,
		Source: &Source{Address: "hub/ConsumerGroups/$Default/Partitions/0", ExpiryPolicy: "link-detach",
			Filter: props(codec.Symbol("apache.org:selector-filter:string"),
				codec.Described{Descriptor: uint64(0x0000468C00000004), Value: "amqp.annotation.x-opt-offset > '-1'"}),
			Capabilities: []codec.Symbol{"queue"}, Durable: 1, Timeout: 30, Dynamic: true},
		Target:              &Target{Address: "instance-1", ExpiryPolicy: ExpirySessionEnd, Capabilities: []codec.Symbol{"x"}},
		DesiredCapabilities: []codec.Symbol{"com.microsoft:georeplication"},
		Properties:          props(codec.Symbol("com.microsoft:epoch"), int64(0)), MaxMessageSize: 1 << 20},
	&Attach{Name: "s", Handle: 0, Role: RoleSender, SndSettleMode: SenderSettleMixed, InitialDeliveryCount: 9},
	&Attach{Name: ".NET filter", Handle: 1, Role: RoleReceiver, SndSettleMode: SenderSettleMixed,
		Source: &Source{Address: "a", ExpiryPolicy: ExpirySessionEnd, Filter: props(codec.Symbol("apache.org:selector-filter:string"),
			codec.Described{Descriptor: uint64(0x00000137000000A), Value: "amqp.annotation.x-opt-offset > -1"})}},
	&Flow{NextIncomingID: u32(1), IncomingWindow: 5000, NextOutgoingID: 2, OutgoingWindow: 100, Handle: u32(0),
		DeliveryCount: u32(5), LinkCredit: u32(300), Available: u32(0), Drain: true, Echo: true, Properties: props("k", "v")},
	&Flow{IncomingWindow: 1, NextOutgoingID: 2, OutgoingWindow: 3},
	&Transfer{Handle: 1, DeliveryID: u32(0), DeliveryTag: []byte{1, 2}, MessageFormat: u32(0x80013700), Settled: bp(true),
		More: true, RcvSettleMode: u8(1), State: &Accepted{}, Resume: true, Aborted: true, Batchable: true, Payload: []byte("body")},
	&Transfer{Handle: 0, Payload: []byte{}},
	&Transfer{Handle: 2, Settled: bp(false), State: &Received{SectionNumber: 1, SectionOffset: 1 << 40}, Payload: []byte{0}},
	&Disposition{Role: RoleReceiver, First: 0, Last: u32(10), Settled: true, State: &Accepted{}},
	&Disposition{Role: RoleReceiver, First: 4, State: &Rejected{Error: &Error{Condition: "amqp:link:message-size-exceeded", Description: "too big"}}},
	&Disposition{Role: RoleSender, First: 1, State: &Released{}, Batchable: true},
	&Disposition{Role: RoleSender, First: 1, State: &Modified{DeliveryFailed: true, UndeliverableHere: true, MessageAnnotations: props(codec.Symbol("x"), int32(1))}},
	&Disposition{Role: RoleSender, First: 1, State: &Rejected{}},
	&Detach{Handle: 3, Closed: true, Error: &Error{Condition: "amqp:link:stolen", Description: "New receiver", Info: props(codec.Symbol("k"), "v")}},
	&Detach{Handle: 0},
	&End{},
	&End{Error: &Error{Condition: "amqp:internal-error"}},
	&Close{Error: &Error{Condition: "amqp:connection:forced", Description: "shutting down"}},
	&Close{},
	&SASLMechanisms{Mechanisms: []codec.Symbol{"MSSBCBS", "ANONYMOUS", "PLAIN"}},
	&SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00user\x00pass"), Hostname: "h"},
	&SASLInit{Mechanism: "ANONYMOUS"},
	&SASLChallenge{Challenge: []byte("c")},
	&SASLResponse{Response: []byte("r")},
	&SASLOutcome{Code: SASLOK},
	&SASLOutcome{Code: SASLAuth, AdditionalData: []byte("no")},
}

func TestRoundTripEveryPerformative(t *testing.T) {
	for i, p := range allPerformatives {
		typ := TypeAMQP
		if strings.HasPrefix(reflect.TypeOf(p).Elem().Name(), "SASL") {
			typ = TypeSASL
		}
		var payload []byte
		if tr, ok := p.(*Transfer); ok {
			payload = tr.Payload
		}
		frame := Append([]byte("prefix"), typ, uint16(i), p, payload)[len("prefix"):]
		h, body := frameBody(t, frame)
		if h.Type != typ || h.Channel != uint16(i) || h.DOff != 2 {
			t.Errorf("%d %T: header %+v", i, p, h)
		}
		got, err := Decode(body)
		if err != nil {
			t.Fatalf("%d %T: Decode(%x): %v", i, p, body, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%d %T round trip:\n got %#v\nwant %#v", i, p, got, p)
		}
	}
}

// Absent fields take the spec's defaults.
func TestDecodeDefaults(t *testing.T) {
	dec := func(p Performative, code uint64, f ...any) Performative {
		t.Helper()
		b, err := codec.Append(nil, codec.Described{Descriptor: code, Value: f})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%x): %v", b, err)
		}
		return got
	}
	if got, want := dec(&Open{}, CodeOpen, "c"), (&Open{ContainerID: "c", MaxFrameSize: 4294967295, ChannelMax: 65535}); !reflect.DeepEqual(got, want) {
		t.Errorf("open defaults: %#v", got)
	}
	if got := dec(&Begin{}, CodeBegin, nil, uint32(0), uint32(1), uint32(2)).(*Begin); got.HandleMax != 4294967295 || got.RemoteChannel != nil {
		t.Errorf("begin defaults: %#v", got)
	}
	src := codec.Described{Descriptor: uint64(CodeSource), Value: []any{"addr"}}
	got := dec(&Attach{}, CodeAttach, "n", uint32(1), true, nil, nil, src).(*Attach)
	if got.SndSettleMode != SenderSettleMixed || got.RcvSettleMode != ReceiverSettleFirst || got.MaxMessageSize != 0 ||
		got.Source.ExpiryPolicy != ExpirySessionEnd || got.Target != nil || got.Source.Address != "addr" {
		t.Errorf("attach defaults: %#v %#v", got, got.Source)
	}
	// Symbolic descriptors ("amqp:open:list") name the same performatives.
	b, _ := codec.Append(nil, codec.Described{Descriptor: codec.Symbol("amqp:close:list"), Value: []any{}})
	if p, err := Decode(b); err != nil || !reflect.DeepEqual(p, &Close{}) {
		t.Errorf("symbolic close: %#v %v", p, err)
	}
	// A multiple symbol field may be a single symbol.
	p := dec(&Open{}, CodeOpen, "c", nil, nil, nil, nil, nil, nil, codec.Symbol("one")).(*Open)
	if !reflect.DeepEqual(p.OfferedCapabilities, []codec.Symbol{"one"}) {
		t.Errorf("single-symbol capabilities: %#v", p.OfferedCapabilities)
	}
	if p, err := Decode(nil); p != nil || err != nil {
		t.Errorf("heartbeat: %#v %v", p, err)
	}
}

// Bytes as go-amqp and the spec examples put them on the wire.
func TestWireBytes(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"heartbeat", AppendEmpty(nil), "00000008 02 00 0000"},
		{"close on channel 0", Append(nil, TypeAMQP, 0, &Close{}, nil), "0000000c 02 00 0000 00 53 18 45"},
		{"sasl outcome ok", Append(nil, TypeSASL, 0, &SASLOutcome{Code: SASLOK}, nil), "00000010 02 01 0000 00 53 44 c0 03 01 50 00"},
		{"accepted disposition", Append(nil, TypeAMQP, 1, &Disposition{Role: RoleReceiver, First: 5, Settled: true, State: &Accepted{}}, nil),
			"00000017 02 00 0001 00 53 15 c0 0a 05 41 52 05 40 41 00 53 24 45"},
		{"sasl mechanisms", Append(nil, TypeSASL, 0, &SASLMechanisms{Mechanisms: []codec.Symbol{"ANONYMOUS"}}, nil),
			"0000001c 02 01 0000 00 53 40 c0 0f 01 e0 0c 01 a3 09 414e4f4e594d4f5553"},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(tt.got); got != strings.ReplaceAll(tt.want, " ", "") {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	for _, tt := range []struct {
		in    string
		proto byte
		err   string
	}{
		{"AMQP\x00\x01\x00\x00", ProtoAMQP, ""},
		{"AMQP\x03\x01\x00\x00", ProtoSASL, ""},
		{"AMQP\x02\x01\x00\x00", ProtoTLS, ""},
		{"AMQP\x00\x00\x09\x01", 0, "version 0.9.1"},
		{"AMQP\x07\x01\x00\x00", 7, "unknown protocol id 7"},
		{"\x16\x03\x01\x02\x00\x01\x00\x00", 0, "TLS ClientHello"},
		{"GET / HT", 0, "HTTP"},
		{"XXXXXXXX", 0, "does not start with \"AMQP\""},
	} {
		proto, err := ReadProtoHeader([8]byte([]byte(tt.in)))
		if proto != tt.proto || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ReadProtoHeader(%q) = %d, %v; want %d, %q", tt.in, proto, err, tt.proto, tt.err)
		}
	}
	if h := ProtoHeader(ProtoSASL); string(h[:]) != "AMQP\x03\x01\x00\x00" {
		t.Errorf("ProtoHeader(3) = %q", h)
	}
	for _, tt := range []struct{ hex, err string }{
		{"00000008 02 00 0000", ""},
		{"00000010 04 01 0005", ""},
		{"00000007 02 00 0000", "smaller than the 8-byte header"},
		{"00000008 01 00 0000", "below the minimum 2"},
		{"0000000c 04 00 0000", "past the end"},
		{"000000", "needs 8 bytes"},
	} {
		_, err := ParseHeader(unhex(t, tt.hex))
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseHeader(%s) = %v, want %q", tt.hex, err, tt.err)
		}
	}
	h, _ := ParseHeader(unhex(t, "00000010 04 01 0005"))
	if h != (Header{Size: 16, DOff: 4, Type: TypeSASL, Channel: 5}) {
		t.Errorf("ParseHeader = %+v", h)
	}
}

func TestDecodeErrors(t *testing.T) {
	enc := func(code any, f ...any) []byte {
		b, err := codec.Append(nil, codec.Described{Descriptor: code, Value: f})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"not described", []byte{0x45}, "not a performative"},
		{"unknown code", enc(uint64(0x99)), "unknown performative code 0x99"},
		{"unknown name", enc(codec.Symbol("amqp:nope:list")), "unknown performative \"amqp:nope:list\""},
		{"open without container", enc(uint64(CodeOpen)), "open field 0 (container-id) is mandatory"},
		{"attach handle as string", enc(uint64(CodeAttach), "n", "1", true), "attach field 1 (handle) is a string"},
		{"channel-max too big", enc(uint64(CodeOpen), "c", nil, nil, uint32(70000)), "channel-max) is 70000"},
		{"bad settle mode", enc(uint64(CodeAttach), "n", uint32(1), true, uint8(3)), "snd-settle-mode) is 3"},
		{"bad state", enc(uint64(CodeDisposition), true, uint32(0), nil, true, codec.Described{Descriptor: uint64(0x77), Value: []any{}}), "expected a delivery state"},
		{"bad error", enc(uint64(CodeClose), codec.Described{Descriptor: uint64(CodeError), Value: []any{}}), "condition) is mandatory"},
		{"source of wrong type", enc(uint64(CodeAttach), "n", uint32(1), true, nil, nil, "src"), "source) is a string"},
		{"target with source code", enc(uint64(CodeAttach), "n", uint32(1), true, nil, nil, nil,
			codec.Described{Descriptor: uint64(CodeSource), Value: []any{}}), "expected a target"},
		{"capabilities of ints", enc(uint64(CodeOpen), "c", nil, nil, nil, nil, nil, nil, codec.Array{int32(1)}), "expected symbols"},
		{"trailing bytes", append(enc(uint64(CodeClose)), 0x40), "1 bytes follow a close performative"},
		{"long delivery tag", enc(uint64(CodeTransfer), uint32(0), nil, make([]byte, 33)), "maximum is 32"},
		{"sasl mechanisms empty", enc(uint64(CodeSASLMechs)), "mandatory"},
		{"flow without windows", enc(uint64(CodeFlow), nil, uint32(1)), "next-outgoing-id) is mandatory"},
	}
	for _, tt := range tests {
		_, err := Decode(tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Decode(%x) = %v, want an error containing %q", tt.name, tt.b, err, tt.want)
		}
	}
}

func TestTryAppendError(t *testing.T) {
	dst := []byte("keep")
	out, err := TryAppend(dst, TypeAMQP, 0, &Open{ContainerID: "c", Properties: props("k", struct{}{})}, nil)
	if err == nil || string(out) != "keep" {
		t.Fatalf("TryAppend with an unencodable property = %q, %v", out, err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Append with an unencodable property did not panic")
		}
	}()
	Append(nil, TypeAMQP, 0, &Open{ContainerID: "c", Properties: props("k", struct{}{})}, nil)
}
