package sink

import (
	"slices"
	"strings"
	"testing"
)

// Audit M5 (secrets at rest, as they leave the node): a sink URL's password reads as *** in
// every form a job definition can hold it, and the rest of the URL stays readable.
func TestAuditM5_RedactURL(t *testing.T) {
	for _, c := range []struct{ in, want, secret string }{
		{"postgres://app:s3cret@db.example:5432/sales?table=T&sslmode=disable",
			"postgres://app:***@db.example:5432/sales?table=T&sslmode=disable", "s3cret"},
		{"postgresql://app:p%40ss%2Fw@db/sales", "postgresql://app:***@db/sales", "p@ss/w"},
		{"postgres://app:pa/ss#x@db/sales?table=T", "postgres://app:***@db/sales?table=T", "pa/ss#x"},
		{"postgres://app@db/sales?password=hunter2&table=T", "postgres://app@db/sales?password=***&table=T", "hunter2"},
		{"postgres://db/sales?sslpassword=keypass&PASSWORD=Two", "postgres://db/sales?sslpassword=***&PASSWORD=***", "keypass"},
		{"host=db user=app password='a b c' dbname=sales", "host=db user=app password=*** dbname=sales", "a b c"},
		{`open sink "postgres://u:topsecret@h/db?table=x": refused`, `open sink "postgres://u:***@h/db?table=x": refused`, "topsecret"},
		{"sqlite:///data/a@b:c.db?table=T", "sqlite:///data/a@b:c.db?table=T", ""},
		{"file:///var/x:y@z/out.jsonl", "file:///var/x:y@z/out.jsonl", ""},
		{"/data/out.jsonl", "/data/out.jsonl", ""},
		{"postgres://app@db/sales", "postgres://app@db/sales", ""},
	} {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
		secrets := URLSecrets(c.in)
		if c.secret == "" {
			if len(secrets) != 0 {
				t.Errorf("URLSecrets(%q) = %q, want none", c.in, secrets)
			}
			continue
		}
		if !slices.Contains(secrets, c.secret) {
			t.Errorf("URLSecrets(%q) = %q, want it to hold %q", c.in, secrets, c.secret)
		}
		if got := RedactURL(c.in); strings.Contains(got, c.secret) {
			t.Errorf("RedactURL(%q) = %q still holds the password", c.in, got)
		}
	}
}
