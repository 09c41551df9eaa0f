package saql

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGoldenQueriesParse parses every query of the engine's golden cases (taken from the
// Stream Analytics documentation) and checks that each round-trips through String().
func TestGoldenQueriesParse(t *testing.T) {
	files, err := filepath.Glob("../stream/testdata/golden/*/query.saql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden queries found: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(string(src))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := Parse(q.String()); err != nil {
			t.Errorf("%s: the canonical form does not parse: %v\n%s", f, err, q.String())
		}
	}
}
