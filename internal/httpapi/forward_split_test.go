package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/clustertest"
)

// One send whose partition keys map to partitions led by every node of the region (and
// events without a key) is split by partition: each share is appended at its partition's
// leader, and the answer places every event, in request order, where a receive finds it.
func TestClusterHTTPSendSplitsAcrossLeaders(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{HTTP: true})
	const hub, parts = "mixed", 6
	c.CreateHub(hub, parts)
	c.RecordEndpoints()
	leaders := map[uint64]bool{}
	clustertest.Eventually(t, "leaders for every partition on more than one node", func() bool {
		clear(leaders)
		for p := range int32(parts) {
			l := c.PartitionLeader(hub, p)
			if l == nil {
				return false
			}
			leaders[l.ID] = true
		}
		return len(leaders) > 1
	})
	base := fmt.Sprintf("%s/namespaces/%s/eventhubs/%s", c.Nodes[0].HTTPURL, broker.DevNamespace, hub)
	var evs []string
	for i := range 40 {
		if i%10 == 9 {
			evs = append(evs, fmt.Sprintf(`{"body":"e%d"}`, i)) // no key
			continue
		}
		evs = append(evs, fmt.Sprintf(`{"body":"e%d","partitionKey":"k%d"}`, i, i))
	}
	s := decodeSent(t, call(t, "POST", base+"/messages", "["+strings.Join(evs, ",")+"]"))
	if len(s.Events) != len(evs) {
		t.Fatalf("%d placements for %d events", len(s.Events), len(evs))
	}
	used := map[int32]bool{}
	for i, e := range s.Events {
		used[e.PartitionID] = true
		if i%10 != 9 {
			if want := broker.KeyPartition([]byte(fmt.Sprintf("k%d", i)), parts); e.PartitionID != want {
				t.Fatalf("event %d with key k%d placed in partition %d, want %d", i, i, e.PartitionID, want)
			}
		}
		// The event is where the answer says.
		a := call(t, "GET", fmt.Sprintf("%s/partitions/%d/messages?from=offset:%d&max=1", base, e.PartitionID, e.Offset), "")
		if a.status != http.StatusOK || !strings.Contains(a.body, fmt.Sprintf(`"body":"e%d"`, i)) {
			t.Fatalf("event %d placed at partition %d offset %d, but a receive there gives %d %s", i, e.PartitionID, e.Offset, a.status, a.body)
		}
	}
	if len(used) < 2 {
		t.Fatalf("the keys used only partitions %v", used)
	}
}
