package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// Issue 14 item 5 (first-hour audit T16): in a geo-DR pair, the CLI pointed at the wrong
// region gets a NotFound that names the region it asked (and the node's address) and asks
// whether --server points at the right region, instead of suggesting to create the namespace
// there; the right region answers.
func TestWrongRegionNamesTheRegion(t *testing.T) {
	g := newGeoPair(t, false)
	_, stderr, err := runCLI(t, nil, "--server", g.east.URL(), "--data", g.east.data, "alias", "show", g.sns+"/"+g.alias)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("alias show %s/%s against east: %v, want exit code 3 (not found)\n%s", g.sns, g.alias, err, stderr)
	}
	for _, want := range []string{`namespace "` + g.sns + `" is not in region east`, g.east.HTTPAddr, "--server"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "namespace create") {
		t.Errorf("the wrong region suggests a create:\n%s", stderr)
	}
	out, stderr, err := runCLI(t, nil, "--server", g.west.URL(), "--data", g.west.data, "alias", "show", g.sns+"/"+g.alias)
	if err != nil || !strings.Contains(out, g.alias) {
		t.Fatalf("alias show against west: %v\n%s%s", err, out, stderr)
	}
}
