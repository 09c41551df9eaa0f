package dualwrite

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/job"
)

// record is one event (or heartbeat) as the writer sends it and as a spool holds it.
type record struct {
	ID        string            `json:"id,omitempty"`
	Time      int64             `json:"t"`           // produced time: 100 ns ticks since the Unix epoch
	Key       string            `json:"k,omitempty"` // partition key (the event id when the caller gave none)
	Partition *int32            `json:"p,omitempty"` // heartbeats only: the partition it speaks for
	Props     map[string]string `json:"props,omitempty"`
	Body      []byte            `json:"b,omitempty"`
}

func (r *record) heartbeat() bool { return r.Partition != nil }

// event is the record as the broker receives it: the caller's properties plus the dual-write
// ones (job.EventIDProperty, job.ProducedTimeProperty, job.HeartbeatProperty).
func (r *record) event() client.Event {
	props := make(map[string]string, len(r.Props)+2)
	maps.Copy(props, r.Props)
	props[job.ProducedTimeProperty] = strconv.FormatInt(r.Time, 10)
	if r.heartbeat() {
		props[job.HeartbeatProperty] = "1"
		return client.Event{Body: []byte("{}"), Properties: props}
	}
	props[job.EventIDProperty] = r.ID
	return client.Event{Body: r.Body, PartitionKey: r.Key, Properties: props}
}

// encodeRecord and decodeRecord are the spool's record format (JSON).
func encodeRecord(r *record) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a record holds strings, bytes and numbers only
	}
	return b
}

func decodeRecord(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("spooled record: %w", err)
	}
	if r.Time <= 0 || (r.Partition == nil && r.ID == "") || (r.Partition != nil && *r.Partition < 0) {
		return record{}, fmt.Errorf("spooled record has no produced time, no event id or a bad partition")
	}
	return r, nil
}

// runs splits recs into consecutive runs that one send request can carry: events routed by
// their keys, or heartbeats of one partition.
func runs(recs []record) [][]record {
	var out [][]record
	start := 0
	for i := 1; i <= len(recs); i++ {
		if i == len(recs) || !sameRoute(&recs[i], &recs[start]) {
			out = append(out, recs[start:i])
			start = i
		}
	}
	return out
}

func sameRoute(a, b *record) bool {
	if a.heartbeat() != b.heartbeat() {
		return false
	}
	return !a.heartbeat() || *a.Partition == *b.Partition
}
