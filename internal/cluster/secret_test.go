package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestWrongSecretCannotJoin: node 3 has the right address and id but the
// wrong cluster secret. Nodes 1 and 2 elect a leader and commit; node 3's
// connections are refused, it applies none of the proposals, and the leader
// keeps its term while node 3 keeps trying (it campaigns on its own).
func TestWrongSecretCannotJoin(t *testing.T) {
	tc := newTestCluster(t, nil, nil, []byte("not-the-cluster-secret-at-all!!"))
	for i := range 3 {
		tc.start(i)
	}
	var lead int
	eventually(t, "a leader among nodes 1 and 2", 30*time.Second, func() error {
		for i := range 2 {
			if tc.nodes[i].Confirmed(testGroup) {
				lead = i
				return nil
			}
		}
		return fmt.Errorf("no confirmed leader")
	})
	st0, _ := tc.nodes[lead].Status(testGroup)
	var acked []string
	for k := range 30 {
		d := fmt.Sprintf("p%d", k)
		if !tc.propose(d) {
			t.Fatalf("%s never acknowledged", d)
		}
		acked = append(acked, d)
	}
	// Watch for at least 1s: five of node 3's election timeouts (10 ticks of 20ms).
	since := time.Now()
	eventually(t, "refusals counted on nodes 1 and 2", 30*time.Second, func() error {
		if time.Since(since) < time.Second {
			return fmt.Errorf("still watching")
		}
		for i := range 2 {
			if n := counter(t, tc.regs[i], "tandem_raftnet_handshake_failures_total", "bad_mac"); n < 4 {
				return fmt.Errorf("node %d refused %v handshakes", i+1, n)
			}
		}
		return nil
	})
	st, _ := tc.nodes[lead].Status(testGroup)
	if st.Leader != uint64(lead+1) || st.Term != st0.Term {
		t.Fatalf("leadership disturbed: before %+v, after %+v", st0, st)
	}
	if pr := st.Progress[3]; pr.Match != 0 {
		t.Fatalf("the leader replicated to node 3: %+v", pr)
	}
	_, _, data := tc.sms[2].state()
	if len(data) != 0 {
		t.Fatalf("node 3 applied %d proposals", len(data))
	}
	if s3, _ := tc.nodes[2].Status(testGroup); s3.Leader != 0 && s3.Leader != 3 {
		t.Fatalf("node 3 follows node %d", s3.Leader)
	}
	for i := range 2 {
		_, _, data := tc.sms[i].state()
		for _, a := range acked {
			if _, ok := data[a]; !ok {
				t.Fatalf("node %d lacks %s", i+1, a)
			}
		}
	}
}

// counter sums the metric's series whose labels include value.
func counter(t *testing.T, reg *prometheus.Registry, name, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
