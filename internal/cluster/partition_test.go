package cluster

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/faultproxy"
)

// TestLeaderPartitionedAndHealed routes every directed link i→j through its
// own faultproxy. Cutting all of the leader's links makes the other two
// elect a new leader and go on committing; after Heal the old leader steps
// down, catches up and holds the same list as the others.
func TestLeaderPartitionedAndHealed(t *testing.T) {
	tc := newTestCluster(t)
	var proxies [3][3]*faultproxy.Proxy
	byAddr := map[string]int{}
	for j := range 3 {
		byAddr[tc.cfgs[j].Self().RaftAddr] = j
		for i := range 3 {
			if i == j {
				continue
			}
			p, err := faultproxy.New("127.0.0.1:0", tc.cfgs[j].Self().RaftAddr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			proxies[i][j] = p
		}
	}
	tc.dialer = func(from uint64) func(ctx context.Context, addr string) (net.Conn, error) {
		return func(ctx context.Context, addr string) (net.Conn, error) {
			j, ok := byAddr[addr]
			if !ok {
				return nil, fmt.Errorf("no proxy for %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", proxies[from-1][j].Addr())
		}
	}
	for i := range 3 {
		tc.start(i)
	}
	var acked []string
	put := func(n int, prefix string) {
		for k := range n {
			d := fmt.Sprintf("%s-%d", prefix, k)
			if !tc.propose(d) {
				t.Fatalf("%s never acknowledged", d)
			}
			acked = append(acked, d)
		}
	}
	old := tc.leader()
	put(30, "before")
	st0, _ := tc.nodes[old].Status(testGroup)
	links := func(f func(p *faultproxy.Proxy)) {
		for k := range 3 {
			if k != old {
				f(proxies[old][k])
				f(proxies[k][old])
			}
		}
	}
	links((*faultproxy.Proxy).Cut)
	var lead int
	eventually(t, "a new leader on the majority side", 30*time.Second, func() error {
		for i := range 3 {
			if i != old && tc.nodes[i].Confirmed(testGroup) {
				lead = i
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	put(30, "during")
	links((*faultproxy.Proxy).Heal)
	put(10, "after")
	tc.converged(acked)
	st, _ := tc.nodes[old].Status(testGroup)
	if st.State == "StateLeader" || st.Term <= st0.Term {
		t.Fatalf("old leader %d after heal: %+v (before: term %d)", old+1, st, st0.Term)
	}
	t.Logf("leader %d cut off, node %d took over (term %d → %d)", old+1, lead+1, st0.Term, st.Term)
}
