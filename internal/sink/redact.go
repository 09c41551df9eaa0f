package sink

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redacted is what a password reads as once redacted, in a sink URL shown to anyone.
const Redacted = "***"

// passwordParam matches a password given as a parameter: ?password=…, &sslpassword=… in a URL,
// or password=… (possibly quoted) in a keyword/value connection string. Group 2 is the value.
var passwordParam = regexp.MustCompile(`(?i)(\b[a-z_]*password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s'"` + "`" + `]*)`)

// RedactURL returns a sink URL (or a reference table URL) with its passwords replaced by
// Redacted, keeping the rest readable: postgres://app:***@db:5432/sales?table=T. It redacts the
// password of the userinfo and every *password= parameter, and it does not parse strictly, so
// it also redacts what a malformed URL holds. The stored URL keeps the real value; this is for
// what leaves the node (API answers, errors, logs).
func RedactURL(s string) string { return Redact(s) }

// Redact replaces, in any text (an error message that quotes URLs), the password of every
// scheme://user:password@ and every *password=value with Redacted.
func Redact(s string) string {
	spans := secretSpans(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(Redacted)
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// URLSecrets returns the passwords a sink URL holds (its userinfo password and its *password=
// parameters), as written and decoded: what must not leave the node, and what RedactURL hides.
func URLSecrets(s string) []string {
	var out []string
	add := func(v string) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, sp := range secretSpans(s) {
		v := s[sp[0]:sp[1]]
		add(v)
		if d, err := url.PathUnescape(v); err == nil {
			add(d)
		}
		if d, err := url.QueryUnescape(strings.Trim(v, "'")); err == nil {
			add(d)
		}
	}
	return out
}

// secretSpans returns the byte ranges of s that hold a non-empty password, in order and not
// overlapping: the password of each scheme://user:password@ (which ends at the last '@' before
// the query or the end of the token, so a password with an unescaped '/' or '#' is covered too),
// and the value of each *password= parameter.
func secretSpans(s string) [][2]int {
	var spans [][2]int
	for off := 0; ; {
		i := strings.Index(s[off:], "://")
		if i < 0 {
			break
		}
		start := off + i + 3
		end := strings.IndexAny(s[start:], " \t\r\n\"'`")
		if end < 0 {
			end = len(s) - start
		}
		tok := s[start : start+end]
		off = start + end
		hier, _, _ := strings.Cut(tok, "?")
		at := strings.LastIndex(hier, "@")
		if at <= 0 || strings.HasPrefix(hier, "/") {
			continue
		}
		if colon := strings.Index(hier[:at], ":"); colon >= 0 && colon+1 < at {
			spans = append(spans, [2]int{start + colon + 1, start + at})
		}
	}
	for _, m := range passwordParam.FindAllStringSubmatchIndex(s, -1) {
		if m[5] > m[4] {
			spans = append(spans, [2]int{m[4], m[5]})
		}
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	out := spans[:0]
	for _, sp := range spans {
		if n := len(out); n > 0 && sp[0] < out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], sp[1])
			continue
		}
		out = append(out, sp)
	}
	return out
}
