package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

func TestDevClusterSettings(t *testing.T) {
	base := devSettings{dir: "d", kafkaPort: 9092, httpPort: 8080, raftPort: 7001, timeout: 1, nodes: 3}
	if err := base.check(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []devSettings{{dir: "d", timeout: 1, nodes: 3}, {dir: "d", kafkaPort: 9092, httpPort: 8080, timeout: 1, nodes: 1}} {
		if err := s.check(); err != nil {
			t.Errorf("check(%+v) = %v", s, err)
		}
	}
	for _, tc := range []struct {
		change func(*devSettings)
		want   string
	}{
		{func(s *devSettings) { s.nodes = 2 }, "--nodes 2"},
		{func(s *devSettings) { s.nodes = 5 }, "--nodes 5"},
		{func(s *devSettings) { s.httpPort = 9094 }, "overlap"},
		{func(s *devSettings) { s.raftPort = 8082 }, "overlap"},
		{func(s *devSettings) { s.kafkaPort = 8180 }, "overlap"}, // east's Kafka on west's HTTP ports
		{func(s *devSettings) { s.raftPort = 65434 }, "out of range"},
		{func(s *devSettings) { s.raftPort = -1 }, "out of range"},
	} {
		s := base
		tc.change(&s)
		if err := s.check(); !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("check(%+v) = %v, want InvalidArgument mentioning %q", s, err, tc.want)
		}
	}
}

func TestDevClusterSummary(t *testing.T) {
	var nodes [2][]*devChild
	var sides [2]*devSide
	for i, r := range []string{"east", "west"} {
		for k := 1; k <= 3; k++ {
			nodes[i] = append(nodes[i], &devChild{region: r,
				kafkaAddr: fmt.Sprintf("127.0.0.1:%d", 9092+100*i+k-1), httpAddr: fmt.Sprintf("127.0.0.1:%d", 8080+100*i+k-1),
				spec: nodeproc.Spec{Name: fmt.Sprintf("node %s-%s", r, nodeproc.Zone(k)), DataDir: fmt.Sprintf("td/%s/node-%d", r, k),
					Log: fmt.Sprintf("td/%s/node-%d.log", r, k)}})
		}
		sides[i] = &devSide{child: nodes[i][1], namespace: "tandem-" + r} // node 2 leads the metadata
	}
	info := &devInfo{dir: "td", kcatConf: "td/kcat.conf", sides: sides, nodes: nodes,
		alias: client.Alias{Name: "tandem-dev", Role: "Primary", ProvisioningState: "Succeeded", Epoch: 1,
			PartnerNamespace: "tandem-west", PartnerRegion: "west"},
		connString: "Endpoint=sb://tandem-dev/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=a+b/c="}
	var out bytes.Buffer
	if err := info.print(&out); err != nil {
		t.Fatal(err)
	}
	bootstrap := "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194"
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != "tandem dev ready alias=tandem-dev bootstrap="+bootstrap+" east=127.0.0.1:8081 west=127.0.0.1:8181 nodes=3" {
		t.Errorf("last line = %q", last)
	}
	for _, want := range []string{
		"two regions of 3 nodes each",
		"west    tandem-west  3     c     127.0.0.1:9194  http://127.0.0.1:8182",
		"kcat -b " + bootstrap + " ",
		"tandem --server http://127.0.0.1:8081 --data td/east cluster status",
		"tandem --server http://127.0.0.1:8181 --data td/west alias fail-over",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	rf := info.regions()
	if len(rf.Regions) != 2 || len(rf.Regions[1].Nodes) != 3 || rf.Regions[1].Nodes[2].Zone != "c" ||
		rf.Regions[1].Nodes[2].Name != "west-c" || !strings.HasSuffix(rf.Regions[0].AdminKeyFile, "td/east/admin-key") {
		t.Errorf("regions file %+v", rf)
	}
}
