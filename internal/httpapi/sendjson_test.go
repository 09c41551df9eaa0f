package httpapi

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"strings"
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
		`[{"Body":"hello","BrokerProperties":{"PartitionKey":"c1"},"UserProperties":{"a":"b"}}]`,
		`[{"body":"x","offset":3}]`,
		`{"body":"x","BODY":"y"}`,
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

// T8 (first-hour audit): a send with a field it does not understand — the Event Hubs REST
// format's BrokerProperties and UserProperties among them — is refused with a 400 naming the
// field and the accepted ones, on the fast path (which declines it) and on encoding/json's
// (which refuses it), and nothing is stored.
func TestSendRefusesUnknownFields(t *testing.T) {
	e := newEnv(t, false)
	e.must(201, e.do("PUT", "/namespaces/space1", e.admin, nil))
	e.must(201, e.do("PUT", "/namespaces/space1/eventhubs/h", e.admin, `{"properties":{"partitionCount":2}}`))
	hub := "/namespaces/space1/eventhubs/h"
	for _, c := range []struct{ body, field, hint string }{
		{`[{"Body":"hello","BrokerProperties":{"PartitionKey":"c1"},"UserProperties":{"a":"b"}}]`, "BrokerProperties", "partitionKey"},
		{`{"body":"hello","UserProperties":{"a":"b"}}`, "UserProperties", "as properties"},
		{`[{"body":"ok"},{"body":"x","partitionkey":"k","offset":7}]`, "offset", "sets it"},
		{`[{"body":"x","propertes":{"a":"b"}}]`, "propertes", "spelling"},
		{`{"body":"x","key":"k"}`, "key", "partitionKey"},
	} {
		if _, ok := decodeEventsFast([]byte(c.body), fuzzHub, 100, new(sendScratch)); ok {
			t.Errorf("%s: the fast decoder accepted a body with the field %s", c.body, c.field)
		}
		_, err := decodeEvents(strings.NewReader(c.body), fuzzHub, 100)
		if err == nil || !strings.Contains(err.Error(), `"`+c.field+`"`) {
			t.Errorf("%s: encoding/json decoder: %v, want the field %s refused", c.body, err, c.field)
		}
		for _, path := range []string{hub + "/messages", hub + "/partitions/1/messages"} {
			r := e.must(400, e.do("POST", path, e.admin, c.body))
			msg := r.message()
			if r.code() != "InvalidArgument" || !strings.Contains(msg, `"`+c.field+`"`) || !strings.Contains(msg, sendFields) ||
				!strings.Contains(msg, c.hint) {
				t.Errorf("POST %s %s: %s, want InvalidArgument naming %q, the accepted fields and %q", path, c.body, r.raw, c.field, c.hint)
			}
		}
	}
	for p := range 2 {
		r := e.must(200, e.do("GET", fmt.Sprintf("%s/partitions/%d/messages?from=start", hub, p), e.admin, nil))
		if !strings.Contains(string(r.raw), `"events":[]`) {
			t.Errorf("partition %d holds events after refused sends: %s", p, r.raw)
		}
	}
	// What the send takes still works, in any letter case encoding/json accepts.
	e.must(201, e.do("POST", hub+"/messages", e.admin, `[{"body":"a","partitionKey":"k","properties":{"p":1}},{"Body":"b"}]`))
}
