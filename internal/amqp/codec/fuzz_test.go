package codec

import (
	"bytes"
	"math/rand"
	"testing"
)

// FuzzCodecDecode: Decode never panics, never claims more bytes than it was given, and what it
// decodes re-encodes to a canonical form that decodes and re-encodes to itself.
func FuzzCodecDecode(f *testing.F) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 40; i++ {
		b, err := Append(nil, randValue(r, 0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"40", "d0 00 00 00 04 ff ff ff ff", "e0 02 02 41", "00 53 24 45",
		"f0 00 00 00 09 00 00 00 02 a1 01 61 01 62", "e0 07 02 00 53 70 52 01 02", "c1 09 04 a1 01 6b 41 a1 01 6b 42"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Decode(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("Decode used %d of %d bytes", n, len(b))
		}
		enc, err := Append(nil, v)
		if err != nil {
			return // e.g. an array of values described by a list: decodable, not encodable
		}
		v2, n2, err := Decode(enc)
		if err != nil || n2 != len(enc) {
			t.Fatalf("re-encoded %x: %d of %d bytes, %v", enc, n2, len(enc), err)
		}
		enc2, err := Append(nil, v2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("canonical form unstable: %x then %x (%v)", enc, enc2, err)
		}
	})
}
