package cluster

import (
	"strings"
	"testing"
)

var secret = []byte("0123456789abcdef-cluster-secret")

func TestParseConfig(t *testing.T) {
	three := "1=a@127.0.0.1:7001,2=b@127.0.0.2:7001/bravo,3=c@127.0.0.3:7001"
	tests := []struct {
		name    string
		id      uint64
		zone    string
		cluster string
		secret  []byte
		want    []Member // nil: do not check
		zoneOut string
		errs    []string // substrings of the error; nil: no error
		warns   []string // substrings of the warnings
	}{
		{name: "three zones", id: 2, zone: "b", cluster: three, secret: secret, zoneOut: "b",
			want: []Member{{1, "node-1", "a", "127.0.0.1:7001", ""}, {2, "bravo", "b", "127.0.0.2:7001", ""}, {3, "node-3", "c", "127.0.0.3:7001", ""}}},
		{name: "zone from the list", id: 3, cluster: three, secret: secret, zoneOut: "c"},
		{name: "unsorted list is sorted", id: 1, zone: "a", cluster: "3=c@h3:1,1=a@h1:1,2=b@h2:1", secret: secret,
			want: []Member{{1, "node-1", "a", "h1:1", ""}, {2, "node-2", "b", "h2:1", ""}, {3, "node-3", "c", "h3:1", ""}}},
		{name: "one node, no peers", id: 0, cluster: "", zoneOut: "default",
			want: []Member{{1, "node-1", "default", "", ""}}},
		{name: "one node with zone", id: 7, zone: "z1", cluster: " ", zoneOut: "z1",
			want: []Member{{7, "node-7", "z1", "", ""}}},
		{name: "one listed node needs no secret", id: 1, zone: "a", cluster: "1=a@127.0.0.1:7001", zoneOut: "a"},
		{name: "duplicate id", id: 1, zone: "a", cluster: "1=a@h1:1,1=b@h2:1", secret: secret,
			errs: []string{"node id 1 appears twice"}},
		{name: "not in list", id: 4, zone: "a", cluster: three, secret: secret,
			errs: []string{"--node-id 4) is not in --cluster", "add 4=ZONE@HOST:PORT"}},
		{name: "zone disagrees", id: 1, zone: "b", cluster: three, secret: secret,
			errs: []string{"--zone b but --cluster puts node 1 in zone a"}},
		{name: "no secret", id: 1, zone: "a", cluster: three,
			errs: []string{"needs a cluster secret of at least 16 bytes"}},
		{name: "short secret", id: 1, zone: "a", cluster: three, secret: []byte("short"),
			errs: []string{"cluster secret"}},
		{name: "missing port", id: 1, zone: "a", cluster: "1=a@127.0.0.1,2=b@h:1", secret: secret,
			errs: []string{`node 1: raft address "127.0.0.1" is not HOST:PORT`}},
		{name: "no host", id: 1, zone: "a", cluster: "1=a@:7001,2=b@h:1", secret: secret,
			errs: []string{"has no host"}},
		{name: "bad port", id: 1, zone: "a", cluster: "1=a@h:99999,2=b@h:1", secret: secret,
			errs: []string{`port "99999" is not in 1-65535`}},
		{name: "same address", id: 1, zone: "a", cluster: "1=a@h:1,2=b@h:1", secret: secret,
			errs: []string{"nodes 1 and 2 have the same raft address h:1"}},
		{name: "no equals", id: 1, zone: "a", cluster: "a@h:1", errs: []string{"has no '='", "ID=ZONE@HOST:PORT"}},
		{name: "id not a number", id: 1, zone: "a", cluster: "x=a@h:1", errs: []string{`node id "x" is not a positive integer`}},
		{name: "id zero", id: 1, zone: "a", cluster: "0=a@h:1", errs: []string{"not a positive integer"}},
		{name: "no zone", id: 1, zone: "a", cluster: "1=h:1", errs: []string{"has no zone"}},
		{name: "empty name", id: 1, zone: "a", cluster: "1=a@h:1/", errs: []string{"empty name"}},
		{name: "several errors at once", id: 9, zone: "a", cluster: "1=a@h:1,1=a@h:x", secret: secret,
			errs: []string{"appears twice", `port "x"`, "--node-id 9"}},
		{name: "two zones warns", id: 1, zone: "a", cluster: "1=a@h1:1,2=a@h2:1,3=b@h3:1", secret: secret,
			warns: []string{"3 nodes in 2 zone(s)", "spread the nodes over 3 zones"}},
		{name: "two nodes warns", id: 1, zone: "a", cluster: "1=a@h1:1,2=b@h2:1", secret: secret,
			warns: []string{"2 nodes tolerate no node failure"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, warns, err := ParseConfig(tc.id, tc.zone, tc.cluster, tc.secret)
			if tc.errs == nil && err != nil {
				t.Fatalf("error: %v", err)
			}
			for _, e := range tc.errs {
				if err == nil || !strings.Contains(err.Error(), e) {
					t.Fatalf("error %v, want it to contain %q", err, e)
				}
			}
			if tc.errs != nil {
				return
			}
			w := strings.Join(warns, "\n")
			for _, s := range tc.warns {
				if !strings.Contains(w, s) {
					t.Errorf("warnings %q, want %q", w, s)
				}
			}
			if tc.warns == nil && len(warns) > 0 {
				t.Errorf("unexpected warnings %q", w)
			}
			if tc.want != nil && !equalMembers(c.Nodes, tc.want) {
				t.Errorf("nodes %+v, want %+v", c.Nodes, tc.want)
			}
			if tc.zoneOut != "" && c.Zone != tc.zoneOut {
				t.Errorf("zone %q, want %q", c.Zone, tc.zoneOut)
			}
		})
	}
}

func equalMembers(a, b []Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPeersExcludeSelf(t *testing.T) {
	c, _, err := ParseConfig(2, "b", "1=a@h1:1,2=b@h2:1,3=c@h3:1", secret)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Peers()
	if len(p) != 2 || p[1] != "h1:1" || p[3] != "h3:1" {
		t.Fatalf("peers %v", p)
	}
	if s := c.Self(); s.ID != 2 || s.RaftAddr != "h2:1" {
		t.Fatalf("self %+v", s)
	}
}

func TestKafkaAddrValidated(t *testing.T) {
	c, _, err := ParseConfig(1, "a", "1=a@h1:1,2=b@h2:1,3=c@h3:1", secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Nodes[0].KafkaAddr = "h1:9092"
	if _, err := c.Validate(); err != nil {
		t.Fatalf("a good Kafka address: %v", err)
	}
	for _, bad := range []string{"h1", ":9092", "h1:0", "h1:70000"} {
		c.Nodes[1].KafkaAddr = bad
		if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), "node 2's Kafka address") {
			t.Errorf("Kafka address %q: %v", bad, err)
		}
	}
}
