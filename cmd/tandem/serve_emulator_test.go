package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/broker"
)

func TestServeEmulatorConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Config.json")
	file := `{"UserConfig": {"NamespaceConfig": [{"Type": "EventHub", "Name": "emulatorNs1",
	  "Entities": [{"Name": "eh1", "PartitionCount": 2, "ConsumerGroups": [{"Name": "cg1"}]}]}],
	  "LoggingConfig": {"Type": "File"}}}`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	var e emulatorFlags
	f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	e.register(f)
	if err := f.Parse([]string{"--emulator-config", path}); err != nil {
		t.Fatal(err)
	}
	var sc serveConfig
	cfg, err := e.prepare(&sc)
	if err != nil || sc.AMQP.DefaultNamespace != "emulatorNs1" {
		t.Fatalf("prepare: %+v, %v; AMQP default namespace %q", cfg, err, sc.AMQP.DefaultNamespace)
	}
	sc.AMQP.DefaultNamespace = "shop-ns" // a flag given wins
	if _, err := e.prepare(&sc); err != nil || sc.AMQP.DefaultNamespace != "shop-ns" {
		t.Fatalf("prepare with --amqp-default-namespace: %v, %q", err, sc.AMQP.DefaultNamespace)
	}
	b, err := broker.Open(context.Background(), broker.Options{DataDir: t.TempDir(), Region: "test", NodeID: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for range 2 {
		if err := applyEmulatorConfig(context.Background(), b, cfg, log); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"created event hub emulatorNs1/eh1 with 2 partitions", "every namespace, event hub and consumer group exists already"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("logs lack %q:\n%s", want, logs.String())
		}
	}
	if h, err := b.Hub("emulatorNs1", "eh1"); err != nil || h.Partitions != 2 {
		t.Fatalf("hub: %+v, %v", h, err)
	}

	// No flag: nothing to do. A bad file: the error names the file and the place in it.
	if cfg, err := (emulatorFlags{}).load(); cfg != nil || err != nil || applyEmulatorConfig(context.Background(), b, nil, log) != nil {
		t.Fatalf("no file: %v, %v", cfg, err)
	}
	if err := os.WriteFile(path, []byte(`{"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "eh1", "PartitionCount": 0}]}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.load(); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "Entities[0].PartitionCount") {
		t.Fatalf("bad file: %v", err)
	}
}

func TestAMQPEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, tc := range []struct {
		lns  listeners
		cfg  serveConfig
		want string
	}{
		{listeners{}, serveConfig{}, ""},
		{listeners{amqp: ln}, serveConfig{}, "127.0.0.1:" + port},
		{listeners{amqp: ln}, serveConfig{AdvertiseHost: "eh.example"}, "eh.example:" + port},
	} {
		if got := tc.lns.amqpEndpoint(tc.cfg); got != tc.want {
			t.Errorf("amqpEndpoint = %q, want %q", got, tc.want)
		}
	}
}
