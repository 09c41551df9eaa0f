package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// SASPrefix starts every shared access signature token.
const SASPrefix = "SharedAccessSignature "

// maxExpiry is the last second of year 9999, the latest expiry a token may carry.
const maxExpiry = 253402300799

// SASToken is a parsed Event Hubs shared access signature:
//
//	SharedAccessSignature sr=<url-encoded resource URI>&sig=<url-encoded signature>&se=<unix expiry>&skn=<key name>
type SASToken struct {
	Resource  string    // the decoded resource URI, for example "sb://ns1.servicebus.windows.net/hub1"
	Signature string    // the decoded base64 HMAC-SHA256 signature
	Expiry    time.Time // se, whole seconds, UTC
	KeyName   string    // skn, the shared access policy that signed the token

	rawResource string // sr exactly as transmitted: the signer signed these bytes
}

// NewSASToken signs resourceURI with the key of policy keyName until expiry, the way the Azure
// SDKs do: string-to-sign = urlencode(resourceURI) + "\n" + expiry (unix seconds), signature =
// base64(HMAC-SHA256(key bytes, string-to-sign)). The URI is encoded with url.QueryEscape and
// lower-cased, as the Azure SDK for Go does; Verify accepts the other SDKs' encodings too.
func NewSASToken(resourceURI, keyName, key string, expiry time.Time) string {
	sr := strings.ToLower(url.QueryEscape(resourceURI))
	se := strconv.FormatInt(expiry.Unix(), 10)
	sig := sign(key, sr, se)
	return SASPrefix + "sr=" + sr + "&sig=" + escapeSig(sig) + "&se=" + se + "&skn=" + url.QueryEscape(keyName)
}

func sign(key, encodedResource, expiry string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(encodedResource + "\n" + expiry))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// ParseSASToken parses a token with or without the "SharedAccessSignature " prefix; its fields
// may come in any order. sr, sig, se and skn are all required.
func ParseSASToken(s string) (SASToken, error) {
	body := strings.TrimSpace(s)
	if p := strings.TrimSpace(SASPrefix); len(body) >= len(p) && strings.EqualFold(body[:len(p)], p) &&
		(len(body) == len(p) || body[len(p)] == ' ') {
		body = strings.TrimSpace(body[len(p):])
	}
	if body == "" {
		return SASToken{}, sasError("is empty")
	}
	var t SASToken
	var se string
	seen := map[string]bool{}
	for _, field := range strings.Split(body, "&") {
		k, v, ok := strings.Cut(field, "=")
		if !ok || v == "" {
			return SASToken{}, sasError("field %q has no value; fields look like sr=…&sig=…&se=…&skn=…", clip(k))
		}
		k = strings.ToLower(k)
		if seen[k] {
			return SASToken{}, sasError("sets %s twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "sr":
			t.rawResource = v
			t.Resource, err = url.QueryUnescape(v)
		case "sig":
			// PathUnescape keeps a literal '+', which careless signers leave unencoded in base64.
			t.Signature, err = url.PathUnescape(v)
		case "se":
			se = v
		case "skn":
			t.KeyName, err = url.QueryUnescape(v)
		default:
			return SASToken{}, sasError("has unknown field %q; expected sr, sig, se and skn", clip(k))
		}
		if err != nil {
			return SASToken{}, sasError("field %s is not URL-encoded correctly: %v", k, err)
		}
	}
	for _, k := range []string{"sr", "sig", "se", "skn"} {
		if !seen[k] {
			return SASToken{}, sasError("has no %s field; a token needs sr (resource), sig (signature), se (expiry) and skn (key name)", k)
		}
	}
	secs, err := strconv.ParseInt(se, 10, 64)
	if err != nil || secs < 0 || secs > maxExpiry {
		return SASToken{}, sasError("expiry se=%q is not a unix time in seconds", clip(se))
	}
	t.Expiry = time.Unix(secs, 0).UTC()
	return t, nil
}

func sasError(format string, args ...any) error {
	return errcode.New(errcode.Unauthorized, "SAS token "+format, args...)
}

// String formats the token with its prefix. A parsed token keeps its resource exactly as it was
// transmitted, so its signature still verifies.
func (t SASToken) String() string {
	sr := t.rawResource
	if sr == "" || mustUnescape(sr) != t.Resource {
		sr = url.QueryEscape(t.Resource)
	}
	return SASPrefix + "sr=" + sr + "&sig=" + escapeSig(t.Signature) +
		"&se=" + strconv.FormatInt(t.Expiry.Unix(), 10) + "&skn=" + url.QueryEscape(t.KeyName)
}

// escapeSig escapes a signature so that url.PathUnescape (used by ParseSASToken) restores it.
func escapeSig(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func mustUnescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return ""
	}
	return u
}

// Verify checks the token against key, the key of the policy named by KeyName, at time now.
// Signers differ in how they URL-encode the resource (upper- or lower-case escapes, a lower-cased
// URI), so the encoded resource as transmitted and the common canonical encodings are tried; the
// comparison is constant-time.
func (t SASToken) Verify(key string, now time.Time) error {
	if !now.Before(t.Expiry) {
		return errcode.New(errcode.Unauthorized,
			"SAS token expired at %s; generate a new one", t.Expiry.UTC().Format(time.RFC3339))
	}
	got, err := base64.StdEncoding.DecodeString(t.Signature)
	if err == nil {
		se := strconv.FormatInt(t.Expiry.Unix(), 10)
		for _, sr := range t.encodings() {
			want, _ := base64.StdEncoding.DecodeString(sign(key, sr, se))
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errcode.New(errcode.Unauthorized,
		"SAS token signature does not match the key of rule %q; sign it with that rule's current primary or secondary key", t.KeyName)
}

// encodings lists the encoded forms of the resource a signer may have signed.
func (t SASToken) encodings() []string {
	q := url.QueryEscape(t.Resource)
	out := []string{q, strings.ToLower(q), lowerEscapes(q)}
	if t.rawResource != "" {
		out = append(out, t.rawResource)
	}
	return out
}

// lowerEscapes lower-cases the hex digits of %XX escapes only, as .NET's HttpUtility.UrlEncode writes them.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerHex(b[i+1]), lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + ('a' - 'A')
	}
	return c
}

// Covers reports whether the token's resource grants access to resource. A token for
// sb://ns/ covers every event hub of ns; a token for sb://ns/hub covers hub and paths under it
// (hub/publishers/x, hub/consumergroups/g) but not other hubs. Schemes sb, amqps, amqp, https
// and http are equivalent; host and path compare case-insensitively; ports and trailing slashes
// are ignored.
func (t SASToken) Covers(resource string) bool {
	th, tp, ok1 := normalizeResource(t.Resource)
	rh, rp, ok2 := normalizeResource(resource)
	if !ok1 || !ok2 || th != rh {
		return false
	}
	return tp == "" || rp == tp || strings.HasPrefix(rp, tp+"/")
}

// normalizeResource returns the lower-case host and the path without surrounding slashes.
func normalizeResource(r string) (host, p string, ok bool) {
	raw := r
	if !strings.Contains(raw, "://") {
		raw = "sb://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "sb", "amqps", "amqp", "https", "http":
	default:
		return "", "", false
	}
	// Clean so that "hub/../other" cannot pass as a path under "hub".
	p = strings.ToLower(strings.Trim(path.Clean("/"+u.Path), "/"))
	return strings.ToLower(u.Hostname()), p, true
}

// GenerateKey returns a new shared access key: 32 random bytes in standard base64, like Azure's.
func GenerateKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errcode.New(errcode.Internal, "generating a shared access key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}
