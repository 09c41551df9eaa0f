package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// T9 (first-hour audit): tandem serve --config with an unknown key (kafka_addr, a typo) fails
// before it binds anything, naming the key and the nearest valid one; valid keys still load.
func TestServeConfigRejectsUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		yaml string
		want []string // in the error; nil: the file loads
	}{
		{"kafka_addr: 127.0.0.1:29600\n", []string{`"kafka_addr"`, `did you mean "kafka-addr"`}},
		{"kafka-addr: 127.0.0.1:29600\nfsnyc: always\nhttp_addr: 127.0.0.1:0\n",
			[]string{`unknown keys`, `"fsnyc" (did you mean "fsync"?)`, `"http_addr" (did you mean "http-addr"?)`}},
		{"config: other.yaml\n", []string{`"config"`, "may not name --config"}},
		{"kafka-addr: 127.0.0.1:29600\ndev: true\nfsync: always\npeer-allow: [a, b]\n", nil},
	} {
		file := filepath.Join(dir, "tandem.yaml")
		if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := newServeCmd()
		if err := cmd.Flags().Parse(nil); err != nil {
			t.Fatal(err)
		}
		var cfg serveConfig
		err := loadServeConfig(cmd.Flags(), file, &cfg)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%q: %v", tc.yaml, err)
			} else if got, _ := cmd.Flags().GetString("kafka-addr"); got != "127.0.0.1:29600" {
				t.Errorf("%q: kafka-addr %q", tc.yaml, got)
			}
			continue
		}
		if !errcode.Is(err, errcode.InvalidArgument) {
			t.Errorf("%q: %v (%s), want InvalidArgument", tc.yaml, err, errcode.CodeOf(err))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %v\nwant it to mention %s", tc.yaml, err, w)
			}
		}
	}

	// The command itself fails, rather than starting on the default kafka-addr.
	file := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(file, []byte("kafka_addr: 127.0.0.1:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := newServeCmd()
	cmd.SetArgs([]string{"--config", file, "--data", filepath.Join(dir, "data"), "--kafka-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--amqp-addr", "off"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), `did you mean "kafka-addr"`) {
		t.Fatalf("tandem serve --config with kafka_addr: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Errorf("tandem serve with a bad config created its data directory")
	}
}

func TestNearestConfigKey(t *testing.T) {
	valid := []string{"data", "dev", "fsync", "fsync-interval", "kafka-addr", "http-addr", "region"}
	for k, want := range map[string]string{
		"kafka_addr": "kafka-addr", "KAFKA_ADDR": "kafka-addr", "regoin": "region", "fsync_interval": "fsync-interval", "datas": "data",
	} {
		if got := nearestKey(k, valid); got != want {
			t.Errorf("nearestKey(%q) = %q, want %q", k, got, want)
		}
	}
}
