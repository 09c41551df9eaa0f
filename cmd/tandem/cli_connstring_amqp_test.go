package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/httpapi"
)

// newAMQPCLINode is newCLINode for a broker that reports amqpAddr as its AMQP listener.
func newAMQPCLINode(t *testing.T, amqpAddr string) *cliNode {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: "test", Registerer: reg, Logger: quiet, AMQPAddr: amqpAddr})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Broker: b, Gatherer: reg, Logger: quiet}))
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	return &cliNode{t: t, url: srv.URL, data: dir}
}

func TestConnectionStringAMQP(t *testing.T) {
	n := newAMQPCLINode(t, "127.0.0.1:5999")
	n.must("", "namespace", "create", "shop-ns")
	n.must("", "hub", "create", "shop-ns/orders", "--partitions", "2")
	plain := strings.TrimSpace(n.must("", "connection-string", "shop-ns"))
	out := strings.TrimSpace(n.must("", "connection-string", "shop-ns", "--amqp"))
	key := plain[strings.Index(plain, ";SharedAccessKeyName="):]
	want := "Endpoint=sb://127.0.0.1:5999/" + key + ";UseDevelopmentEmulator=true"
	if out != want {
		t.Fatalf("connection-string --amqp\n got %s\nwant %s", out, want)
	}
	cs, err := auth.ParseConnectionString(out)
	if err != nil || !cs.UseDevelopmentEmulator || cs.NamesNamespace() {
		t.Fatalf("parsed %+v, %v", cs, err)
	}
	out = strings.TrimSpace(n.must("", "connection-string", "shop-ns/orders", "--amqp"))
	if !strings.HasPrefix(out, "Endpoint=sb://127.0.0.1:5999/;") || !strings.HasSuffix(out, ";EntityPath=orders;UseDevelopmentEmulator=true") {
		t.Fatalf("hub connection-string --amqp: %s", out)
	}
	out = n.must("", "connection-string", "shop-ns", "--amqp", "-o", "json")
	if !strings.Contains(out, `"connectionString": "Endpoint=sb://127.0.0.1:5999/;`) {
		t.Fatalf("json: %s", out)
	}
}

func TestConnectionStringAMQPWithoutListener(t *testing.T) {
	n := newAMQPCLINode(t, "")
	n.must("", "namespace", "create", "shop-ns")
	out, err := n.run("", "connection-string", "shop-ns", "--amqp")
	if err == nil || !strings.Contains(err.Error(), "serves no AMQP listener") || !strings.Contains(err.Error(), "--amqp-addr") {
		t.Fatalf("connection-string --amqp on a node without AMQP: %v\n%s", err, out)
	}
	if errcode.ExitCode(err) == 0 {
		t.Fatalf("exit code 0 for %v", err)
	}
}

func TestReachableAddr(t *testing.T) {
	for _, tc := range []struct{ addr, server, want string }{
		{"127.0.0.1:5672", "http://10.0.0.1:8080", "127.0.0.1:5672"},
		{"0.0.0.0:5672", "http://10.0.0.1:8080", "10.0.0.1:5672"},
		{"[::]:5672", "https://node1.example:8443", "node1.example:5672"},
		{":5672", "http://[::1]:8080", "[::1]:5672"},
		{"eh.example:5672", "http://10.0.0.1:8080", "eh.example:5672"},
		{"0.0.0.0:5672", "::bad", "127.0.0.1:5672"},
	} {
		if got := reachableAddr(tc.addr, tc.server); got != tc.want {
			t.Errorf("reachableAddr(%q, %q) = %q, want %q", tc.addr, tc.server, got, tc.want)
		}
	}
}
