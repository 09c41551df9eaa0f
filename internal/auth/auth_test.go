package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Known answers computed outside Go with the documented algorithm:
//
//	printf '%s' "sb%3a%2f%2fns1.servicebus.windows.net%2fhub1
//	1700000000" | openssl dgst -sha256 -hmac "key123=" -binary | base64
const (
	kaResource = "sb://ns1.servicebus.windows.net/hub1"
	kaKey      = "key123="
	kaExpiry   = 1700000000
	kaSigLower = "JKBJJAWMhlZzTWBKAn4zPYNCPIixULrhNDvGsJKSnzY=" // over sb%3a%2f%2f… (Go SDK, .NET HttpUtility)
	kaSigUpper = "GWC28yoPh1tC9o0up03Grn5xqoY4GNEh8A6ZdUlByWo=" // over sb%3A%2F%2F… (Python quote_plus, JS)
)

func TestNewSASTokenKnownAnswer(t *testing.T) {
	got := NewSASToken(kaResource, "RootManageSharedAccessKey", kaKey, time.Unix(kaExpiry, 0))
	want := "SharedAccessSignature sr=sb%3a%2f%2fns1.servicebus.windows.net%2fhub1&sig=JKBJJAWMhlZzTWBKAn4zPYNCPIixULrhNDvGsJKSnzY%3D&se=1700000000&skn=RootManageSharedAccessKey"
	if got != want {
		t.Fatalf("NewSASToken\n got %s\nwant %s", got, want)
	}
	tok, err := ParseSASToken(got)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Signature != kaSigLower || tok.Resource != kaResource || tok.KeyName != "RootManageSharedAccessKey" || tok.Expiry.Unix() != kaExpiry {
		t.Fatalf("parsed %+v", tok)
	}
	if err := tok.Verify(kaKey, time.Unix(kaExpiry-1, 0)); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyAcceptsOtherSignersEncodings(t *testing.T) {
	for _, tc := range []struct{ name, token string }{
		{"uppercase escapes, fields reordered, no prefix",
			"skn=send&se=1700000000&sig=" + strings.ReplaceAll(kaSigUpper, "=", "%3D") + "&sr=sb%3A%2F%2Fns1.servicebus.windows.net%2Fhub1"},
		{"lowercase escapes, unencoded signature",
			"SharedAccessSignature sr=sb%3a%2f%2fns1.servicebus.windows.net%2fhub1&sig=" + kaSigLower + "&se=1700000000&skn=send"},
		{"uppercase escapes sent, lowercase signed",
			"SharedAccessSignature sr=sb%3A%2F%2Fns1.servicebus.windows.net%2Fhub1&sig=" + kaSigLower + "&se=1700000000&skn=send"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseSASToken(tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.Verify(kaKey, time.Unix(kaExpiry-60, 0)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	exp := time.Unix(kaExpiry, 0)
	tok, err := ParseSASToken(NewSASToken(kaResource, "send", kaKey, exp))
	if err != nil {
		t.Fatal(err)
	}
	err = tok.Verify(kaKey, exp)
	if !errcode.Is(err, errcode.Unauthorized) || !strings.Contains(err.Error(), "expired at 2023-11-14T22:13:20Z") {
		t.Fatalf("at expiry: %v", err)
	}
	err = tok.Verify("other-key", exp.Add(-time.Second))
	if !errcode.Is(err, errcode.Unauthorized) || !strings.Contains(err.Error(), `rule "send"`) {
		t.Fatalf("wrong key: %v", err)
	}
	tampered := tok
	tampered.Resource = "sb://ns1.servicebus.windows.net/hub2"
	tampered.rawResource = ""
	if err := tampered.Verify(kaKey, exp.Add(-time.Second)); !errcode.Is(err, errcode.Unauthorized) {
		t.Fatalf("tampered resource verified: %v", err)
	}
	tampered = tok
	tampered.Expiry = tok.Expiry.Add(time.Hour)
	if err := tampered.Verify(kaKey, exp.Add(-time.Second)); !errcode.Is(err, errcode.Unauthorized) {
		t.Fatalf("extended expiry verified: %v", err)
	}
}

func TestParseSASTokenErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "is empty"},
		{"SharedAccessSignature ", "is empty"},
		{"sr=a&sig=b&se=1", "has no skn"},
		{"sr=a&sig=b&skn=c", "has no se"},
		{"sr=a&sig=b&se=x&skn=c", "not a unix time"},
		{"sr=a&sig=b&se=1&skn=c&sr=d", "sets sr twice"},
		{"sr=a&sig=b&se=1&skn=c&foo=d", `unknown field "foo"`},
		{"sr&sig=b&se=1&skn=c", "has no value"},
		{"sr=%zz&sig=b&se=1&skn=c", "not URL-encoded"},
	} {
		_, err := ParseSASToken(tc.in)
		if !errcode.Is(err, errcode.Unauthorized) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSASToken(%q) = %v; want an Unauthorized error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestCovers(t *testing.T) {
	nsTok := SASToken{Resource: "sb://ns1.servicebus.windows.net/"}
	hubTok := SASToken{Resource: "sb://NS1.servicebus.windows.net/Hub1/"}
	for _, tc := range []struct {
		tok      SASToken
		resource string
		want     bool
	}{
		{nsTok, "sb://ns1.servicebus.windows.net/hub1", true},
		{nsTok, "amqps://ns1.servicebus.windows.net:5671/hub2", true},
		{nsTok, "https://NS1.servicebus.windows.net", true},
		{nsTok, "ns1.servicebus.windows.net/hub1", true},
		{nsTok, "sb://ns2.servicebus.windows.net/hub1", false},
		{hubTok, "sb://ns1.servicebus.windows.net/hub1", true},
		{hubTok, "http://ns1.servicebus.windows.net/hub1/", true},
		{hubTok, "sb://ns1.servicebus.windows.net/hub1/publishers/p1", true},
		{hubTok, "sb://ns1.servicebus.windows.net/hub10", false},
		{hubTok, "sb://ns1.servicebus.windows.net/hub1/../hub2", false},
		{hubTok, "sb://ns1.servicebus.windows.net/", false},
		{hubTok, "ftp://ns1.servicebus.windows.net/hub1", false},
		{SASToken{Resource: "::bad"}, "sb://ns1/hub1", false},
	} {
		if got := tc.tok.Covers(tc.resource); got != tc.want {
			t.Errorf("%q.Covers(%q) = %v, want %v", tc.tok.Resource, tc.resource, got, tc.want)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	k1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := GenerateKey()
	raw, err := base64.StdEncoding.DecodeString(k1)
	if err != nil || len(raw) != 32 || len(k1) != 44 || k1 == k2 {
		t.Fatalf("GenerateKey() = %q, %q (%v)", k1, k2, err)
	}
}

func TestRights(t *testing.T) {
	rs, err := ParseRights("send, LISTEN", "manage")
	if err != nil {
		t.Fatal(err)
	}
	if rs.String() != "Manage,Send,Listen" {
		t.Fatalf("ParseRights = %v", rs)
	}
	if !(Rights{Manage}).Has(Send) || !(Rights{Manage}).Has(Listen) || (Rights{Send}).Has(Listen) || (Rights{Listen}).Has(Manage) {
		t.Fatal("Has does not follow Manage ⇒ Send, Listen")
	}
	if got := (Rights{Manage, Manage}).Normalize(); got.String() != "Manage,Send,Listen" {
		t.Fatalf("Normalize = %v", got)
	}
	if _, err := ParseRights("send,read"); !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), `"read"`) {
		t.Fatalf("ParseRights(read) = %v", err)
	}
	if _, err := ParseRights(""); !errcode.Is(err, errcode.InvalidArgument) {
		t.Fatalf("ParseRights() = %v", err)
	}
	if err := (Rights{"Read"}).Validate(); err == nil {
		t.Fatal("Validate accepted Read")
	}
}
