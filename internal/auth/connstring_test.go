package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func TestParseConnectionString(t *testing.T) {
	for _, tc := range []struct {
		in        string
		want      ConnectionString
		namespace string
	}{
		{
			in: "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=abc=;EntityPath=hub1",
			want: ConnectionString{Endpoint: "sb://ns1.servicebus.windows.net/", SharedAccessKeyName: "RootManageSharedAccessKey",
				SharedAccessKey: "abc=", EntityPath: "hub1"},
			namespace: "ns1",
		},
		{
			in:        " endpoint = sb://NS1.localhost:9093/ ; sharedaccesskeyname=send;SHAREDACCESSKEY=k;UseDevelopmentEmulator=true; ",
			want:      ConnectionString{Endpoint: "sb://NS1.localhost:9093/", SharedAccessKeyName: "send", SharedAccessKey: "k", UseDevelopmentEmulator: true},
			namespace: "ns1",
		},
		{
			// The emulator's documented string: the host is the server, not a namespace.
			in: "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;",
			want: ConnectionString{Endpoint: "sb://localhost", SharedAccessKeyName: "RootManageSharedAccessKey",
				SharedAccessKey: "SAS_KEY_VALUE", UseDevelopmentEmulator: true},
			namespace: "",
		},
		{
			in: "Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=True;EntityPath=hub1",
			want: ConnectionString{Endpoint: "sb://127.0.0.1:5672/", SharedAccessKeyName: "a", SharedAccessKey: "b",
				EntityPath: "hub1", UseDevelopmentEmulator: true},
			namespace: "",
		},
		{
			in:        "Endpoint=sb://[::1]:5672/;SharedAccessKeyName=a;SharedAccessKey=b;usedevelopmentemulator=1",
			want:      ConnectionString{Endpoint: "sb://[::1]:5672/", SharedAccessKeyName: "a", SharedAccessKey: "b", UseDevelopmentEmulator: true},
			namespace: "",
		},
		{
			// Without the emulator flag, the first label is the namespace, as before.
			in:        "Endpoint=sb://localhost:5672/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=false",
			want:      ConnectionString{Endpoint: "sb://localhost:5672/", SharedAccessKeyName: "a", SharedAccessKey: "b"},
			namespace: "localhost",
		},
		{
			in:        "Endpoint=sb://default/;SharedAccessKeyName=a;SharedAccessKey=b",
			want:      ConnectionString{Endpoint: "sb://default/", SharedAccessKeyName: "a", SharedAccessKey: "b"},
			namespace: "default",
		},
		{
			in:        "Endpoint=ns1.localhost;SharedAccessSignature=SharedAccessSignature sr=sb%3a%2f%2fns1%2f&sig=x&se=1&skn=a",
			want:      ConnectionString{Endpoint: "ns1.localhost", SharedAccessSignature: "SharedAccessSignature sr=sb%3a%2f%2fns1%2f&sig=x&se=1&skn=a"},
			namespace: "ns1",
		},
	} {
		got, err := ParseConnectionString(tc.in)
		if err != nil {
			t.Fatalf("ParseConnectionString(%q): %v", tc.in, err)
		}
		if got != tc.want || got.Namespace() != tc.namespace {
			t.Fatalf("ParseConnectionString(%q) = %+v (namespace %q), want %+v (%q)", tc.in, got, got.Namespace(), tc.want, tc.namespace)
		}
		again, err := ParseConnectionString(got.String())
		if err != nil || again != got {
			t.Fatalf("round trip of %q: %+v, %v", got.String(), again, err)
		}
	}
}

func TestConnectionStringFormat(t *testing.T) {
	cs := ConnectionString{Endpoint: "sb://ns1.localhost/", SharedAccessKeyName: "RootManageSharedAccessKey", SharedAccessKey: "k=", EntityPath: "h"}
	want := "Endpoint=sb://ns1.localhost/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k=;EntityPath=h"
	if cs.String() != want {
		t.Fatalf("String() = %s", cs.String())
	}
	if cs.ResourceURI() != "sb://ns1.localhost/h" {
		t.Fatalf("ResourceURI() = %s", cs.ResourceURI())
	}
	// A token minted for the connection string's resource covers its hub and verifies.
	tok, err := ParseSASToken(NewSASToken(cs.ResourceURI(), cs.SharedAccessKeyName, cs.SharedAccessKey, time.Unix(2000, 0)))
	if err != nil || !tok.Covers("sb://ns1.localhost/h") || tok.Verify("k=", time.Unix(1000, 0)) != nil {
		t.Fatalf("token for connection string: %+v %v", tok, err)
	}
}

func TestConnectionStringEmulatorFormat(t *testing.T) {
	cs, err := ParseConnectionString("Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=r;SharedAccessKey=k;UseDevelopmentEmulator=TRUE")
	if err != nil {
		t.Fatal(err)
	}
	// Lowercase true: the JS SDK compares the value with "true" exactly.
	want := "Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=r;SharedAccessKey=k;UseDevelopmentEmulator=true"
	if cs.String() != want {
		t.Fatalf("String() = %s\nwant       %s", cs.String(), want)
	}
	if cs.NamesNamespace() || cs.Host() != "127.0.0.1" {
		t.Fatalf("NamesNamespace() = %v, Host() = %q", cs.NamesNamespace(), cs.Host())
	}
}

func TestParseConnectionStringErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "no Endpoint"},
		{"SharedAccessKeyName=a;SharedAccessKey=b", "no Endpoint"},
		{"Endpoint=sb://ns1/", "no credentials"},
		{"Endpoint=sb://ns1/;SharedAccessKeyName=a", `names rule "a" but has no SharedAccessKey`},
		{"Endpoint=sb://ns1/;SharedAccessKey=b", "no SharedAccessKeyName"},
		{"Endpoint=sb://ns1/;SharedAccessKeyName=a;SharedAccessKey=b;Endpoint=sb://x/", "sets Endpoint twice"},
		{"Endpoint=sb://ns1/;SharedAccessKeyName=a;SharedAccessKeyb", "part 3 has no '='"},
		{"Endpoint=sb:///;SharedAccessKeyName=a;SharedAccessKey=b", "not a URL with a host"},
		{"Endpoint=ftp://ns1/;SharedAccessKeyName=a;SharedAccessKey=b", `scheme "ftp"`},
		{"Endpoint=sb://ns1/;SharedAccessKeyName=a;SharedAccessKey=b;SharedAccessSignature=sr=a&sig=b&se=1&skn=c", "both SharedAccessKey and SharedAccessSignature"},
		{"Endpoint=sb://ns1/;SharedAccessSignature=garbage", "SharedAccessSignature: SAS token"},
		{"Endpoint=sb://localhost/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=yes", `UseDevelopmentEmulator="yes" is not a boolean`},
		{"Endpoint=sb://localhost/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=", `UseDevelopmentEmulator="" is not a boolean`},
		{"Endpoint=sb://localhost/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=true;UseDevelopmentEmulator=true", "sets UseDevelopmentEmulator twice"},
	} {
		_, err := ParseConnectionString(tc.in)
		if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConnectionString(%q) = %v; want InvalidArgument containing %q", tc.in, err, tc.want)
		}
	}
}
