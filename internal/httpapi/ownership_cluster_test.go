package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/clustertest"
)

// In a 3-node region, claims of one partition with the same ETag sent at once through the
// three nodes: exactly one wins each round (the compare-and-set is decided at apply, in raft
// order), every node then reads the winner, and the ownership survives a restart of the
// metadata leader.
func TestClusterOwnershipRace(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{HTTP: true})
	c.CreateHub("orders", 2)
	url := func(n *clustertest.Node, suffix string) string {
		return fmt.Sprintf("%s/namespaces/%s/eventhubs/orders/consumergroups/$Default/ownership%s", n.HTTPURL, broker.DevNamespace, suffix)
	}
	cond := []string{"If-None-Match", "*"}
	var etag string
	for round := range 5 {
		answers := make([]apiAnswer, len(c.Nodes))
		var wg sync.WaitGroup
		for i, n := range c.Nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = call(t, "PUT", url(n, "/1"), fmt.Sprintf(`{"ownerId":"node-%d"}`, n.ID), cond...)
			}()
		}
		wg.Wait()
		winners := 0
		for i, a := range answers {
			switch a.status {
			case http.StatusOK:
				winners++
				var o struct{ ETag string }
				if err := json.Unmarshal([]byte(a.body), &o); err != nil {
					t.Fatal(err)
				}
				etag = o.ETag
			case http.StatusPreconditionFailed:
			default:
				t.Fatalf("round %d through node %d: %d %s", round, c.Nodes[i].ID, a.status, a.body)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners of %v, want exactly 1: %+v", round, winners, cond, answers)
		}
		for _, n := range c.Nodes {
			if a := call(t, "GET", url(n, "/1"), ""); a.status != http.StatusOK || !json.Valid([]byte(a.body)) || !contains(a.body, etag) {
				t.Fatalf("round %d: node %d reads %d %s, want etag %s", round, n.ID, a.status, a.body, etag)
			}
		}
		cond = []string{"If-Match", `"` + etag + `"`}
	}
	leader := c.MetaLeader()
	leader.Stop()
	c.WaitMetaLeader(leader.ID)
	c.Restart(leader)
	clustertest.Eventually(t, "the restarted node to read the ownership", func() bool {
		a := call(t, "GET", url(leader, "/1"), "")
		return a.status == http.StatusOK && contains(a.body, etag)
	})
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }
