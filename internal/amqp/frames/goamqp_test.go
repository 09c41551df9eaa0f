package frames

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/Azure/go-amqp"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// peer is a scripted AMQP server end built only from this package: it reads and writes whole
// frames on a real TCP connection. The test drives go-amqp (the client azeventhubs uses) against
// it, so every frame go-amqp sends must decode here and every frame written here must satisfy
// go-amqp.
type peer struct {
	c net.Conn
}

func (p *peer) protoHeader() (byte, error) {
	var b [8]byte
	if _, err := io.ReadFull(p.c, b[:]); err != nil {
		return 0, err
	}
	return ReadProtoHeader(b)
}

// read returns the next non-empty frame.
func (p *peer) read() (Header, Performative, error) {
	for {
		var hb [8]byte
		if _, err := io.ReadFull(p.c, hb[:]); err != nil {
			return Header{}, nil, err
		}
		h, err := ParseHeader(hb[:])
		if err != nil {
			return h, nil, err
		}
		rest := make([]byte, h.Size-HeaderSize)
		if _, err := io.ReadFull(p.c, rest); err != nil {
			return h, nil, err
		}
		perf, err := Decode(rest[int(h.DOff)*4-HeaderSize:])
		if err != nil {
			return h, nil, fmt.Errorf("decoding go-amqp's frame % x: %w", rest, err)
		}
		if perf != nil {
			return h, perf, nil
		}
	}
}

func (p *peer) write(typ byte, ch uint16, perf Performative, payload []byte) error {
	_, err := p.c.Write(Append(nil, typ, ch, perf, payload))
	return err
}

func expect[T Performative](p *peer) (T, Header, error) {
	h, perf, err := p.read()
	t, ok := perf.(T)
	if err == nil && !ok {
		err = fmt.Errorf("expected a %T from go-amqp, got %#v", t, perf)
	}
	return t, h, err
}

type scriptResult struct {
	senderAttach, receiverAttach *Attach
	transfer                     *Transfer
	open                         *Open
}

