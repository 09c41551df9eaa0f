package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

func TestCheckListenerConfig(t *testing.T) {
	base := serveConfig{KafkaAddr: "127.0.0.1:9092", HTTPAddr: "127.0.0.1:8080", KafkaTLSAddr: defaultKafkaTLSAddr,
		AMQP: amqpConfig{Addr: defaultAMQPAddr, TLSAddr: defaultAMQPSAddr}}
	for _, tc := range []struct {
		name string
		edit func(*serveConfig)
		want string // "" for accepted
	}{
		{"plaintext only", func(*serveConfig) {}, ""},
		{"dev TLS", func(c *serveConfig) { c.TLSDev = true }, ""},
		{"operator TLS, no plaintext Kafka", func(c *serveConfig) { c.TLSCert, c.TLSKey, c.KafkaAddr = "c.pem", "k.pem", "" }, ""},
		{"TLS, HTTPS only", func(c *serveConfig) { c.TLSDev, c.KafkaTLSAddr = true, "" }, ""},
		{"cert without key", func(c *serveConfig) { c.TLSCert = "c.pem" }, "both --tls-cert and --tls-key"},
		{"key without cert", func(c *serveConfig) { c.TLSKey = "k.pem" }, "both --tls-cert and --tls-key"},
		{"dev and cert", func(c *serveConfig) { c.TLSDev, c.TLSCert, c.TLSKey = true, "c.pem", "k.pem" }, "either --tls-dev or --tls-cert"},
		{"TLS listener without TLS", func(c *serveConfig) { c.KafkaTLSAddr = "127.0.0.1:9999" }, "--kafka-tls-addr 127.0.0.1:9999 needs TLS"},
		{"no Kafka listener", func(c *serveConfig) { c.KafkaAddr = "" }, "no TLS Kafka listener"},
		{"no Kafka listener with TLS", func(c *serveConfig) { c.TLSDev, c.KafkaAddr, c.KafkaTLSAddr = true, "", "" }, "no TLS Kafka listener"},
		{"AMQPS without TLS", func(c *serveConfig) { c.AMQP.TLSAddr = "127.0.0.1:5999" }, "--amqps-addr 127.0.0.1:5999 needs TLS"},
		{"AMQPS off without TLS", func(c *serveConfig) { c.AMQP.TLSAddr = "off" }, ""},
		{"AMQPS with TLS", func(c *serveConfig) { c.TLSDev, c.AMQP.TLSAddr = true, "127.0.0.1:5999" }, ""},
		{"AMQP off", func(c *serveConfig) { c.AMQP.Addr = "off" }, ""},
	} {
		cfg := base
		tc.edit(&cfg)
		err := checkListenerConfig(cfg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// The ready line serve prints is the one tandem dev (and the e2e tests) parse, with and
// without TLS; with TLS tandem dev sends clients to the TLS Kafka listener.
func TestReadyLineParses(t *testing.T) {
	ln := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	plain := &listeners{kafka: ln(), http: ln(), amqp: ln()}
	withTLS := &listeners{kafkaTLS: ln(), http: ln(), amqps: ln(), tls: &nodeTLS{}}
	for _, tc := range []struct {
		l                   *listeners
		wantKafka           string
		wantAMQP, wantAMQPS string
	}{
		{plain, plain.kafka.Addr().String(), plain.amqp.Addr().String(), ""},
		{withTLS, withTLS.kafkaTLS.Addr().String(), "off", withTLS.amqps.Addr().String()},
	} {
		line := tc.l.readyLine("east")
		r, ok := nodeproc.ParseReady(line)
		if !ok {
			t.Errorf("tandem dev does not recognise the ready line %q", line)
		} else if clientKafka(r) != tc.wantKafka || r.HTTP != tc.l.http.Addr().String() || r.Region != "east" ||
			r.AMQP != tc.wantAMQP || r.AMQPS != tc.wantAMQPS {
			t.Errorf("%q parsed as kafka=%s http=%s amqp=%s amqps=%s, want %s, %s, %s and %s", line, clientKafka(r), r.HTTP,
				r.AMQP, r.AMQPS, tc.wantKafka, tc.l.http.Addr(), tc.wantAMQP, tc.wantAMQPS)
		}
	}
	if got := withTLS.readyLine("east"); !strings.Contains(got, " kafka=off ") || !strings.HasSuffix(got, " api=https") {
		t.Errorf("ready line with TLS and no plaintext Kafka: %q", got)
	}
}

// The TLS settings come from YAML and TANDEM_* like every other flag, and an empty
// kafka-addr turns the plaintext listener off.
func TestTLSFlagsFromYAMLAndEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tandem.yaml")
	if err := os.WriteFile(file, []byte("tls-cert: /etc/tandem/node.pem\ntls-key: /etc/tandem/node-key.pem\nkafka-addr: \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TANDEM_KAFKA_TLS_ADDR", "0.0.0.0:9093")
	t.Setenv("TANDEM_TLS_CA", "/etc/tandem/peers.pem")
	cmd := newServeCmd()
	var cfg serveConfig
	if err := loadServeConfig(cmd.Flags(), file, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tls-cert": "/etc/tandem/node.pem", "tls-key": "/etc/tandem/node-key.pem", "kafka-addr": "",
		"kafka-tls-addr": "0.0.0.0:9093", "tls-ca": "/etc/tandem/peers.pem"}
	for name, v := range want {
		if got, _ := cmd.Flags().GetString(name); got != v {
			t.Errorf("--%s = %q, want %q", name, got, v)
		}
	}
}

// A list flag may be a YAML list in the config file.
func TestYAMLListFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tandem.yaml")
	if err := os.WriteFile(file, []byte("peer-allow: [\"https://10.0.0.9:8443\", \"west.example:8080\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := newServeCmd()
	var cfg serveConfig
	if err := loadServeConfig(cmd.Flags(), file, &cfg); err != nil {
		t.Fatal(err)
	}
	list, _ := cmd.Flags().GetStringSlice("peer-allow")
	if got := strings.Join(list, " "); got != "https://10.0.0.9:8443 west.example:8080" {
		t.Errorf("peer-allow from a YAML list = %q", got)
	}
}
