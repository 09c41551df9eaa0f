package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/httpapi"
)

// cliNode is an HTTP API on a real broker, driven through the CLI commands.
type cliNode struct {
	t    *testing.T
	url  string
	data string
}

func newCLINode(t *testing.T) *cliNode {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: "test", Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Broker: b, Gatherer: reg, Logger: quiet}))
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	if filepath.Dir(b.AdminKeyPath()) != dir {
		t.Fatalf("admin key at %s, not in the data directory", b.AdminKeyPath())
	}
	return &cliNode{t: t, url: srv.URL, data: dir}
}

// run runs one CLI command line with stdin and returns its output and error. The admin key
// is found through --data, as on a machine that runs the node.
func (n *cliNode) run(stdin string, args ...string) (string, error) {
	n.t.Helper()
	root := &cobra.Command{Use: "tandem", SilenceUsage: true, SilenceErrors: true}
	addClientFlags(root)
	addCLICommands(root)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--server", n.url, "--data", n.data}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func (n *cliNode) must(stdin string, args ...string) string {
	n.t.Helper()
	out, err := n.run(stdin, args...)
	if err != nil {
		n.t.Fatalf("tandem %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCLIManagement(t *testing.T) {
	n := newCLINode(t)
	out := n.must("", "namespace", "create", "shop-ns", "--tier", "premium")
	if !strings.Contains(out, "shop-ns") || !strings.Contains(out, "Premium") {
		t.Fatalf("namespace create:\n%s", out)
	}
	n.must("", "hub", "create", "shop-ns/orders", "--partitions", "3", "--retention", "48h", "--max-event-bytes", "4096")
	out = n.must("", "hub", "show", "shop-ns/orders")
	if !strings.Contains(out, "PARTITIONS") || !strings.Contains(out, "48h0m0s") || !strings.Contains(out, "4096") {
		t.Fatalf("hub show:\n%s", out)
	}
	n.must("", "hub", "update", "shop-ns/orders", "--partitions", "4")
	out = n.must("", "-o", "json", "hub", "list", "shop-ns")
	var hubs []struct{ Name string }
	if err := json.Unmarshal([]byte(out), &hubs); err != nil || len(hubs) != 1 || hubs[0].Name != "orders" {
		t.Fatalf("hub list -o json: %v\n%s", err, out)
	}
	n.must("", "group", "create", "shop-ns/orders/billing", "--metadata", "team")
	out = n.must("", "group", "list", "shop-ns/orders")
	if !strings.Contains(out, "billing") || !strings.Contains(out, "$Default") {
		t.Fatalf("group list:\n%s", out)
	}
	n.must("", "group", "show", "shop-ns/orders/billing")
	n.must("", "rule", "create", "shop-ns/orders", "app", "--rights", "Send,Listen")
	out = n.must("", "rule", "list", "shop-ns/orders")
	if !strings.Contains(out, "Send,Listen") {
		t.Fatalf("rule list:\n%s", out)
	}
	out = n.must("", "rule", "keys", "shop-ns/orders", "app")
	if !strings.Contains(out, "EntityPath=orders") {
		t.Fatalf("rule keys:\n%s", out)
	}
	n.must("", "rule", "regenerate", "shop-ns/orders", "app", "--key-type", "secondary")
	out = n.must("", "connection-string", "shop-ns")
	if !strings.HasPrefix(out, "Endpoint=sb://shop-ns/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=") {
		t.Fatalf("connection-string:\n%s", out)
	}
	out = n.must("", "connection-string", "shop-ns/orders")
	if !strings.HasSuffix(strings.TrimSpace(out), ";EntityPath=orders") {
		t.Fatalf("hub connection-string:\n%s", out)
	}
	out = n.must("", "connection-string", "shop-ns/orders", "--policy", "app")
	if !strings.Contains(out, "SharedAccessKeyName=app") {
		t.Fatalf("hub policy connection-string:\n%s", out)
	}
	n.must("", "rule", "delete", "shop-ns/orders", "app")
	n.must("", "group", "delete", "shop-ns/orders/billing")
	n.must("", "hub", "delete", "shop-ns/orders")
	n.must("", "namespace", "delete", "shop-ns")
	out = n.must("", "namespace", "list")
	if strings.Contains(out, "shop-ns") {
		t.Fatalf("namespace list after delete:\n%s", out)
	}
}

func TestCLIErrors(t *testing.T) {
	n := newCLINode(t)
	n.must("", "namespace", "create", "shop-ns")
	for _, tc := range []struct {
		args []string
		code errcode.Code
		want string
	}{
		{[]string{"hub", "show", "shop-ns"}, errcode.InvalidArgument, `NS/HUB expected, got "shop-ns"`},
		{[]string{"group", "create", "shop-ns/orders"}, errcode.InvalidArgument, "NS/HUB/GROUP expected"},
		{[]string{"hub", "show", "shop-ns/nohub"}, errcode.NotFound, "nohub"},
		{[]string{"hub", "create", "shop-ns/h", "--partitions", "2000"}, errcode.InvalidArgument, "1 to 1024"},
		{[]string{"hub", "create", "shop-ns/h", "--partitions", "0"}, errcode.InvalidArgument, "1 to 1024"},
		{[]string{"receive", "shop-ns/nohub"}, errcode.NotFound, "nohub"},
		{[]string{"receive", "shop-ns/h", "--checkpoint"}, errcode.InvalidArgument, "--group"},
		{[]string{"-o", "yaml", "namespace", "list"}, errcode.InvalidArgument, "text or json"},
		{[]string{"--admin-key", "wrong", "namespace", "list"}, errcode.Unauthorized, "admin key"},
	} {
		_, err := n.run("", tc.args...)
		if errcode.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tandem %s: %v (%s), want %s mentioning %q", strings.Join(tc.args, " "), err, errcode.CodeOf(err), tc.code, tc.want)
		}
		if errcode.ExitCode(err) < 2 {
			t.Errorf("tandem %s: exit code %d", strings.Join(tc.args, " "), errcode.ExitCode(err))
		}
	}
}

func TestCLISendReceive(t *testing.T) {
	n := newCLINode(t)
	n.must("", "namespace", "create", "shop-ns")
	n.must("", "hub", "create", "shop-ns/orders", "--partitions", "2")
	out := n.must("one\n{\"n\":2}\n\nthree\n", "send", "shop-ns/orders", "-p", "1", "--property", "src=cli", "-k", "cust")
	if !strings.Contains(out, "sent 3 events to shop-ns/orders (partition 1: 3 events, offsets 0-2)") {
		t.Fatalf("send:\n%s", out)
	}
	out = n.must("", "receive", "shop-ns/orders", "-p", "1")
	if out != "one\n{\"n\":2}\nthree\n" {
		t.Fatalf("receive:\n%q", out)
	}
	out = n.must("", "-o", "json", "receive", "shop-ns/orders", "-p", "1", "--from", "offset:1", "--max", "1")
	var ev struct {
		Offset       int64
		PartitionKey string
		Properties   map[string]string
		Body         json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Offset != 1 || string(ev.Body) != `{"n":2}` ||
		ev.PartitionKey != "cust" || ev.Properties["src"] != "cli" {
		t.Fatalf("receive -o json: %v\n%s", err, out)
	}
	// With a group: start after its checkpoint and move it.
	out = n.must("", "receive", "shop-ns/orders", "-p", "1", "--group", "$Default", "--checkpoint", "--max", "2")
	if out != "one\n{\"n\":2}\n" {
		t.Fatalf("first group receive:\n%q", out)
	}
	out = n.must("", "receive", "shop-ns/orders", "-p", "1", "--group", "$Default", "--checkpoint")
	if out != "three\n" {
		t.Fatalf("second group receive:\n%q", out)
	}
	out = n.must("", "receive", "shop-ns/orders", "-p", "1", "--group", "$Default")
	if out != "" {
		t.Fatalf("receive after the last checkpoint:\n%q", out)
	}
	out = n.must("", "receive", "shop-ns/orders", "-p", "1", "--from", "end")
	if out != "" {
		t.Fatalf("receive from end:\n%q", out)
	}
	_, err := n.run("", "send", "shop-ns/orders", "--property", "novalue")
	if !errcode.Is(err, errcode.InvalidArgument) {
		t.Fatalf("bad --property: %v", err)
	}
}

// T4 (first-hour audit): hub create on an existing hub fails, changes nothing and points at
// hub update; hub update still changes it.
func TestCLIHubCreateRefusesExistingHub(t *testing.T) {
	n := newCLINode(t)
	n.must("", "namespace", "create", "shop-ns")
	n.must("", "hub", "create", "shop-ns/orders", "--partitions", "4", "--retention", "24h")
	_, err := n.run("", "hub", "create", "shop-ns/orders", "--partitions", "8", "--retention", "1h")
	if !errcode.Is(err, errcode.AlreadyExists) || !strings.Contains(err.Error(), "tandem hub update shop-ns/orders") {
		t.Fatalf("hub create on an existing hub: %v (%s), want AlreadyExists naming 'tandem hub update shop-ns/orders'", err, errcode.CodeOf(err))
	}
	out := n.must("", "hub", "show", "shop-ns/orders")
	if !strings.Contains(out, "24h0m0s") || strings.Contains(out, " 8 ") {
		t.Fatalf("hub create on an existing hub changed it:\n%s", out)
	}
	n.must("", "hub", "update", "shop-ns/orders", "--partitions", "8")
	if out := n.must("", "hub", "show", "shop-ns/orders"); !strings.Contains(out, "8") {
		t.Fatalf("hub update did not grow the hub:\n%s", out)
	}
}

// T2 (first-hour audit): receive without --partition reads every partition, not partition 0
// alone; --max counts over all of them, --follow follows all of them, and --checkpoint stores
// each partition's position.
func TestCLIReceiveWithoutPartitionReadsEveryPartition(t *testing.T) {
	n := newCLINode(t)
	n.must("", "namespace", "create", "shop-ns")
	n.must("", "hub", "create", "shop-ns/payments", "--partitions", "4")
	n.must("p3-a\np3-b\n", "send", "shop-ns/payments", "-p", "3")
	n.must("p1-a\n", "send", "shop-ns/payments", "-p", "1")
	out := n.must("", "receive", "shop-ns/payments")
	if out != "p1-a\np3-a\np3-b\n" {
		t.Fatalf("receive without --partition:\n%q, want the events of partitions 1 and 3", out)
	}
	if out := n.must("", "receive", "shop-ns/payments", "-p", "0"); out != "" {
		t.Fatalf("receive -p 0:\n%q", out)
	}
	if _, err := n.run("", "receive", "shop-ns/payments", "--from", "offset:1"); !errcode.Is(err, errcode.InvalidArgument) ||
		!strings.Contains(err.Error(), "--partition") {
		t.Fatalf("receive --from offset:1 without --partition: %v, want InvalidArgument asking for --partition", err)
	}
	if out := n.must("", "receive", "shop-ns/payments", "--from", "offset:1", "-p", "3"); out != "p3-b\n" {
		t.Fatalf("receive --from offset:1 -p 3:\n%q", out)
	}
	if out := n.must("", "receive", "shop-ns/payments", "--max", "2"); out != "p1-a\np3-a\n" {
		t.Fatalf("receive --max 2 over every partition:\n%q", out)
	}
	out = n.must("", "-o", "json", "receive", "shop-ns/payments", "--follow", "--max", "3", "--poll-wait", "1s")
	var ids []int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ PartitionID int }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("receive --follow -o json line %q: %v", line, err)
		}
		ids = append(ids, ev.PartitionID)
	}
	sort.Ints(ids)
	if fmt.Sprint(ids) != "[1 3 3]" {
		t.Fatalf("receive --follow --max 3 read partitions %v, want [1 3 3]\n%s", ids, out)
	}
	n.must("", "receive", "shop-ns/payments", "--group", "$Default", "--checkpoint", "--max", "2")
	n.must("p2-a\n", "send", "shop-ns/payments", "-p", "2")
	if out := n.must("", "receive", "shop-ns/payments", "--group", "$Default", "--checkpoint"); out != "p2-a\np3-b\n" {
		t.Fatalf("receive after the per-partition checkpoints:\n%q", out)
	}
}

