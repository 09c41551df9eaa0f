package httpapi

import (
	"bytes"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
)

var fuzzHub = broker.HubInfo{Namespace: "ns", Name: "hub", Partitions: 4, MaxEventBytes: 64}

// FuzzDecodeEventsFast: whatever the fast decoder accepts, the encoding/json decoder decodes
// to the same events; what it declines goes to that decoder anyway, so every answer (events
// or error message) is the encoding/json decoder's.
func FuzzDecodeEventsFast(f *testing.F) {
	for _, s := range []string{
		`{"body":"hello"}`,
		` [ {"body":"a","partitionKey":"k"} , {"partitionKey":"k2","body":""} ] `,
		`[{"body":"aGVsbG8=","bodyEncoding":"base64"}]`,
		`[{"body":"aGVsbG8=","bodyEncoding":"BASE64"}]`,
		`[{"body":"x","bodyEncoding":""}]`,
		`[{"body":"x","body":"y"}]`,
		`[{"Body":"x"}]`,
		`[{"body":{"a":1}}]`,
		`[{"body":{"a":[1,-2.5e+3,true,false,null,"q\"\u00e9"],"b":{}},"partitionKey":"k"}]`,
		`[{"body":[ 1 , {"x" : "y"} ] }]`,
		`[{"body":-0.1E5}, {"body":null}]`,
		`[{"body":01}]`,
		`[{"body":{"a":1,}}]`,
		`[{"body":{"a":1},"bodyEncoding":"base64"}]`,
		`[{"body":"x","properties":{"a":"b"}}]`,
		`[{"body":"é"}]`,
		"[{\"body\":\"\xff\"}]",
		`[{"body":"x"}] x`,
		`[]`,
		`[{"body":"x"},]`,
		`{"body":"x"}{"body":"y"}`,
		`[{"body":"0123456789012345678901234567890123456789012345678901234567890123456789"}]`,
		`[{"body":"x"},{"body":"x"},{"body":"x"},{"body":"x"}]`,
		`[{"body":"not base64!","bodyEncoding":"base64"}]`,
		`[{"body":"x","bodyEncoding":"gzip"}]`,
		`[{"partitionKey":"k"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const maxEvents = 3
		fast, ok := decodeEventsFast(body, fuzzHub, maxEvents, new(sendScratch))
		if !ok {
			return
		}
		slow, err := decodeEvents(bytes.NewReader(body), fuzzHub, maxEvents)
		if err != nil {
			t.Fatalf("fast decoder accepted %q, encoding/json refuses it: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast decoder %+v, encoding/json %+v", body, fast, slow)
		}
	})
}

// TestDecodeEventsFastShapes: the common shapes take the fast path, with the events they
// hold; the others are declined.
func TestDecodeEventsFastShapes(t *testing.T) {
	for _, c := range []struct {
		body string
		want []broker.Event
	}{
		{`{"body":"hello"}`, []broker.Event{{Body: []byte("hello")}}},
		{"[{\"body\":\"a\",\"partitionKey\":\"k\"},\n {\"body\":\"aGk=\",\"bodyEncoding\":\"base64\"}]",
			[]broker.Event{{Body: []byte("a"), PartitionKey: "k"}, {Body: []byte("hi")}}},
		{`[{"body":"x","properties":{"a":"b"}}]`, nil},
		{`[{"body":{"a":1}}]`, []broker.Event{{Body: []byte(`{"a":1}`)}}},
		{`[{"body": [1, "x"] }]`, []broker.Event{{Body: []byte(`[1, "x"]`)}}},
		{`[{"body":{"a":1,}}]`, nil},
		{`[{"body":"x"}] x`, nil},
		{`[{"body":"a\"b"}]`, nil},
	} {
		got, ok := decodeEventsFast([]byte(c.body), fuzzHub, 100, new(sendScratch))
		if ok != (c.want != nil) || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: fast decoder gave %+v, %v; want %+v", c.body, got, ok, c.want)
		}
	}
}

// TestWritePlacementsMatchesEncodingJSON: the send answer is byte for byte what writeJSON
// writes.
func TestWritePlacementsMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 20 {
		out := make([]placementJSON, n)
		for i := range out {
			out[i] = placementJSON{PartitionID: rng.Int32N(1024), Offset: rng.Int64(), SequenceNumber: rng.Int64N(1 << 40),
				EnqueuedTime: time.UnixMilli(rng.Int64N(4e12)).UTC()}
			if i%3 == 0 {
				out[i].EnqueuedTime = out[i].EnqueuedTime.Add(time.Duration(rng.IntN(1e6)))
			}
		}
		fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
		writePlacements(fast, out, new(sendScratch))
		writeJSON(slow, 201, map[string]any{"events": out})
		if fast.Code != slow.Code || fast.Body.String() != slow.Body.String() || fast.Header().Get("Content-Type") != slow.Header().Get("Content-Type") {
			t.Fatalf("%d placements:\nfast %d %q\nslow %d %q", n, fast.Code, fast.Body, slow.Code, slow.Body)
		}
	}
}
