package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestOneNodeCluster: no --cluster, no raft address, no secret: the node
// elects itself, commits, and restarts from its WAL with the same list.
func TestOneNodeCluster(t *testing.T) {
	cfg, warns, err := ParseConfig(0, "", "", nil)
	if err != nil || len(warns) > 0 {
		t.Fatalf("config: %v %v", err, warns)
	}
	dir := t.TempDir()
	var before []rec
	for run := range 2 {
		n, err := Open(context.Background(), Options{Config: cfg, DataDir: dir, TickInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if n.transport != nil {
			t.Fatal("a one-node cluster started a transport")
		}
		sm := &listSM{}
		if err := n.AddGroup(MetaGroup, []uint64{1}, sm, false); err != nil {
			t.Fatal(err)
		}
		eventually(t, "self-election", 30*time.Second, func() error {
			if !n.Confirmed(MetaGroup) {
				return fmt.Errorf("not leader yet")
			}
			return nil
		})
		if run == 1 {
			if got := n.WALGroups(); len(got) != 1 || got[0] != MetaGroup {
				t.Fatalf("WAL groups %v", got)
			}
			// The list is the one before the restart plus the new term's no-op.
			sm.mu.Lock()
			after := append([]rec(nil), sm.recs...)
			sm.mu.Unlock()
			if len(after) <= len(before) || fmt.Sprint(after[:len(before)]) != fmt.Sprint(before) {
				t.Fatalf("after restart %v, before %v", after, before)
			}
		} else {
			for k := range 20 {
				if _, err := n.Propose(context.Background(), MetaGroup, []byte(fmt.Sprint("p", k))); err != nil {
					t.Fatal(err)
				}
			}
			sm.mu.Lock()
			before = append([]rec(nil), sm.recs...)
			sm.mu.Unlock()
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	cfg := Config{NodeID: 4, Nodes: []Member{{ID: 1, Zone: "a", RaftAddr: "127.0.0.1:1"}, {ID: 2, Zone: "b", RaftAddr: "127.0.0.1:2"}}, Secret: secret}
	_, err := Open(context.Background(), Options{Config: cfg, DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is not in --cluster") {
		t.Fatalf("Open: %v", err)
	}
}
