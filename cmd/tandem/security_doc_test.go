package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// limitFlag matches the serve flags that bound what a client can make the node spend; each
// must have a row in the limits table of docs/SECURITY.md, and each row must name a real flag.
var limitFlag = regexp.MustCompile(`^(kafka-(max|auth|idle|sasl|memory|fetch|write|connection)|amqp-(max|auth|idle|memory|write)|http-(max|read|write|idle|allowed)|max-|receive-|job-(reference|state)|metrics-|peer-)`)

func TestSecurityDocListsEveryLimitFlag(t *testing.T) {
	doc, err := os.ReadFile("../../docs/SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "\n## Limits\n")
	if !ok {
		t.Fatal("docs/SECURITY.md has no '## Limits' section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	documented := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		first, _, _ := strings.Cut(line[2:], " |")
		for _, m := range regexp.MustCompile("`--([a-z0-9-]+)`").FindAllStringSubmatch(first, -1) {
			documented[m[1]] = true
		}
	}
	flags := newServeCmd().Flags()
	for name := range documented {
		if flags.Lookup(name) == nil {
			t.Errorf("docs/SECURITY.md lists --%s, which tandem serve does not have", name)
		}
	}
	n := 0
	flags.VisitAll(func(f *pflag.Flag) {
		if !limitFlag.MatchString(f.Name) {
			return
		}
		n++
		if !documented[f.Name] {
			t.Errorf("tandem serve --%s bounds what clients can spend but has no row in the limits table of docs/SECURITY.md", f.Name)
		}
	})
	if n < 20 {
		t.Errorf("only %d limit flags found: the pattern no longer matches the flag names", n)
	}
}
