package job

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Audit M5: a job's passwords are scrubbed from any message about it, in the URL forms and,
// for passwords of minScrubbed bytes or more, as plain strings (a driver's error may quote one
// decoded); the error keeps its code, and the definition the API shows is redacted while the
// spec itself (what job.json stores) keeps the real values.
func TestAuditM5_JobErrorsScrubbed(t *testing.T) {
	s := Spec{Name: "pg",
		Inputs: []InputSpec{{Name: "orders", Namespace: "default", Hub: "orders"},
			{Name: "r", Reference: "postgres://app:r%40f-pass@127.0.0.1/db?table=ref"}},
		Outputs: []OutputSpec{{Name: "out", URL: "postgres://app@127.0.0.1/db?table=T&password=out-pass"},
			{Name: "short", URL: "postgres://app:abc@127.0.0.1/db?table=S"}}}
	err := errcode.New(errcode.Unavailable, "connecting as app with r@f-pass and out-pass to postgres://app:abc@127.0.0.1/db failed")
	got := s.scrubErr(err)
	if msg := got.Error(); strings.Contains(msg, "r@f-pass") || strings.Contains(msg, "out-pass") || strings.Contains(msg, ":abc@") ||
		msg != "connecting as app with *** and *** to postgres://app:***@127.0.0.1/db failed" {
		t.Fatalf("scrubbed: %q", msg)
	}
	if errcode.CodeOf(got) != errcode.Unavailable {
		t.Fatalf("code %s, want Unavailable", errcode.CodeOf(got))
	}
	if plain := errors.New("nothing secret here"); s.scrubErr(plain) != plain {
		t.Fatal("an error with nothing to scrub was replaced")
	}
	r := s.Redacted()
	if r.Inputs[1].Reference != "postgres://app:***@127.0.0.1/db?table=ref" || r.Outputs[0].URL != "postgres://app@127.0.0.1/db?table=T&password=***" ||
		r.Outputs[1].URL != "postgres://app:***@127.0.0.1/db?table=S" {
		t.Fatalf("redacted spec: %+v", r)
	}
	if s.Outputs[0].URL != "postgres://app@127.0.0.1/db?table=T&password=out-pass" || s.Inputs[1].Reference != "postgres://app:r%40f-pass@127.0.0.1/db?table=ref" {
		t.Fatalf("redacting changed the stored spec: %+v", s)
	}
}
