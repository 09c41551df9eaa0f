package job

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sink"
)

// anonymous is what an anonymous caller of `tandem serve --dev` creates jobs as (the test hub's
// namespace stands in for "default").
var anonymous = Creator{Confined: true, Namespace: "jobs-ns"}

// exfilSpec is the audit's job: reference data from a file, joined to a trigger stream and
// written to an output.
func exfilSpec(ref, out string) Spec {
	return Spec{Name: "exfil", Query: `SELECT r.k, r.secret INTO loot FROM readings s JOIN secrets r ON s.key = r.k`,
		Inputs:  []InputSpec{{Name: "readings", Namespace: "jobs-ns", Hub: "readings"}, {Name: "secrets", Reference: ref}},
		Outputs: []OutputSpec{{Name: "loot", URL: out}}}
}

func writeFile(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Audit M3: in --dev an anonymous caller's job read any file the server could read (a 0600
// secrets file, joined into an event hub) and wrote files anywhere. A confined job's files must
// resolve under <data>/job-files, and its event hubs must be in the caller's namespace; the
// admin still may use any path.
func TestAuditM3_ConfinedJobFilesStayUnderData(t *testing.T) {
	dir, b, m := startJobs(t)
	ctx := context.Background()
	if err := b.CreateHub(ctx, "jobs-ns", broker.HubSpec{Name: "loot", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	secrets := writeFile(t, filepath.Join(outside, "secrets.csv"), "k,secret\nalice,hunter2\nbob,s3cr3t\n")
	files := filepath.Join(dir, FilesDir)
	inside := writeFile(t, filepath.Join(files, "ref", "secrets.csv"), "k,secret\nalice,hunter2\n")
	if err := os.Symlink(secrets, filepath.Join(files, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(files, "outdir")); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name      string
		spec      Spec
		msg       string
		code      errcode.Code
		notExists string // a file that must not have been created
	}{
		{"reference outside", exfilSpec(secrets, "eventhub://jobs-ns/loot"), "is outside that directory", errcode.Forbidden, ""},
		{"reference through a link", exfilSpec(filepath.Join(files, "link.csv"), "eventhub://jobs-ns/loot"), "is outside that directory", errcode.Forbidden, ""},
		{"reference with ..", exfilSpec(files+"/ref/../../../"+filepath.Base(outside)+"/secrets.csv", "eventhub://jobs-ns/loot"), `".." path element`, errcode.Forbidden, ""},
		{"reference table outside", exfilSpec("sqlite://"+filepath.Join(outside, "ref.db")+"?table=t", "eventhub://jobs-ns/loot"), "is outside that directory", errcode.Forbidden, ""},
		{"jsonl output outside", exfilSpec(inside, filepath.Join(outside, "written-by-anon.jsonl")), "is outside that directory", errcode.Forbidden, filepath.Join(outside, "written-by-anon.jsonl")},
		{"file output through a linked dir", exfilSpec(inside, "file://"+filepath.Join(files, "outdir")+"/"), "is outside that directory", errcode.Forbidden, filepath.Join(outside, "loot.jsonl")},
		{"sqlite output outside", exfilSpec(inside, "sqlite://"+filepath.Join(outside, "out.db")), "is outside that directory", errcode.Forbidden, filepath.Join(outside, "out.db")},
		{"sqlite output relative", exfilSpec(inside, "sqlite://out.db"), "is outside that directory", errcode.Forbidden, ""},
		{"hub output of another namespace", exfilSpec(inside, "eventhub://other-ns/loot"), "only event hubs of namespace jobs-ns", errcode.Forbidden, ""},
		{"device reference", exfilSpec("/dev/zero", "eventhub://jobs-ns/loot"), "is outside that directory", errcode.Forbidden, ""},
	}
	for _, c := range refused {
		_, err := m.Create(ctx, c.spec, anonymous)
		if errcode.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.msg) ||
			(c.spec.Outputs[0].URL != "eventhub://other-ns/loot" && !strings.Contains(err.Error(), filepath.Join(dir, FilesDir))) {
			t.Errorf("%s: got %v (%s), want %s containing %q and the files directory", c.name, err, errcode.CodeOf(err), c.code, c.msg)
		}
		if c.notExists != "" {
			if _, err := os.Stat(c.notExists); err == nil {
				t.Errorf("%s: %s was created", c.name, c.notExists)
			}
		}
	}
	if len(m.List(Admin)) != 0 {
		t.Fatalf("refused jobs were stored: %+v", m.List(Admin))
	}

	// Files under <data>/job-files work for the anonymous caller: the job runs and writes there.
	out := filepath.Join(files, "out.db")
	spec := exfilSpec(inside, "sqlite://"+out)
	if _, err := m.Create(ctx, spec, anonymous); err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartJob(ctx, "exfil", "now", Admin); err != nil {
		t.Fatal(err)
	}
	waitJob(t, m, "exfil", Running, "")
	k := int32(0)
	if _, err := b.Send(ctx, "jobs-ns", "readings", []broker.Event{{Body: []byte(`{"key":"alice"}`)}}, broker.SendOptions{PartitionID: &k}); err != nil {
		t.Fatal(err)
	}
	rows := waitSinkURLRows(t, "sqlite://"+out, "loot", 1)
	if !strings.Contains(string(rows[0].Data), "hunter2") {
		t.Fatalf("row %s", rows[0].Data)
	}
	if _, err := m.StopJob(ctx, "exfil", Admin); err != nil {
		t.Fatal(err)
	}

	// A file swapped for a link to the outside after the job was created is refused when the
	// job starts: the job fails with the reason.
	if err := os.Remove(inside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secrets, inside); err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartJob(ctx, "exfil", "now", Admin); err != nil {
		t.Fatal(err)
	}
	waitJob(t, m, "exfil", Failed, "is outside that directory")

	// The admin may use any path.
	admin := exfilSpec(secrets, "eventhub://jobs-ns/loot")
	admin.Name = "admin-job"
	if _, err := m.Create(ctx, admin, Creator{}); err != nil {
		t.Fatalf("admin: %v", err)
	}
}

// Audit M3: /dev/zero as reference data crashed the node (out of memory). A reference file
// must be a regular file, refused before it is read, and at most the configured size.
func TestAuditM3_ReferenceDeviceAndSizeRefused(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	t.Cleanup(func() { b.Close() })
	setupHub(t, b)
	m, err := NewManager(Options{Broker: b, DataDir: dir, ReferenceMaxBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ctx := context.Background()
	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err := m.Create(ctx, exfilSpec("/dev/zero", "eventhub://jobs-ns/readings"), Creator{})
		if !errcode.Is(err, errcode.InvalidArgument) || !strings.Contains(err.Error(), "/dev/zero is not a regular file (it is a character device)") {
			t.Fatalf("/dev/zero: %v", err)
		}
	}
	big := writeFile(t, filepath.Join(dir, FilesDir, "big.csv"), "k,secret\n"+strings.Repeat("alice,hunter2\n", 100))
	_, err = m.Create(ctx, exfilSpec(big, "eventhub://jobs-ns/readings"), anonymous)
	if !errcode.Is(err, errcode.QuotaExceeded) || !strings.Contains(err.Error(), "is 1409 bytes, over the limit of 1000 bytes") ||
		!strings.Contains(err.Error(), "--job-reference-max-bytes") {
		t.Fatalf("big reference: %v", err)
	}
}

func waitJob(t *testing.T, m *Manager, name string, want State, errPart string) Info {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := m.Get(name, Admin)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status.State == want && strings.Contains(info.Status.Error, errPart) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (%s), want %s with an error containing %q", name, info.Status.State, info.Status.Error, want, errPart)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitSinkURLRows polls the sink of an output until it holds want rows. Opening a SQLite
// sink while the job creates its table can meet a busy database: it is retried.
func waitSinkURLRows(t *testing.T, url, output string, want int) []sink.Row {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	s, err := sink.Open(context.Background(), url, output)
	for err != nil && strings.Contains(err.Error(), "SQLITE_BUSY") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		s, err = sink.Open(context.Background(), url, output)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return waitSinkRows(t, s, want)
}
