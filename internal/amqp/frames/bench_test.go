package frames

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/amqp/codec"
)

// The hot paths: a transfer decoded per incoming frame, a transfer and a flow encoded per
// outgoing delivery and credit update.

func BenchmarkDecodeTransfer(b *testing.B) {
	frame := Append(nil, TypeAMQP, 1, &Transfer{Handle: 1, DeliveryID: u32(12345), DeliveryTag: []byte{0, 0, 0, 1},
		MessageFormat: u32(0), Settled: bp(true)}, make([]byte, 1024))
	body := frame[HeaderSize:]
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for i := 0; i < b.N; i++ {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendTransfer(b *testing.B) {
	payload := make([]byte, 1024)
	buf := make([]byte, 0, 2048)
	t := &Transfer{Handle: 1, DeliveryID: u32(12345), DeliveryTag: []byte{0, 0, 0, 1}, MessageFormat: u32(0), Settled: bp(true)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = Append(buf[:0], TypeAMQP, 1, t, payload)
	}
}

func BenchmarkDecodeAttachWithFilter(b *testing.B) {
	frame := Append(nil, TypeAMQP, 0, &Attach{Name: "r", Handle: 0, Role: RoleReceiver, SndSettleMode: SenderSettleSettled,
		Source: &Source{Address: "hub/ConsumerGroups/$Default/Partitions/0", Filter: &codec.Map{Pairs: []codec.Pair{{
			Key: codec.Symbol("apache.org:selector-filter:string"), Value: codec.Described{Descriptor: uint64(0x468C00000004), Value: "amqp.annotation.x-opt-offset > '-1'"}}}}},
		Target: &Target{Address: "t"}}, nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(frame[HeaderSize:]); err != nil {
			b.Fatal(err)
		}
	}
}
