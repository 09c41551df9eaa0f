package geodr

import (
	"encoding/json"
	"testing"

	"github.com/tandem-streaming/tandem/internal/meta"
)

// FuzzLinkMessages feeds arbitrary bytes to the decoders of the region-to-region protocol: a
// replication page (which nests metadata commands), a snapshot, a pair and a fence request.
// They must return an error or a value, never panic.
func FuzzLinkMessages(f *testing.F) {
	f.Add([]byte(`{"entries":[{"index":3,"command":{"v":1,"type":"CreateHub","ns":"a","hub":"h","time":"2026-01-01T00:00:00Z"}}],"through":3,"head":3,"pending":1}`))
	f.Add([]byte(`{"entries":[{"index":4,"command":{"v":1,"type":"Replicated","ns":"a","alias":"x","through":4,"command":{"v":1,"type":"DeleteHub","ns":"a","hub":"h"}}}]}`))
	f.Add([]byte(`{"index":9,"namespace":{"name":"a","hubs":{"h":{"name":"h","partitionCount":2,"groups":{}}}}}`))
	f.Add([]byte(`{"alias":"x","epoch":1,"linkKey":"k","primary":{"region":"east","namespace":"a","endpoint":"http://127.0.0.1:1"}}`))
	f.Add([]byte(`{"epoch":2,"holder":{"region":"west","namespace":"b","kafka":["127.0.0.1:9"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var pg Page
		if json.Unmarshal(data, &pg) == nil {
			for _, e := range pg.Entries {
				if e.Command == nil {
					t.Fatalf("decoded entry %d without a command", e.Index)
				}
				meta.NamespaceOf(e.Command)
			}
		}
		var s Snapshot
		_ = json.Unmarshal(data, &s)
		var p PairRequest
		_ = json.Unmarshal(data, &p)
		var fr FenceRequest
		_ = json.Unmarshal(data, &fr)
	})
}
