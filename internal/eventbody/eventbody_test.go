package eventbody

import (
	"bytes"
	"testing"
)

// FuzzRoundTrip: whatever the bytes, Decode(Encode(b)) gives them back, and Decode never
// panics on arbitrary JSON bodies.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", `{"a":1}`, `{ "a": 1 }`, `"quoted"`, "plain text", "\xff\xfe", "null", "12", `[1,2]`} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`"aGk="`), "base64")
	f.Fuzz(func(t *testing.T, b []byte, enc string) {
		raw, e := Encode(b)
		got, err := Decode(raw, e)
		if err != nil && len(b) > 0 {
			t.Fatalf("Decode(Encode(%q)) failed: %v", b, err)
		}
		if err == nil && !bytes.Equal(got, b) {
			t.Fatalf("Decode(Encode(%q)) = %q", b, got)
		}
		Decode(b, enc) // arbitrary input: must not panic
	})
}
