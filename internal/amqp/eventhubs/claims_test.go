package eventhubs

import (
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
)

func TestAudiencePath(t *testing.T) {
	for _, tc := range []struct{ aud, want string }{
		{"amqp://localhost:5672/hub1", "hub1"}, // Go, emulator string
		{"sb://localhost:5672/hub1/ConsumerGroups/$default/Partitions/0", "hub1/ConsumerGroups/$default/Partitions/0"}, // JS receiver
		{"sb://ns1.servicebus.windows.net/hub1/$management", "hub1/$management"},                                       // JS management
		{"amqps://ns1.servicebus.windows.net/hub1/", "hub1"},
		{"sb://ns1.servicebus.windows.net/", ""},
		{"sb://ns1.servicebus.windows.net", ""},
		{"ns1.servicebus.windows.net/hub1", "hub1"},
		{"localhost:5672/hub1", "hub1"},
		{"hub1/Partitions/0", "hub1/Partitions/0"},
		{"/hub1", "hub1"},
	} {
		if got := audiencePath(tc.aud); got != tc.want {
			t.Errorf("audiencePath(%q) = %q, want %q", tc.aud, got, tc.want)
		}
	}
}

func TestPathCovers(t *testing.T) {
	for _, tc := range []struct {
		claim, entity string
		want          bool
	}{
		{"", "hub", true},
		{"hub", "hub", true},
		{"hub", "HUB", true},
		{"Hub", "hub/ConsumerGroups/$Default/Partitions/0", true},
		{"hub/$management", "hub/$management", true},
		{"hub", "hub/$management", true},
		{"hub", "hub2", false},
		{"hub/$management", "hub", false},
		{"hub/ConsumerGroups/a/Partitions/0", "hub/ConsumerGroups/a/Partitions/1", false},
		{"hub/Partitions/1", "hub/Partitions/10", false},
	} {
		if got := pathCovers(tc.claim, tc.entity); got != tc.want {
			t.Errorf("pathCovers(%q, %q) = %v, want %v", tc.claim, tc.entity, got, tc.want)
		}
	}
}

func TestHostNamespace(t *testing.T) {
	for in, want := range map[string]string{"localhost:5672": "localhost", "ns1": "ns1", "ns1.example.com:5671": "ns1.example.com", "[::1]:5672": "::1", "": ""} {
		if got := hostNamespace(in); got != want {
			t.Errorf("hostNamespace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClaimSet(t *testing.T) {
	var c claimSet
	if err := c.add("hub1", broker.Principal{KeyName: "a"}); err != nil {
		t.Fatal(err)
	}
	c.add("HUB1", broker.Principal{KeyName: "b"}) // replaces
	c.add("hub2/$management", broker.Principal{KeyName: "c"})
	if got := c.covering("hub1/Partitions/0"); len(got) != 1 || got[0].KeyName != "b" {
		t.Fatalf("covering(hub1/Partitions/0) = %+v", got)
	}
	if got := c.covering("hub2"); len(got) != 0 {
		t.Fatalf("a management claim covers the hub: %+v", got)
	}
	for i := 0; i < maxClaims; i++ {
		c.add(string(rune('a'+i%26))+time.Duration(i).String(), broker.Principal{})
	}
	if err := c.add("one-more", broker.Principal{}); err == nil {
		t.Fatal("a connection holds more than maxClaims claims")
	}
}

func TestIsPlaceholder(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good := auth.NewSASToken("amqp://localhost:5672/hub", emulatorKeyName, emulatorKey, now.Add(time.Hour))
	if !isPlaceholder(good, now) {
		t.Error("the emulator's token was not recognised")
	}
	for name, tok := range map[string]string{
		"other key":  auth.NewSASToken("amqp://localhost:5672/hub", emulatorKeyName, "real-key", now.Add(time.Hour)),
		"other rule": auth.NewSASToken("amqp://localhost:5672/hub", "send", emulatorKey, now.Add(time.Hour)),
		"expired":    auth.NewSASToken("amqp://localhost:5672/hub", emulatorKeyName, emulatorKey, now.Add(-time.Second)),
		"garbage":    "SharedAccessSignature nonsense",
	} {
		if isPlaceholder(tok, now) {
			t.Errorf("%s: accepted as the emulator's token", name)
		}
	}
}
