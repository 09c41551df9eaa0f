package frames

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzFrameDecode: Decode never panics, and what it decodes encodes to a frame that decodes to
// the same performative.
func FuzzFrameDecode(f *testing.F) {
	for _, p := range allPerformatives {
		var payload []byte
		if tr, ok := p.(*Transfer); ok {
			payload = tr.Payload
		}
		f.Add(Append(nil, TypeAMQP, 0, p, payload)[HeaderSize:])
	}
	f.Add([]byte{})
	f.Add(unhex(f, "00 a3 0e 61 6d 71 70 3a 6f 70 65 6e 3a 6c 69 73 74 c0 03 01 a1 00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Decode(body)
		if err != nil || p == nil {
			return
		}
		var payload []byte
		if tr, ok := p.(*Transfer); ok {
			payload = tr.Payload
		}
		frame, err := TryAppend(nil, TypeAMQP, 0, p, payload)
		if err != nil {
			return // e.g. a property map holding an array the codec decodes but cannot encode
		}
		h, err := ParseHeader(frame)
		if err != nil || int(h.Size) != len(frame) {
			t.Fatalf("header of re-encoded %T: %+v, %v", p, h, err)
		}
		again, err := Decode(frame[HeaderSize:])
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", p, err)
		}
		// Compared as bytes, not with reflect.DeepEqual: a NaN map key is not equal to itself.
		frame2, err := TryAppend(nil, TypeAMQP, 0, again, payload)
		if err != nil || reflect.TypeOf(again) != reflect.TypeOf(p) || !bytes.Equal(frame, frame2) {
			t.Fatalf("re-encoded %T decodes differently (%v):\n%#v\n%#v", p, err, p, again)
		}
	})
}
