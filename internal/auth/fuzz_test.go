package auth

import (
	"strings"
	"testing"
	"time"
)

func FuzzParseSASToken(f *testing.F) {
	f.Add(NewSASToken(kaResource, "RootManageSharedAccessKey", kaKey, time.Unix(kaExpiry, 0)))
	f.Add("skn=send&se=1700000000&sig=GWC28yoPh1tC9o0up03Grn5xqoY4GNEh8A6ZdUlByWo%3D&sr=sb%3A%2F%2Fns1%2Fhub1")
	f.Add("SharedAccessSignature sr=a+b&sig=a+b&se=0&skn=x%20y")
	f.Add("sr=%&sig=&se=-1")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseSASToken(s)
		if err != nil {
			return
		}
		_ = tok.Verify(kaKey, time.Unix(0, 0))
		_ = tok.Covers("sb://ns1/hub1")
		again, err := ParseSASToken(tok.String())
		if err != nil {
			t.Fatalf("ParseSASToken(%q) ok, but its String() %q does not parse: %v", s, tok.String(), err)
		}
		if again.Resource != tok.Resource || again.Signature != tok.Signature || !again.Expiry.Equal(tok.Expiry) || again.KeyName != tok.KeyName {
			t.Fatalf("round trip changed the token:\n %+v\n %+v", tok, again)
		}
	})
}

func FuzzParseConnectionString(f *testing.F) {
	f.Add("Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=abc=;EntityPath=hub1")
	f.Add("endpoint=ns1;sharedaccesssignature=sr=a&sig=b&se=1&skn=c;")
	f.Add("Endpoint=sb://[::1]:9093/;SharedAccessKeyName=a;SharedAccessKey=b")
	f.Add(";;=;Endpoint=")
	f.Add("Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;")
	f.Add("Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=True;EntityPath=h")
	f.Add("Endpoint=sb://ns1.localhost/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=0")
	f.Add("Endpoint=sb://[::1]/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=T")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConnectionString(s)
		if err != nil {
			return
		}
		if ns := cs.Namespace(); ns != "" && !cs.NamesNamespace() {
			t.Fatalf("ParseConnectionString(%q): Namespace() = %q but NamesNamespace() = %v", s, ns, cs.NamesNamespace())
		}
		if !cs.UseDevelopmentEmulator && !cs.NamesNamespace() {
			t.Fatalf("ParseConnectionString(%q): a string without UseDevelopmentEmulator must name a namespace", s)
		}
		if cs.UseDevelopmentEmulator && !strings.Contains(cs.String(), ";UseDevelopmentEmulator=true") {
			t.Fatalf("String() %q lost UseDevelopmentEmulator or did not write it as lowercase true", cs.String())
		}
		_ = cs.ResourceURI()
		again, err := ParseConnectionString(cs.String())
		if err != nil {
			t.Fatalf("ParseConnectionString(%q) ok, but its String() %q does not parse: %v", s, cs.String(), err)
		}
		if again != cs {
			t.Fatalf("round trip changed the connection string:\n %+v\n %+v", cs, again)
		}
	})
}