// serve plays the server side of one go-amqp connection: SASL ANONYMOUS, open, one session, a
// sender link (receives one message, accepts it), a receiver link (sends one message in two
// frames, then steals the link), close.
func serve(p *peer, delivery []byte, res *scriptResult) error {
	if proto, err := p.protoHeader(); err != nil || proto != ProtoSASL {
		return fmt.Errorf("SASL header: %d %v", proto, err)
	}
	h := ProtoHeader(ProtoSASL)
	p.c.Write(h[:])
	p.write(TypeSASL, 0, &SASLMechanisms{Mechanisms: []codec.Symbol{"MSSBCBS", "ANONYMOUS", "PLAIN"}}, nil)
	if init, _, err := expect[*SASLInit](p); err != nil || init.Mechanism != "ANONYMOUS" {
		return fmt.Errorf("sasl-init: %#v %v", init, err)
	}
	p.write(TypeSASL, 0, &SASLOutcome{Code: SASLOK}, nil)
	if proto, err := p.protoHeader(); err != nil || proto != ProtoAMQP {
		return fmt.Errorf("AMQP header: %d %v", proto, err)
	}
	h = ProtoHeader(ProtoAMQP)
	p.c.Write(h[:])
	var err error
	if res.open, _, err = expect[*Open](p); err != nil {
		return err
	}
	p.write(TypeAMQP, 0, &Open{ContainerID: "tandem", MaxFrameSize: 65536, ChannelMax: 65535, IdleTimeout: 120000,
		Properties: &codec.Map{Pairs: []codec.Pair{{Key: codec.Symbol("product"), Value: "tandem"}}}}, nil)
	begin, bh, err := expect[*Begin](p)
	if err != nil {
		return err
	}
	ch := bh.Channel
	p.write(TypeAMQP, 0, &Begin{RemoteChannel: &ch, NextOutgoingID: 0, IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: 255}, nil)
	_ = begin

	// Sender link: the client sends, we receive.
	if res.senderAttach, _, err = expect[*Attach](p); err != nil {
		return err
	}
	a := *res.senderAttach
	a.Role, a.Handle, a.MaxMessageSize = RoleReceiver, 0, 1<<20
	p.write(TypeAMQP, 0, &a, nil)
	p.write(TypeAMQP, 0, &Flow{NextIncomingID: u32(0), IncomingWindow: 5000, NextOutgoingID: 0, OutgoingWindow: 5000,
		Handle: u32(0), DeliveryCount: u32(0), LinkCredit: u32(10)}, nil)
	if res.transfer, _, err = expect[*Transfer](p); err != nil {
		return err
	}
	res.transfer.Payload = bytes.Clone(res.transfer.Payload)
	p.write(TypeAMQP, 0, &Disposition{Role: RoleReceiver, First: *res.transfer.DeliveryID, Settled: true, State: &Accepted{}}, nil)

	// Receiver link: we send a pre-settled delivery in two frames, then steal the link.
	if res.receiverAttach, _, err = expect[*Attach](p); err != nil {
		return err
	}
	r := *res.receiverAttach
	r.Role, r.Handle, r.InitialDeliveryCount = RoleSender, 1, 0
	p.write(TypeAMQP, 0, &r, nil)
	flow, _, err := expect[*Flow](p)
	if err != nil {
		return err
	}
	if flow.LinkCredit == nil || *flow.LinkCredit != 5 || flow.Handle == nil || *flow.Handle != res.receiverAttach.Handle {
		return fmt.Errorf("receiver flow: %#v", flow)
	}
	half := len(delivery) / 2
	p.write(TypeAMQP, 0, &Transfer{Handle: 1, DeliveryID: u32(0), DeliveryTag: []byte{0}, MessageFormat: u32(0),
		Settled: bp(true), More: true}, delivery[:half])
	p.write(TypeAMQP, 0, &Transfer{Handle: 1, More: false}, delivery[half:])
	p.write(TypeAMQP, 0, &Detach{Handle: 1, Closed: true, Error: &Error{Condition: "amqp:link:stolen",
		Description: "New receiver 'b' with higher epoch of '4' is created",
		Info:        &codec.Map{Pairs: []codec.Pair{{Key: codec.Symbol("tracking"), Value: "t1"}}}}}, nil)
	for {
		_, perf, err := p.read()
		if err != nil {
			return err
		}
		if _, ok := perf.(*Close); ok {
			return p.write(TypeAMQP, 0, &Close{}, nil)
		}
	}
}

