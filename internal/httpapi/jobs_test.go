package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/job"
)

// jobsNode is a --dev node's HTTP API with stream jobs, and its admin key.
func jobsNode(t *testing.T) (url, dataDir, admin string, reg *prometheus.Registry) {
	t.Helper()
	return jobsNodeLogging(t, quiet)
}

// jobsNodeLogging is jobsNode with the HTTP API logging to logger.
func jobsNodeLogging(t *testing.T, logger *slog.Logger) (url, dataDir, admin string, reg *prometheus.Registry) {
	t.Helper()
	dataDir = t.TempDir()
	reg = prometheus.NewRegistry()
	b, err := broker.Open(context.Background(), broker.Options{DataDir: dataDir, Region: "test", Dev: true, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := job.NewManager(job.Options{Broker: b, DataDir: dataDir, Registerer: reg})
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Broker: b, Gatherer: reg, Dev: true, Logger: logger, Jobs: jobs}))
	t.Cleanup(func() {
		srv.Close()
		jobs.Close()
		b.Close()
	})
	key, err := os.ReadFile(b.AdminKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, dataDir, "TandemKey " + strings.TrimSpace(string(key)), reg
}

// jsonCall sends a JSON request and returns the status and the body.
func jsonCall(t *testing.T, method, url, authz string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// Audit M3, over HTTP: in --dev, an anonymous PUT /jobs/exfil with a reference file outside
// <data> (a 0600 secrets file) and PUT /jobs/writer with an output outside <data> are refused
// with 403; the same jobs with their files under <data>/job-files are created, and the admin
// key may still name any path.
func TestAuditM3_DevAnonymousJobFilesConfined(t *testing.T) {
	url, dataDir, admin, _ := jobsNode(t)
	if st, body := jsonCall(t, "PUT", url+"/namespaces/default/eventhubs/orders", "", map[string]any{"properties": map[string]any{"partitionCount": 1}}); st != 201 {
		t.Fatalf("hub: %d %s", st, body)
	}
	outside := t.TempDir()
	secrets := filepath.Join(outside, "secrets.csv")
	if err := os.WriteFile(secrets, []byte("k,secret\nalice,hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := func(name, ref, out string) map[string]any {
		return map[string]any{"name": name, "query": "SELECT r.k, r.secret INTO loot FROM orders s JOIN secrets r ON s.k = r.k",
			"inputs":  []map[string]any{{"name": "orders", "namespace": "default", "hub": "orders"}, {"name": "secrets", "reference": ref}},
			"outputs": []map[string]any{{"name": "loot", "url": out}}}
	}
	st, body := jsonCall(t, "PUT", url+"/jobs/exfil", "", spec("exfil", secrets, "eventhub://default/orders"))
	if st != http.StatusForbidden || !strings.Contains(body, "Forbidden") || !strings.Contains(body, "is outside that directory") {
		t.Fatalf("anonymous exfil: %d %s", st, body)
	}
	written := filepath.Join(outside, "written-by-anon.jsonl")
	inside := filepath.Join(dataDir, job.FilesDir, "secrets.csv")
	if err := os.WriteFile(inside, []byte("k,secret\nalice,hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, body = jsonCall(t, "PUT", url+"/jobs/writer", "", spec("writer", inside, written))
	if st != http.StatusForbidden || !strings.Contains(body, "is outside that directory") {
		t.Fatalf("anonymous writer: %d %s", st, body)
	}
	if st, body := jsonCall(t, "POST", url+"/jobs/writer/start", "", map[string]any{}); st != http.StatusNotFound {
		t.Fatalf("the refused job exists: %d %s", st, body)
	}
	if _, err := os.Stat(written); err == nil {
		t.Fatal("the anonymous job wrote outside <data>")
	}
	if st, body := jsonCall(t, "PUT", url+"/jobs/writer", "", spec("writer", inside, filepath.Join(dataDir, job.FilesDir, "out.jsonl"))); st != 201 {
		t.Fatalf("anonymous job with files under <data>/job-files: %d %s", st, body)
	}
	if st, body := jsonCall(t, "PUT", url+"/jobs/exfil", admin, spec("exfil", secrets, written)); st != 201 {
		t.Fatalf("admin job: %d %s", st, body)
	}
}