// runBare runs one CLI command line against n with only --server: no --data, so the CLI
// looks for ./tandem-data/admin-key in the working directory.
func (n *cliNode) runBare(args ...string) (string, error) {
	n.t.Helper()
	root := &cobra.Command{Use: "tandem", SilenceUsage: true, SilenceErrors: true}
	addClientFlags(root)
	addCLICommands(root)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--server", n.url}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// Issue 14 item 5 (first-hour audit, error quality 2): the CLI run where there is no
// ./tandem-data/admin-key says where it looked and what to pass, not which HTTP header to
// send; with the key given it works.
func TestCLIWithoutCredentialSaysWhereItLooked(t *testing.T) {
	n := newCLINode(t)
	t.Setenv("TANDEM_ADMIN_KEY", "")
	t.Setenv("TANDEM_CONNECTION_STRING", "")
	t.Chdir(t.TempDir())
	_, err := n.runBare("namespace", "list")
	if !errcode.Is(err, errcode.Unauthorized) {
		t.Fatalf("namespace list without a credential: %v (%s), want Unauthorized", err, errcode.CodeOf(err))
	}
	for _, want := range []string{"./tandem-data/admin-key", "not found", "--data", "--admin-key", "TANDEM_ADMIN_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if !strings.HasPrefix(err.Error(), "the CLI has no credential") {
		t.Errorf("error %q does not start with what the CLI lacks", err)
	}
	empty := t.TempDir()
	_, err = n.runBare("--data", empty, "hub", "list", "default")
	if !errcode.Is(err, errcode.Unauthorized) || !strings.Contains(err.Error(), filepath.Join(empty, "admin-key")) {
		t.Errorf("hub list with --data %s: %v, want Unauthorized naming %s", empty, err, filepath.Join(empty, "admin-key"))
	}
	key, rerr := os.ReadFile(filepath.Join(n.data, "admin-key"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if out, err := n.runBare("--admin-key", strings.TrimSpace(string(key)), "namespace", "list"); err != nil {
		t.Fatalf("namespace list with --admin-key: %v\n%s", err, out)
	}
	t.Setenv("TANDEM_ADMIN_KEY", strings.TrimSpace(string(key)))
	if out, err := n.runBare("namespace", "list"); err != nil {
		t.Fatalf("namespace list with TANDEM_ADMIN_KEY: %v\n%s", err, out)
	}
}
