package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/clustertest"
)

// A management read on any node sees every change acknowledged before it through another
// node (the API syncs the metadata with a raft ReadIndex before it reads): a hub created
// through node A is found at once through nodes B and C, and a deleted one is gone.
func TestClusterManagementReadsSeeWritesThroughOtherNodes(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{HTTP: true})
	c.CreateHub("warmup", 1)
	c.RecordEndpoints()
	for i := range 30 {
		w, r := c.Nodes[i%3], c.Nodes[(i+1)%3]
		hub := fmt.Sprintf("raw-%d", i)
		url := func(n *clustertest.Node) string {
			return fmt.Sprintf("%s/namespaces/%s/eventhubs/%s", n.HTTPURL, broker.DevNamespace, hub)
		}
		if a := call(t, "PUT", url(w), `{"properties":{"partitionCount":1}}`); a.status/100 != 2 {
			t.Fatalf("PUT hub %s through node %d: %d %s", hub, w.ID, a.status, a.body)
		}
		if a := call(t, "GET", url(r), ""); a.status != http.StatusOK {
			t.Fatalf("GET hub %s through node %d right after its creation through node %d: %d %s", hub, r.ID, w.ID, a.status, a.body)
		}
		if a := call(t, "DELETE", url(r), ""); a.status/100 != 2 {
			t.Fatalf("DELETE hub %s through node %d: %d %s", hub, r.ID, a.status, a.body)
		}
		if a := call(t, "GET", url(w), ""); a.status != http.StatusNotFound {
			t.Fatalf("GET hub %s through node %d right after its deletion through node %d: %d %s, want 404", hub, w.ID, r.ID, a.status, a.body)
		}
	}
}
