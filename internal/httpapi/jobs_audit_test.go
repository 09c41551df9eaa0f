package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/job"
)

// lockedBuffer is a log destination the HTTP handlers write to concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ordersHub creates the dev namespace's hub "orders", the jobs' input.
func ordersHub(t *testing.T, url string) {
	t.Helper()
	if st, body := jsonCall(t, "PUT", url+"/namespaces/default/eventhubs/orders", "", map[string]any{"properties": map[string]any{"partitionCount": 1}}); st != 201 {
		t.Fatalf("hub: %d %s", st, body)
	}
}

// sinkJob is a job reading orders into one output at url, with an optional reference input.
func sinkJob(name, out, ref string) map[string]any {
	spec := map[string]any{"name": name, "query": "SELECT k INTO out FROM orders",
		"inputs":  []map[string]any{{"name": "orders", "namespace": "default", "hub": "orders"}},
		"outputs": []map[string]any{{"name": "out", "url": out}}}
	if ref != "" {
		spec["query"] = "SELECT s.k INTO out FROM orders s JOIN r ON s.k = r.k"
		spec["inputs"] = append(spec["inputs"].([]map[string]any), map[string]any{"name": "r", "reference": ref})
	}
	return spec
}

// waitJob polls GET /jobs/{name} until ok accepts the body, and returns it.
func waitJob(t *testing.T, url, authz, name string, ok func(state, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, body := jsonCall(t, "GET", url+"/jobs/"+name, authz, nil)
		var info struct {
			Status struct {
				State string `json:"state"`
			} `json:"status"`
		}
		if st == 200 && json.Unmarshal([]byte(body), &info) == nil && ok(info.Status.State, body) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: gave up waiting; last answer %d %s", name, st, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Audit M5 (secrets at rest, as they leave the node) and issue 11 item 7: a job definition's
// database passwords never leave the node. The API's answers (PUT, GET /jobs, GET /jobs/{name},
// start, stop), the job's status error while its PostgreSQL output is unreachable, the errors
// that quote a sink URL and the API's log lines show them as ***; job.json keeps the real value
// (0600). A PUT that sends back the redacted URL is refused, so the stored password is never
// replaced by ***.
func TestAuditM5_JobPasswordsRedacted(t *testing.T) {
	logs := &lockedBuffer{}
	url, dataDir, admin, _ := jobsNodeLogging(t, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ordersHub(t, url)
	const pw1, pw2 = "Sup3r-Secret-1", "An0ther-Secret"
	var answers []string // every answer that left the node
	call := func(method, path string, body any) (int, string) {
		t.Helper()
		st, got := jsonCall(t, method, url+path, admin, body)
		answers = append(answers, got)
		return st, got
	}

	// Port 1 on loopback refuses connections: the output stays unreachable.
	userinfo := "postgres://app:" + pw1 + "@127.0.0.1:1/sales?table=T&sslmode=disable&connect_timeout=2"
	if st, body := call("PUT", "/jobs/pg", sinkJob("pg", userinfo, "")); st != 201 || !strings.Contains(body, "postgres://app:***@127.0.0.1:1/sales?table=T") {
		t.Fatalf("create pg: %d %s", st, body)
	}
	param := "postgres://app@127.0.0.1:1/sales?password=" + pw2 + "&table=T&sslmode=disable"
	if st, body := call("PUT", "/jobs/pgparam", sinkJob("pgparam", param, "")); st != 201 || !strings.Contains(body, "password=***&table=T") {
		t.Fatalf("create pgparam: %d %s", st, body)
	}
	if st, body := call("GET", "/jobs", nil); st != 200 || !strings.Contains(body, "app:***@127.0.0.1:1") || !strings.Contains(body, "password=***") {
		t.Fatalf("list: %d %s", st, body)
	}

	// Errors that quote a URL: an unsupported scheme, and a reference table that cannot be read.
	st, body := call("PUT", "/jobs/bad", sinkJob("bad", "mysql://app:"+pw1+"@db.example/sales", ""))
	if st != http.StatusBadRequest || !strings.Contains(body, "mysql://app:***@db.example/sales") {
		t.Fatalf("unsupported scheme: %d %s", st, body)
	}
	ref := "postgres://app:" + pw2 + "@127.0.0.1:1/sales?table=ref&sslmode=disable&connect_timeout=2"
	if st, body := call("PUT", "/jobs/badref", sinkJob("badref", filepath.Join(dataDir, job.FilesDir, "o.jsonl"), ref)); st < 400 {
		t.Fatalf("unreachable reference table: %d %s", st, body)
	}

	// Running, the output is unreachable: the status says why, without the password.
	if st, body := call("POST", "/jobs/pg/start", map[string]any{}); st != 200 {
		t.Fatalf("start: %d %s", st, body)
	}
	answers = append(answers, waitJob(t, url, admin, "pg", func(state, body string) bool {
		return state == "Degraded" && strings.Contains(body, "output out")
	}))
	if st, body := call("POST", "/jobs/pg/stop", nil); st != 200 {
		t.Fatalf("stop: %d %s", st, body)
	}

	// Sending back what GET shows: refused, for a new name and for the job itself.
	st, body = call("GET", "/jobs/pg", nil)
	var shown struct {
		Spec map[string]any `json:"spec"`
	}
	if st != 200 || json.Unmarshal([]byte(body), &shown) != nil {
		t.Fatalf("get: %d %s", st, body)
	}
	for _, name := range []string{"pg-copy", "pg"} {
		shown.Spec["name"] = name
		st, body := call("PUT", "/jobs/"+name, shown.Spec)
		if st != http.StatusBadRequest || !strings.Contains(body, "password is ***") || !strings.Contains(body, "real password") {
			t.Fatalf("PUT %s with the redacted URL: %d %s", name, st, body)
		}
	}
	shown.Spec["name"] = "pgparam-copy"
	shown.Spec["outputs"] = []map[string]any{{"name": "out", "url": "postgres://app@127.0.0.1:1/sales?password=***&table=T"}}
	if st, body := call("PUT", "/jobs/pgparam-copy", shown.Spec); st != http.StatusBadRequest || !strings.Contains(body, "password is ***") {
		t.Fatalf("PUT with password=***: %d %s", st, body)
	}

	for i, a := range answers {
		if strings.Contains(a, pw1) || strings.Contains(a, pw2) {
			t.Errorf("answer %d shows a password: %s", i, a)
		}
	}
	if l := logs.String(); strings.Contains(l, pw1) || strings.Contains(l, pw2) || !strings.Contains(l, "app:***@db.example") {
		t.Errorf("the API's log lines show a password, or do not show the refused request:\n%s", l)
	}

	// At rest the real value is kept, private to the node's user.
	path := filepath.Join(dataDir, "jobs", "pg", "job.json")
	stored, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), "app:"+pw1+"@127.0.0.1:1") {
		t.Fatalf("job.json lost the password:\n%s", stored)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("job.json: %v %v, want mode 0600", fi.Mode(), err)
	}
}

// Audit M3 and issue 11 item 5 ("--dev stays local"): in --dev an anonymous caller sees and
// manages only the jobs created anonymously. A job created with the admin key reads as absent
// to it (404) for GET, list, start, stop and delete, and its name cannot be taken over by a
// PUT; the admin still sees and manages every job.
func TestAuditM3_AnonymousDevSeesOnlyItsJobs(t *testing.T) {
	url, dataDir, admin, _ := jobsNode(t)
	ordersHub(t, url)
	outside := filepath.Join(t.TempDir(), "admin.jsonl")
	if st, body := jsonCall(t, "PUT", url+"/jobs/adminjob", admin, sinkJob("adminjob", outside, "")); st != 201 {
		t.Fatalf("admin create: %d %s", st, body)
	}
	inside := filepath.Join(dataDir, job.FilesDir, "anon.jsonl")
	if st, body := jsonCall(t, "PUT", url+"/jobs/anonjob", "", sinkJob("anonjob", inside, "")); st != 201 {
		t.Fatalf("anonymous create: %d %s", st, body)
	}

	st, body := jsonCall(t, "GET", url+"/jobs", "", nil)
	if st != 200 || !strings.Contains(body, `"anonjob"`) || strings.Contains(body, "adminjob") || strings.Contains(body, outside) {
		t.Fatalf("anonymous list: %d %s", st, body)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/jobs/adminjob"}, {"GET", "/jobs/ADMINJOB"}, {"POST", "/jobs/adminjob/start"},
		{"POST", "/jobs/adminjob/stop"}, {"DELETE", "/jobs/adminjob"},
	} {
		var in any
		if c.method == "POST" {
			in = map[string]any{}
		}
		st, body := jsonCall(t, c.method, url+c.path, "", in)
		if st != http.StatusNotFound || !strings.Contains(body, "does not exist") {
			t.Fatalf("anonymous %s %s: %d %s", c.method, c.path, st, body)
		}
	}
	st, body = jsonCall(t, "PUT", url+"/jobs/adminjob", "", sinkJob("adminjob", inside, ""))
	if st != http.StatusConflict || !strings.Contains(body, "is taken; pick another name") {
		t.Fatalf("anonymous PUT over the admin's job: %d %s", st, body)
	}

	// The admin's job is untouched; the admin sees both jobs and manages the anonymous one.
	st, body = jsonCall(t, "GET", url+"/jobs/adminjob", admin, nil)
	if st != 200 || !strings.Contains(body, `"Created"`) || !strings.Contains(body, outside) {
		t.Fatalf("admin get: %d %s", st, body)
	}
	if st, body := jsonCall(t, "GET", url+"/jobs", admin, nil); st != 200 || !strings.Contains(body, "adminjob") || !strings.Contains(body, "anonjob") {
		t.Fatalf("admin list: %d %s", st, body)
	}
	if st, body := jsonCall(t, "GET", url+"/jobs/anonjob", admin, nil); st != 200 {
		t.Fatalf("admin get anonjob: %d %s", st, body)
	}

	// The anonymous caller manages its own job.
	if st, body := jsonCall(t, "POST", url+"/jobs/anonjob/start", "", map[string]any{}); st != 200 {
		t.Fatalf("anonymous start: %d %s", st, body)
	}
	waitJob(t, url, "", "anonjob", func(state, _ string) bool { return state == "Running" })
	if st, body := jsonCall(t, "POST", url+"/jobs/anonjob/stop", "", map[string]any{}); st != 200 {
		t.Fatalf("anonymous stop: %d %s", st, body)
	}
	if st, body := jsonCall(t, "DELETE", url+"/jobs/anonjob", "", nil); st != 200 {
		t.Fatalf("anonymous delete: %d %s", st, body)
	}
	if st, body := jsonCall(t, "DELETE", url+"/jobs/adminjob", admin, nil); st != 200 {
		t.Fatalf("admin delete: %d %s", st, body)
	}
}

// Audit M3 (a dev node must not be a way to reach other hosts): a confined job's PostgreSQL
// outputs and reference tables may connect only to loopback (127.0.0.0/8, ::1, localhost) or a
// Unix socket under <data>/job-files. Every other host, fallback host, driver default and
// file-reading parameter is refused at create with 403 naming the rule, before any connection;
// the admin's jobs may connect anywhere; and the rule is checked again at start.
func TestAuditM3_ConfinedJobPostgresLoopbackOnly(t *testing.T) {
	url, dataDir, admin, _ := jobsNode(t)
	ordersHub(t, url)
	files := filepath.Join(dataDir, job.FilesDir)
	const pw = "Pg-Pass-1234"
	pg := func(rest string) string { return "postgres://app:" + pw + "@" + rest }
	jsonl := filepath.Join(files, "o.jsonl")
	for _, c := range []struct{ what, out, ref, why string }{
		{"remote host", pg("10.1.2.3:5432/sales?table=T"), "", "connects to host 10.1.2.3, which is not a loopback address"},
		{"host name", pg("db.example.com/sales?table=T"), "", "connects to host db.example.com"},
		{"host parameter", pg("127.0.0.1/sales?table=T&host=db.example.com"), "", "connects to host db.example.com"},
		{"fallback host", pg("127.0.0.1:5432,10.9.9.9:5432/sales?table=T"), "", "connects to host 10.9.9.9"},
		{"driver default socket", "postgres://app:" + pw + "@/sales?table=T", "", "(the driver's default when the URL names no host)"},
		{"socket outside job-files", pg("/sales?table=T&host=/var/run/postgresql"), "", "connects through the Unix socket /var/run/postgresql/.s.PGSQL.5432"},
		{"file parameter", pg("127.0.0.1/sales?table=T&sslrootcert=/etc/passwd"), "", "has the parameter sslrootcert, which makes the driver read a local file"},
		{"service file", pg("127.0.0.1/sales?table=T&servicefile=/etc/passwd&service=x"), "", "which makes the driver read a local file"},
		{"remote reference table", jsonl, pg("192.0.2.1:5432/sales?table=ref&connect_timeout=30"), "reference input r: postgres://app:***@192.0.2.1:5432"},
	} {
		st, body := jsonCall(t, "PUT", url+"/jobs/pg", "", sinkJob("pg", c.out, c.ref))
		if st != http.StatusForbidden || !strings.Contains(body, "Forbidden") || !strings.Contains(body, c.why) ||
			!strings.Contains(body, "connects to PostgreSQL only on this machine") || strings.Contains(body, pw) {
			t.Errorf("%s: %d %s", c.what, st, body)
		}
	}
	if st, body := jsonCall(t, "GET", url+"/jobs", "", nil); st != 200 || strings.Contains(body, `"pg"`) {
		t.Fatalf("a refused job was stored: %d %s", st, body)
	}

	// Loopback and a socket under job-files are allowed (creating does not connect).
	for i, out := range []string{
		pg("127.0.0.1:5432/sales?table=T"), pg("127.8.9.10/sales?table=T"), pg("[::1]:5432/sales?table=T"),
		pg("localhost/sales?table=T"), pg("/sales?table=T&host=" + files),
	} {
		name := "ok" + string(rune('a'+i))
		if st, body := jsonCall(t, "PUT", url+"/jobs/"+name, "", sinkJob(name, out, "")); st != 201 {
			t.Errorf("%s: %d %s", out, st, body)
		}
	}
	if st, body := jsonCall(t, "PUT", url+"/jobs/adminpg", admin, sinkJob("adminpg", pg("10.1.2.3:5432/sales?table=T"), "")); st != 201 {
		t.Fatalf("admin job to a remote host: %d %s", st, body)
	}

	// Checked again at start: the host comes from PGHOST, which changed since the job was created.
	t.Setenv("PGHOST", "127.0.0.1")
	if st, body := jsonCall(t, "PUT", url+"/jobs/pgenv", "", sinkJob("pgenv", "postgres://app:"+pw+"@/sales?table=T", "")); st != 201 {
		t.Fatalf("create with PGHOST on loopback: %d %s", st, body)
	}
	t.Setenv("PGHOST", "10.9.9.9")
	if st, body := jsonCall(t, "POST", url+"/jobs/pgenv/start", "", map[string]any{}); st != 200 {
		t.Fatalf("start: %d %s", st, body)
	}
	body := waitJob(t, url, "", "pgenv", func(state, _ string) bool { return state == "Failed" })
	if !strings.Contains(body, "connects to host 10.9.9.9, which is not a loopback address") || strings.Contains(body, pw) {
		t.Fatalf("start with PGHOST moved off loopback: %s", body)
	}
}
