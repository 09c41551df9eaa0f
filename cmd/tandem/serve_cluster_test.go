package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/cluster"
)

// The cluster settings come from YAML like every other flag; the member list may be a YAML list.
func TestClusterFlagsFromYAML(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tandem.yaml")
	yaml := "node-id: 2\nzone: b\ncluster-secret-file: /etc/tandem/cluster-secret\nadmin-key-file: /etc/tandem/admin-key\n" +
		"cluster:\n  - 1=a@10.0.0.1:7001\n  - 2=b@10.0.0.2:7001\n  - 3=c@10.0.0.3:7001/gamma\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := newServeCmd()
	var cfg serveConfig
	if err := loadServeConfig(cmd.Flags(), file, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cluster": "1=a@10.0.0.1:7001,2=b@10.0.0.2:7001,3=c@10.0.0.3:7001/gamma", "zone": "b",
		"cluster-secret-file": "/etc/tandem/cluster-secret", "admin-key-file": "/etc/tandem/admin-key"}
	for name, v := range want {
		if got, _ := cmd.Flags().GetString(name); got != v {
			t.Errorf("--%s = %q, want %q", name, got, v)
		}
	}
	c, _, err := cluster.ParseConfig(2, "b", cmd.Flag("cluster").Value.String(), []byte("0123456789abcdef"))
	if err != nil || len(c.Nodes) != 3 || c.Nodes[2].Name != "gamma" {
		t.Fatalf("the YAML member list does not parse: %+v %v", c, err)
	}
}

func secretFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// Cluster mode refuses what would not work, and says what to do.
func TestClusterFlagErrors(t *testing.T) {
	good := secretFile(t, "  region-east-cluster-secret\n", 0o600)
	members := "1=a@127.0.0.1:7001,2=b@127.0.0.2:7001,3=c@127.0.0.3:7001"
	for _, tc := range []struct {
		name string
		cfg  serveConfig
		want string
	}{
		{"no node id", serveConfig{NodeID: -1, Cluster: clusterConfig{Members: members, SecretFile: good}}, "--cluster needs --node-id"},
		{"node id too large", serveConfig{NodeID: 70000, Cluster: clusterConfig{Members: members, SecretFile: good}}, "1 to 65535"},
		{"no secret", serveConfig{NodeID: 1, Cluster: clusterConfig{Members: members}}, "--cluster-secret-file"},
		{"secret readable by others", serveConfig{NodeID: 1, Cluster: clusterConfig{Members: members,
			SecretFile: secretFile(t, "region-east-cluster-secret", 0o644)}}, "chmod 600"},
		{"short secret", serveConfig{NodeID: 1, Cluster: clusterConfig{Members: members,
			SecretFile: secretFile(t, "short\n", 0o600)}}, "at least 16"},
		{"not a member", serveConfig{NodeID: 4, Cluster: clusterConfig{Members: members, SecretFile: good}}, "is not in --cluster"},
		{"zone disagrees", serveConfig{NodeID: 1, Cluster: clusterConfig{Members: members, SecretFile: good, Zone: "b"}}, "make them agree"},
		{"zone without cluster", serveConfig{NodeID: 1, Cluster: clusterConfig{Zone: "a"}}, "give --cluster too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Data = t.TempDir()
			cl, err := openClusterNode(context.Background(), tc.cfg, &listeners{}, nil, slog.New(slog.DiscardHandler), nil)
			if err == nil {
				cl.close()
				t.Fatalf("started; want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// Raft runs inside TLS when the node has a certificate and --tls-ca names the CA; with a dev
// certificate and no --tls-ca a multi-member cluster says that raft is not encrypted.
func TestRaftTLS(t *testing.T) {
	dir := t.TempDir()
	cfg := serveConfig{Data: dir, TLSDev: true, HTTPAddr: "127.0.0.1:0", KafkaAddr: "127.0.0.1:0"}
	nt, err := loadNodeTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lns := &listeners{tls: nt}
	three, _, err := cluster.ParseConfig(1, "", "1=a@127.0.0.1:7001,2=b@127.0.0.2:7001,3=c@127.0.0.3:7001", []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	opts := cluster.Options{Config: three}
	if err := raftTLS(&opts, cfg, lns, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if opts.ServerTLS != nil || !strings.Contains(logs.String(), "not encrypted") {
		t.Fatalf("without --tls-ca: ServerTLS %v, log %q", opts.ServerTLS != nil, logs.String())
	}
	cfg.TLSCA = nt.caFile
	if err := raftTLS(&opts, cfg, lns, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if opts.ServerTLS == nil || opts.ClientTLS == nil || opts.ClientTLS.RootCAs == nil {
		t.Fatal("with --tls-ca raft is not inside TLS that trusts the CA")
	}
	// Without TLS on the node, raft has none either.
	opts = cluster.Options{Config: three}
	if err := raftTLS(&opts, serveConfig{TLSCA: nt.caFile}, &listeners{}, slog.New(slog.DiscardHandler)); err != nil || opts.ServerTLS != nil {
		t.Fatalf("raft TLS without a node certificate: %v %v", opts.ServerTLS != nil, err)
	}
}

// runServe in cluster mode does not make up a node id from the region: without --node-id it
// stops with the error that asks for one.
func TestServeClusterNeedsNodeID(t *testing.T) {
	cfg := serveConfig{Data: t.TempDir(), KafkaAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Region: "east",
		LogLevel: "error", Fsync: "interval", FsyncInterval: 10 * time.Millisecond, NodeID: -1,
		Cluster: clusterConfig{Members: "1=a@127.0.0.1:7001,2=b@127.0.0.2:7001,3=c@127.0.0.3:7001",
			SecretFile: secretFile(t, "region-east-cluster-secret", 0o600)}}
	err := runServe(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "--cluster needs --node-id") {
		t.Fatalf("runServe without --node-id in cluster mode: %v", err)
	}
}
