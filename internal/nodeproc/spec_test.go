package nodeproc

import (
	"reflect"
	"strings"
	"testing"
)

func TestSpecCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"plaintext", Spec{Exe: "tandem", Args: []string{"--region", "east"}, DataDir: "/d/east", Listen: Loopback()},
			"tandem serve --region east --data /d/east --kafka-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --amqp-addr 127.0.0.1:0"},
		{"AMQP off, AMQPS on", Spec{Exe: "tandem", Listen: Listen{AMQP: "off", AMQPS: "127.0.0.1:0"}},
			"tandem serve --amqp-addr  --amqps-addr 127.0.0.1:0"},
		{"TLS only", Spec{Exe: "tandem", Args: []string{"--tls-dev"}, DataDir: "/d",
			Listen: Listen{Kafka: "off", KafkaTLS: "127.0.0.1:0", HTTP: "127.0.0.1:0"}},
			"tandem serve --tls-dev --data /d --kafka-addr  --kafka-tls-addr 127.0.0.1:0 --http-addr 127.0.0.1:0"},
		{"defaults", Spec{Exe: "/bin/tandem"}, "/bin/tandem serve"},
		{"wrapped", Spec{Exe: "tandem", Wrap: []string{"prlimit", "--nofile=256:256"}, DataDir: "/d", Listen: Listen{HTTP: ":1"}},
			"prlimit --nofile=256:256 tandem serve --data /d --http-addr :1"},
	} {
		if got := strings.Join(tc.spec.Command(), " "); got != tc.want {
			t.Errorf("%s: command\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// The data directory and the listen addresses are Spec fields, never Args, so that a restart
// can replace the addresses.
func TestSpecRefusesOwnFlagsInArgs(t *testing.T) {
	for _, args := range [][]string{{"--data", "/x"}, {"--kafka-addr", ""}, {"--region", "e", "--http-addr=:1"}, {"--kafka-tls-addr", ":2"}, {"--amqp-addr", "off"}, {"--amqps-addr=:3"}} {
		s := Spec{Name: "n", Exe: "tandem", Log: "/tmp/x.log", Args: args}
		if err := s.check(); err == nil || !strings.Contains(err.Error(), "Listen") {
			t.Errorf("Args %q accepted: %v", args, err)
		}
	}
	for _, s := range []Spec{{Exe: "tandem"}, {Log: "x"}} {
		if s.check() == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := (Spec{Exe: "tandem", Log: "x", Args: []string{"--data-dir-is-not-data"}}).check(); err != nil {
		t.Errorf("a flag that only starts like --data refused: %v", err)
	}
}

func TestSpecWithAddrs(t *testing.T) {
	base := Spec{Exe: "tandem", Args: []string{"--region", "east"}, Listen: Loopback()}
	for _, tc := range []struct {
		name   string
		spec   Spec
		ready  string
		listen Listen
	}{
		{"plaintext", base, "tandem ready region=east kafka=127.0.0.1:4001 http=127.0.0.1:4002",
			Listen{Kafka: "127.0.0.1:4001", HTTP: "127.0.0.1:4002", AMQP: "127.0.0.1:0"}},
		{"plaintext with AMQP", base, "tandem ready region=east kafka=127.0.0.1:4001 http=127.0.0.1:4002 amqp=127.0.0.1:4003",
			Listen{Kafka: "127.0.0.1:4001", HTTP: "127.0.0.1:4002", AMQP: "127.0.0.1:4003"}},
		{"TLS with AMQPS", base,
			"tandem ready region=east kafka=127.0.0.1:1 http=127.0.0.1:2 amqp=off amqps=127.0.0.1:4 kafka-tls=127.0.0.1:3 api=https",
			Listen{Kafka: "127.0.0.1:1", KafkaTLS: "127.0.0.1:3", HTTP: "127.0.0.1:2", AMQP: "off", AMQPS: "127.0.0.1:4"}},
		{"TLS, plaintext off", Spec{Exe: "tandem", Listen: Listen{Kafka: "off", KafkaTLS: "127.0.0.1:0", HTTP: "127.0.0.1:0"}},
			"tandem ready region=east kafka=off http=127.0.0.1:4002 kafka-tls=127.0.0.1:4001 api=https",
			Listen{Kafka: "off", KafkaTLS: "127.0.0.1:4001", HTTP: "127.0.0.1:4002"}},
		{"TLS listener from serve's default", base,
			"tandem ready region=east kafka=127.0.0.1:1 http=127.0.0.1:2 kafka-tls=127.0.0.1:3 api=https",
			Listen{Kafka: "127.0.0.1:1", KafkaTLS: "127.0.0.1:3", HTTP: "127.0.0.1:2", AMQP: "127.0.0.1:0"}},
	} {
		r, ok := ParseReady(tc.ready)
		if !ok {
			t.Fatalf("%s: %q does not parse", tc.name, tc.ready)
		}
		got := tc.spec.WithAddrs(r)
		if got.Listen != tc.listen {
			t.Errorf("%s: listen %+v, want %+v", tc.name, got.Listen, tc.listen)
		}
		if !reflect.DeepEqual(got.Args, tc.spec.Args) || got.Exe != tc.spec.Exe {
			t.Errorf("%s: spec changed beyond its addresses: %+v", tc.name, got)
		}
	}
	// The copy does not share Args with the original.
	got := base.WithAddrs(Ready{})
	got.Args[1] = "west"
	if base.Args[1] != "east" {
		t.Error("WithAddrs shares Args with the spec it copies")
	}
}
