package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/amqp"
	"github.com/tandem-streaming/tandem/internal/auth"
)

// The AMQP settings come from YAML and TANDEM_* like every other flag; "off" turns a listener
// off, and --dev gives connections that name no namespace the dev one.
func TestAMQPFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tandem.yaml")
	if err := os.WriteFile(file, []byte("amqp-addr: 0.0.0.0:5673\namqp-default-namespace: orders\namqp-idle-timeout: 90s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TANDEM_AMQPS_ADDR", "off")
	cmd := newServeCmd()
	var cfg serveConfig
	if err := cmd.Flags().Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := loadServeConfig(cmd.Flags(), file, &cfg); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"amqp-addr": "0.0.0.0:5673", "amqps-addr": "off", "amqp-default-namespace": "orders"} {
		if got, _ := cmd.Flags().GetString(name); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
	idle, _ := cmd.Flags().GetDuration("amqp-idle-timeout")
	conns, _ := cmd.Flags().GetInt("amqp-max-connections")
	if idle != 90*time.Second || conns != amqp.DefaultMaxConnections {
		t.Errorf("--amqp-idle-timeout %v, --amqp-max-connections %d: want the file's 90s and the engine's default", idle, conns)
	}
	o := amqpConfig{IdleTimeout: idle, MaxConns: conns, MemoryBudget: 1 << 20}.options()
	if o.IdleTimeout != idle || o.MaxConnections != conns || o.MemoryBudget != 1<<20 {
		t.Errorf("engine options %+v", o)
	}
	if !amqpOff("off") || !amqpOff("") || amqpOff(defaultAMQPAddr) {
		t.Error(`"off" and "" must turn an AMQP listener off, an address not`)
	}
	for _, tc := range []struct {
		flag string
		dev  bool
		want string
	}{{"", false, ""}, {"", true, "default"}, {"orders", true, "orders"}, {"orders", false, "orders"}} {
		if got := (amqpConfig{DefaultNamespace: tc.flag}).defaultNamespace(tc.dev); got != tc.want {
			t.Errorf("default namespace of flag %q, dev %v = %q, want %q", tc.flag, tc.dev, got, tc.want)
		}
	}
}

// tandem dev prints a connection string the SDKs take for a local emulator: the active region's
// AMQP listener, the alias's key, UseDevelopmentEmulator=true in lower case.
func TestDevAMQPConnString(t *testing.T) {
	c := &devChild{region: "west", amqpAddr: "127.0.0.1:5772"}
	info := &devInfo{active: 1, sides: [2]*devSide{{child: &devChild{region: "east", amqpAddr: "127.0.0.1:5672"}}, {child: c}},
		connString: "Endpoint=sb://tandem-dev/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=a+b/c="}
	want := "Endpoint=sb://127.0.0.1:5772/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=a+b/c=;UseDevelopmentEmulator=true"
	if got := info.amqpConnString(); got != want {
		t.Errorf("connection string\n got %s\nwant %s", got, want)
	}
	if _, err := auth.ParseConnectionString(want); err != nil {
		t.Errorf("Tandem's own parser refuses it: %v", err)
	}
	c.amqpAddr = "off"
	if got := info.amqpConnString(); got != "" {
		t.Errorf("a region without AMQP gets %q", got)
	}
}
