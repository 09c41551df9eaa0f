package geodr

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/tandem-streaming/tandem/internal/meta"
)

// The AMQP listeners a region advertises to its partner (meta.Peer.AMQP), the partner's
// record of them, and JSON of peers older than the field.
func TestSelfAMQP(t *testing.T) {
	for _, tc := range []struct {
		name  string
		own   string
		nodes []meta.PeerNode
		want  []string
	}{
		{"single node", "127.0.0.1:5672", nil, []string{"127.0.0.1:5672"}},
		{"no AMQP", "", nil, nil},
		{"cluster nodes that recorded one", "n1:5672", []meta.PeerNode{{ID: 1, AMQP: "n1:5672"}, {ID: 2}, {ID: 3, AMQP: "n3:5672"}},
			[]string{"n1:5672", "n3:5672"}},
		{"cluster without recorded AMQP", "n1:5672", []meta.PeerNode{{ID: 1}, {ID: 2}}, []string{"n1:5672"}},
	} {
		if got := selfAMQP(tc.own, tc.nodes); !slices.Equal(got, tc.want) {
			t.Errorf("%s: selfAMQP = %v, want %v", tc.name, got, tc.want)
		}
	}
	stored := meta.Peer{Region: "west", Namespace: "ns", Endpoint: "http://w:8180", Kafka: []string{"w:9092"}}
	now := stored
	now.AMQP = []string{"w:5672"}
	if !peerMoved(now, stored) {
		t.Error("a partner that now advertises an AMQP listener is not recorded again")
	}
	if peerMoved(stored, stored) {
		t.Error("an unchanged partner counts as moved")
	}
	// A peer older than the field: no "amqp" in its JSON, nothing recorded.
	var old meta.Peer
	if err := json.Unmarshal([]byte(`{"region":"west","namespace":"ns","endpoint":"http://w:8180","kafka":["w:9092"],"nodes":[{"id":1,"kafka":"w:9092"}]}`), &old); err != nil ||
		old.AMQP != nil || old.Nodes[0].AMQP != "" {
		t.Errorf("older peer JSON: %+v, %v", old, err)
	}
	b, _ := json.Marshal(now)
	var back meta.Peer
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.AMQP, now.AMQP) {
		t.Errorf("Peer.AMQP round trip: %s → %+v, %v", b, back, err)
	}
}
