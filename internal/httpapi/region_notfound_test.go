package httpapi

import (
	"strings"
	"testing"
)

// Issue 14 item 5 (first-hour audit T16): a namespace this region does not hold is NotFound
// naming the region asked and the node's address; a lone region (no geo-DR alias) keeps the
// create hint, naming the region it would create in. (internal/e2e's
// TestWrongRegionNamesTheRegion covers a geo-DR pair, where no create is suggested.)
func TestNamespaceNotFoundNamesTheRegion(t *testing.T) {
	e := newEnv(t, false)
	host := strings.TrimPrefix(e.srv.URL, "http://")
	for _, path := range []string{"/namespaces/elsewhere", "/namespaces/elsewhere/eventhubs/h",
		"/namespaces/elsewhere/eventhubs/h/partitions/0/messages"} {
		r := e.must(404, e.do("GET", path, e.admin, nil))
		msg := r.message()
		for _, want := range []string{`namespace "elsewhere" not found in region test`, host, "--server",
			"to create it in region test: 'tandem namespace create elsewhere'"} {
			if r.code() != "NotFound" || !strings.Contains(msg, want) {
				t.Errorf("GET %s: %s, want NotFound mentioning %q", path, r.raw, want)
			}
		}
	}
	// Other NotFound errors keep their own message.
	e.must(201, e.do("PUT", "/namespaces/space1", e.admin, nil))
	r := e.must(404, e.do("GET", "/namespaces/space1/eventhubs/nohub", e.admin, nil))
	if strings.Contains(r.message(), "region") {
		t.Errorf("a missing hub in an existing namespace: %s", r.raw)
	}
}
