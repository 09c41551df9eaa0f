package nodeproc

import (
	"fmt"
	"testing"
)

// TestLinkMembers: each node's --cluster list names every peer at the address of its own
// directed link, keeps its own entry, and keeps ids, zones and names.
func TestLinkMembers(t *testing.T) {
	members := "1=a@127.0.0.1:7001/east-a,2=b@127.0.0.1:7002/east-b,3=c@127.0.0.1:7003"
	link := func(from, to uint64, target string) (string, error) {
		return fmt.Sprintf("127.0.0.1:%d%d", from, to), nil
	}
	for from, want := range map[uint64]string{
		1: "1=a@127.0.0.1:7001/east-a,2=b@127.0.0.1:12/east-b,3=c@127.0.0.1:13",
		2: "1=a@127.0.0.1:21/east-a,2=b@127.0.0.1:7002/east-b,3=c@127.0.0.1:23",
	} {
		got, err := linkMembers(members, from, link)
		if err != nil || got != want {
			t.Errorf("linkMembers(from %d) = %q, %v; want %q", from, got, err, want)
		}
	}
	var targets []string
	if _, err := linkMembers(members, 3, func(_, _ uint64, target string) (string, error) {
		targets = append(targets, target)
		return target, nil
	}); err != nil || len(targets) != 2 || targets[0] != "127.0.0.1:7001" || targets[1] != "127.0.0.1:7002" {
		t.Errorf("link was asked for targets %v (%v); want the peers' own raft addresses", targets, err)
	}
	if addr, err := memberAddr(members, 3); err != nil || addr != "127.0.0.1:7003" {
		t.Errorf("memberAddr(3) = %q, %v", addr, err)
	}
	for _, bad := range []string{"1=a", "x=a@h:1", "1a@h:1"} {
		if _, err := linkMembers(bad, 9, link); err == nil {
			t.Errorf("linkMembers(%q) accepted a malformed list", bad)
		}
	}
	if _, err := memberAddr(members, 4); err == nil {
		t.Error("memberAddr found a member that is not listed")
	}
}
