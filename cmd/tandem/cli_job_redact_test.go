package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/client"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/httpapi"
	"github.com/tandem-streaming/tandem/internal/job"
)

// newCLIJobsNode is newCLINode with stream jobs.
func newCLIJobsNode(t *testing.T) *cliNode {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dir, Region: "test", Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := job.NewManager(job.Options{Broker: b, DataDir: dir, Registerer: reg})
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Broker: b, Gatherer: reg, Logger: quiet, Jobs: jobs}))
	t.Cleanup(func() {
		srv.Close()
		jobs.Close()
		b.Close()
	})
	return &cliNode{t: t, url: srv.URL, data: dir}
}

// Audit M5 through the CLI: `tandem job create/show/list/start/stop` print the API's answers,
// so a job's database password shows as *** in table and JSON output, in the job's status
// error, and in a refused create's error.
func TestAuditM5_JobCLIShowsNoPassword(t *testing.T) {
	n := newCLIJobsNode(t)
	const pw = "Cli-Secret-987"
	n.must("", "namespace", "create", "shop-ns")
	n.must("", "hub", "create", "shop-ns/orders", "--partitions", "1")
	var printed []string
	must := func(args ...string) string {
		out := n.must("", args...)
		printed = append(printed, out)
		return out
	}
	out := must("job", "create", "pg", "--query", "SELECT k INTO out FROM orders", "--input", "orders=shop-ns/orders",
		"--output", "out=postgres://app:"+pw+"@127.0.0.1:1/sales?table=T&sslmode=disable&connect_timeout=2")
	if !strings.Contains(out, "out=postgres://app:***@127.0.0.1:1/sales") {
		t.Fatalf("job create:\n%s", out)
	}
	must("job", "show", "pg")
	must("-o", "json", "job", "show", "pg")
	must("job", "list")
	if out := must("-o", "json", "job", "list"); !strings.Contains(out, "app:***@") {
		t.Fatalf("job list -o json:\n%s", out)
	}
	must("job", "start", "pg")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := must("job", "show", "pg")
		if strings.Contains(out, "Degraded") && strings.Contains(out, "output out") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job never reported its unreachable output:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	must("job", "stop", "pg")
	out, err := n.run("", "job", "create", "bad", "--query", "SELECT k INTO out FROM orders", "--input", "orders=shop-ns/orders",
		"--output", "out=mysql://app:"+pw+"@db.example/sales")
	if err == nil || strings.Contains(err.Error()+out, pw) || !strings.Contains(err.Error(), "mysql://app:***@db.example") {
		t.Fatalf("refused create: %v\n%s", err, out)
	}
	for i, p := range printed {
		if strings.Contains(p, pw) {
			t.Errorf("output %d shows the password:\n%s", i, p)
		}
	}
}

// job deploy finds a job already deployed with the same definition although the API shows its
// password as ***: deploying twice is not a conflict.
func TestAuditM5_DeployComparesRedactedDefinitions(t *testing.T) {
	n := newCLIJobsNode(t)
	n.must("", "namespace", "create", "shop-ns")
	n.must("", "hub", "create", "shop-ns/orders", "--partitions", "1")
	key, err := os.ReadFile(filepath.Join(n.data, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(n.url, client.WithAdminKey(strings.TrimSpace(string(key))))
	if err != nil {
		t.Fatal(err)
	}
	spec := client.JobSpec{Name: "pg", Query: "SELECT k INTO out FROM orders",
		Inputs:  []client.JobInput{{Name: "orders", Namespace: "shop-ns", Hub: "orders"}},
		Outputs: []client.JobOutput{{Name: "out", URL: "postgres://app:Deploy-Secret@127.0.0.1:1/sales?table=T&sslmode=disable&connect_timeout=2"}}}
	r := namedRegion{regionEntry: regionEntry{Name: "east", Server: n.url}, c: c}
	for i := range 2 {
		info, err := deployJob(context.Background(), r, spec, "now")
		if err != nil {
			t.Fatalf("deploy %d: %v", i+1, err)
		}
		if strings.Contains(info.Spec.Outputs[0].URL, "Deploy-Secret") {
			t.Fatalf("deploy %d shows the password: %+v", i+1, info.Spec)
		}
	}
}
