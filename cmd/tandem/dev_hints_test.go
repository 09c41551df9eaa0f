package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHintText(t *testing.T) {
	const fo = "tandem --server http://127.0.0.1:8180 --data d/west alias fail-over tandem-west/tandem-dev"
	for _, tc := range []struct {
		name         string
		alive, total int
		restarts     []string
		want, absent []string
	}{
		{"one node of three", 2, 3, nil, []string{"region east carries on with 2 of 3 nodes (a majority)"}, []string{"fail-over", "start again"}},
		{"no majority", 1, 3, []string{"tandem serve --node-id 1"},
			[]string{"region east has 1 of 3 nodes: no majority", "fail it over to west with:\n  " + fo,
				"the other stopped nodes of east start again with:\n  tandem serve --node-id 1"}, []string{"carries on"}},
		{"the whole region", 0, 3, []string{"tandem serve --node-id 1", "tandem serve --node-id 2"},
			[]string{"region east is down (all 3 nodes)", "fail it over to west", "  tandem serve --node-id 1\n  tandem serve --node-id 2"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hintText("east", "west", tc.alive, tc.total, fo, tc.restarts)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("hint lacks %q:\n%s", w, got)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(got, a) {
					t.Errorf("hint has %q:\n%s", a, got)
				}
			}
			var b bytes.Buffer
			printHint(&b, got)
			for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
				if !strings.HasPrefix(l, "tandem dev: ") && !strings.HasPrefix(l, "  tandem ") {
					t.Errorf("printed line %q is neither a tandem dev line nor a command", l)
				}
			}
		})
	}
}