func TestGoAMQPConversation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out := &amqp.Message{
		Data:        [][]byte{[]byte("to the server")},
		Annotations: amqp.Annotations{"x-opt-partition-key": "pk"},
	}
	in := &amqp.Message{Data: [][]byte{bytes.Repeat([]byte("from the server "), 100)},
		Annotations: amqp.Annotations{"x-opt-sequence-number": int64(7)}}
	inBytes, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	res := &scriptResult{}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		err = serve(&peer{c: c}, inBytes, res)
		done <- err
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := amqp.Dial(ctx, "amqp://"+ln.Addr().String(), &amqp.ConnOptions{
		SASLType: amqp.SASLTypeAnonymous(), ContainerID: "client-1", HostName: "localhost:5672", IdleTimeout: time.Minute})
	if err != nil {
		t.Fatalf("Dial: %v (server: %v)", err, serverErr(done))
	}
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("NewSession: %v (server: %v)", err, serverErr(done))
	}
	snd, err := sess.NewSender(ctx, "hub1", &amqp.SenderOptions{Properties: map[string]any{"com.microsoft:client": "x"}})
	if err != nil {
		t.Fatalf("NewSender: %v (server: %v)", err, serverErr(done))
	}
	if got := snd.MaxMessageSize(); got != 1<<20 {
		t.Errorf("go-amqp sees max-message-size %d, want %d", got, 1<<20)
	}
	if err := snd.Send(ctx, out, nil); err != nil {
		t.Fatalf("Send: %v (server: %v)", err, serverErr(done))
	}
	settled := amqp.ReceiverSettleModeFirst
	ssm := amqp.SenderSettleModeSettled
	rcv, err := sess.NewReceiver(ctx, "hub1/ConsumerGroups/$Default/Partitions/0", &amqp.ReceiverOptions{
		Credit: 5, SettlementMode: &settled, RequestedSenderSettleMode: &ssm, TargetAddress: "instance-1",
		Filters:             []amqp.LinkFilter{amqp.NewSelectorFilter("amqp.annotation.x-opt-offset > '-1'")},
		Properties:          map[string]any{"com.microsoft:epoch": int64(3)},
		DesiredCapabilities: []string{"com.microsoft:georeplication"},
	})
	if err != nil {
		t.Fatalf("NewReceiver: %v (server: %v)", err, serverErr(done))
	}
	msg, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("Receive: %v (server: %v)", err, serverErr(done))
	}
	if !reflect.DeepEqual(msg.Data, in.Data) || msg.Annotations["x-opt-sequence-number"] != int64(7) {
		t.Errorf("received %#v", msg)
	}
	_, err = rcv.Receive(ctx, nil)
	var linkErr *amqp.LinkError
	if !errors.As(err, &linkErr) || linkErr.RemoteErr == nil || linkErr.RemoteErr.Condition != "amqp:link:stolen" ||
		linkErr.RemoteErr.Info["tracking"] != "t1" {
		t.Errorf("after the stolen detach, Receive = %#v", err)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server script: %v", err)
	}

	// What go-amqp sent, as decoded here.
	if o := res.open; o.ContainerID != "client-1" || o.Hostname != "localhost:5672" || o.MaxFrameSize != 65536 || o.IdleTimeout != 30000 {
		t.Errorf("open: %#v", o)
	}
	if a := res.senderAttach; a.Role != RoleSender || a.Target == nil || a.Target.Address != "hub1" || a.SndSettleMode != SenderSettleMixed {
		t.Errorf("sender attach: %#v", a)
	}
	if tr := res.transfer; tr.MessageFormat == nil || *tr.MessageFormat != 0 || tr.More {
		t.Errorf("transfer: %#v", tr)
	}
	if want, _ := out.MarshalBinary(); !bytes.Equal(res.transfer.Payload, want) {
		t.Errorf("transfer payload %x, want %x", res.transfer.Payload, want)
	}
	a := res.receiverAttach
	if a.Role != RoleReceiver || a.SndSettleMode != SenderSettleSettled || a.RcvSettleMode != ReceiverSettleFirst ||
		a.Source == nil || a.Source.Address != "hub1/ConsumerGroups/$Default/Partitions/0" || a.Target.Address != "instance-1" ||
		!reflect.DeepEqual(a.DesiredCapabilities, []codec.Symbol{"com.microsoft:georeplication"}) {
		t.Errorf("receiver attach: %#v source %#v", a, a.Source)
	}
	f, _ := a.Source.Filter.Get("apache.org:selector-filter:string")
	if want := (codec.Described{Descriptor: uint64(0x0000468C00000004), Value: "amqp.annotation.x-opt-offset > '-1'"}); !reflect.DeepEqual(f, want) {
		t.Errorf("selector filter %#v, want %#v", f, want)
	}
	if e, _ := a.Properties.Get("com.microsoft:epoch"); e != int64(3) {
		t.Errorf("epoch %#v, want int64(3)", e)
	}
}

func serverErr(done chan error) error {
	select {
	case err := <-done:
		done <- err
		return err
	case <-time.After(5 * time.Second):
		return errors.New("server script still running")
	}
}
