package job

import (
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// Job definitions hold sink and reference table URLs with database passwords. job.json keeps
// them (0600, in a 0700 directory); everything that leaves the node shows them redacted as ***
// (sink.RedactURL): the definition in API answers, the job's status and errors, and so the
// CLI's output and the HTTP API's log lines, which print those.

// minScrubbed is the shortest password also removed wherever it appears in an error message
// as a plain string (beside the URL forms sink.Redact finds). A shorter one would mangle
// ordinary words; it is still redacted in every URL and password= form.
const minScrubbed = 4

// Redacted returns the spec as the API shows it: every URL with its passwords as ***.
func (s Spec) Redacted() Spec {
	s.Inputs = slices.Clone(s.Inputs)
	for i := range s.Inputs {
		s.Inputs[i].Reference = sink.RedactURL(s.Inputs[i].Reference)
	}
	s.Outputs = slices.Clone(s.Outputs)
	for i := range s.Outputs {
		s.Outputs[i].URL = sink.RedactURL(s.Outputs[i].URL)
	}
	return s
}

// urls lists every URL of the spec that may hold a password, with what it is.
func (s Spec) urls() (what, urls []string) {
	for _, in := range s.Inputs {
		if in.Reference != "" {
			what, urls = append(what, "reference input "+in.Name), append(urls, in.Reference)
		}
	}
	for _, o := range s.Outputs {
		what, urls = append(what, "output "+o.Name), append(urls, o.URL)
	}
	return what, urls
}

// scrub redacts a message about the job: URL passwords, and the job's own passwords wherever
// they appear.
func (s Spec) scrub(msg string) string {
	msg = sink.Redact(msg)
	_, urls := s.urls()
	for _, u := range urls {
		for _, p := range sink.URLSecrets(u) {
			if len(p) >= minScrubbed && p != sink.Redacted {
				msg = strings.ReplaceAll(msg, p, sink.Redacted)
			}
		}
	}
	return msg
}

// scrubErr returns err with its message scrubbed, keeping its code. An error that needs no
// scrubbing is returned as it is.
func (s Spec) scrubErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.scrub(msg)
	if clean == msg {
		return err
	}
	return &errcode.Error{Code: errcode.CodeOf(err), Msg: clean}
}

// checkNotRedacted refuses a definition that carries back a redacted password (*** as the API
// shows it) instead of the real one: stored, it would replace the password with ***.
func (s Spec) checkNotRedacted() error {
	what, urls := s.urls()
	for i, u := range urls {
		if slices.Contains(sink.URLSecrets(u), sink.Redacted) {
			return errcode.New(errcode.InvalidArgument,
				"%s: the URL's password is %s, which is how the API shows a stored password, not the password itself; send the URL with the real password (the API never returns it)",
				what[i], sink.Redacted)
		}
	}
	return nil
}
