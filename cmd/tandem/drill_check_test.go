package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/client/dualwrite"
)

func TestDrillSettingsCheck(t *testing.T) {
	ok := drillSettings{rate: 200, steady: 8 * time.Second, outage: 8 * time.Second, staleness: 3 * time.Second,
		timeout: time.Minute, nodes: 1, fault: faultRegion}
	for _, tc := range []struct {
		name string
		edit func(s *drillSettings)
		want string // "" = accepted
	}{
		{"defaults", func(s *drillSettings) {}, ""},
		{"3-node regions fail over", func(s *drillSettings) { s.nodes = 3 }, ""},
		{"a node of a 3-node region", func(s *drillSettings) { s.nodes, s.fault = 3, faultNode }, ""},
		{"a zone", func(s *drillSettings) { s.nodes, s.fault = 3, faultZone }, ""},
		{"2 nodes", func(s *drillSettings) { s.nodes = 2 }, "--nodes 2 is not offered"},
		{"a node of a single-node region", func(s *drillSettings) { s.fault = faultNode }, "--fault node needs --nodes 3"},
		{"an unknown fault", func(s *drillSettings) { s.nodes, s.fault = 3, "disk" }, `--fault "disk" is not a fault`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			err := s.check()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("check() = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestSplitByKey(t *testing.T) {
	evs := []dualwrite.Event{{PartitionKey: "d1", Body: []byte("1")}, {PartitionKey: "d2", Body: []byte("2")},
		{PartitionKey: "d1", Body: []byte("3")}}
	if got := splitByKey(evs, false); len(got) != 1 || len(got[0]) != 3 {
		t.Errorf("without byKey: %d requests, want 1 of 3 events", len(got))
	}
	got := splitByKey(evs, true)
	if len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 1 || string(got[0][1].Body) != "3" {
		t.Errorf("by key: %v, want [d1: 1 3] [d2: 2]", got)
	}
}
