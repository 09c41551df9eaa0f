package cluster

import (
	"fmt"
	"testing"
)

// TestThreeNodesFailoverAndRestart: real TCP, real WALs. Proposals are
// applied on all three; closing the leader elects another; proposals go on;
// the old leader restarts from its WAL and catches up to identical state.
func TestThreeNodesFailoverAndRestart(t *testing.T) {
	tc := newTestCluster(t)
	for i := range 3 {
		tc.start(i)
	}
	var acked []string
	put := func(n int, prefix string) {
		for k := range n {
			d := fmt.Sprintf("%s-%d", prefix, k)
			if !tc.propose(d) {
				t.Fatalf("proposal %s never acknowledged", d)
			}
			acked = append(acked, d)
		}
	}
	tc.leader()
	put(50, "first")
	tc.converged(acked)

	old := tc.leader()
	tc.stop(old)
	lead := tc.leader()
	if lead == old {
		t.Fatalf("node %d still leads after Close", old+1)
	}
	put(50, "second")
	tc.converged(acked)

	tc.start(old)
	put(20, "third")
	tc.converged(acked)
	if st, _ := tc.nodes[old].Status(testGroup); st.Applied == 0 {
		t.Fatalf("restarted node applied nothing: %+v", st)
	}
}
