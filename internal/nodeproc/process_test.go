package nodeproc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tandemBin is the tandem binary, built once for the package's tests.
var tandemBin string

func TestMain(m *testing.M) {
	if os.Getenv(supervisorEnv) != "" {
		os.Exit(runSupervisor())
	}
	dir, err := os.MkdirTemp("", "tandem-nodeproc-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if tandemBin, err = BuildTandem(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testSpec is a node on free loopback ports with its data and log in a test directory.
func testSpec(t *testing.T, args ...string) Spec {
	dir := t.TempDir()
	return Spec{Name: "node " + t.Name(), Exe: tandemBin, Args: args, DataDir: filepath.Join(dir, "data"),
		Listen: Loopback(), Log: filepath.Join(dir, "node.log")}
}

// start starts spec, waits for it to be ready and stops it when the test ends.
func start(t *testing.T, spec Spec) (*Process, Ready) {
	t.Helper()
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopNow(p) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := p.WaitReady(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Logs())
	}
	if again, ok := p.Ready(); !ok || again != r {
		t.Fatalf("WaitReady returned %+v but Ready says %+v, %v", r, again, ok)
	}
	return p, r
}

func stopNow(p *Process) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p.Stop(ctx)
}

// healthz asks the node's API for /healthz within timeout.
func healthz(r Ready, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(r.URL() + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz: HTTP %d", resp.StatusCode)
	}
	return nil
}

// kill -9 of a real node, then a restart on the ports it had, which serves again; then a
// graceful stop, which serve takes as a request (status 0).
func TestKillNineRestartStop(t *testing.T) {
	spec := testSpec(t, "--region", "east")
	p, first := start(t, spec)
	if first.Region != "east" || first.TLS || strings.HasSuffix(first.Kafka, ":0") || strings.HasSuffix(first.HTTP, ":0") {
		t.Fatalf("ready line %+v", first)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := healthz(first, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	if err := p.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if !p.HasExited() || p.StoppedOnRequest() || p.ExitCode() != -1 {
		t.Fatalf("after kill -9: exited %v, stopped on request %v, code %d", p.HasExited(), p.StoppedOnRequest(), p.ExitCode())
	}
	ee := p.ExitError()
	if !strings.Contains(ee.Error(), "signal: killed") || !strings.Contains(ee.Error(), spec.Log) || ee.Pid != p.Pid() {
		t.Errorf("exit error %q", ee)
	}
	if err := p.Kill(ctx); err != nil {
		t.Errorf("killing a node that is gone: %v", err)
	}
	if err := p.Pause(); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("pausing a node that is gone: %v, want os.ErrProcessDone", err)
	}

	q, err := p.Restart()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopNow(q) })
	second, err := q.WaitReady(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, q.Logs())
	}
	if second.Kafka != first.Kafka || second.HTTP != first.HTTP {
		t.Fatalf("restarted on %+v, want the ports of %+v", second, first)
	}
	if q.Pid() == p.Pid() {
		t.Fatalf("restart kept pid %d", q.Pid())
	}
	if err := healthz(second, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Restart(); err == nil {
		t.Fatal("restarting a node that still runs was accepted")
	}

	if killed := q.Stop(ctx); killed {
		t.Fatalf("serve had to be killed on SIGTERM:\n%s", q.Logs())
	}
	if !q.StoppedOnRequest() || q.ExitCode() != 0 {
		t.Fatalf("after a graceful stop: %v, code %d\n%s", q.ExitErr(), q.ExitCode(), q.Logs())
	}
}

// procState is the state letter of /proc/<pid>/stat ("T" for stopped).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return ""
}

// SIGSTOP freezes a node: it does not answer; SIGCONT thaws it. A paused node still stops
// gracefully.
func TestPauseResume(t *testing.T) {
	p, r := start(t, testSpec(t))
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to be stopped", func() bool { return procState(p.Pid()) == "T" })
	if err := healthz(r, 300*time.Millisecond); err == nil {
		t.Fatal("a paused node answered /healthz")
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resumed node to answer /healthz", func() bool { return healthz(r, 5*time.Second) == nil })

	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to be stopped", func() bool { return procState(p.Pid()) == "T" })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if killed := p.Stop(ctx); killed || !p.StoppedOnRequest() {
		t.Fatalf("a paused node did not stop on request (killed %v, %v)\n%s", killed, p.ExitErr(), p.Logs())
	}
}

// A node that exits before it is ready: WaitReady says so, with the end of its log.
func TestExitBeforeReady(t *testing.T) {
	spec := testSpec(t, "--no-such-flag")
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.WaitReady(context.Background())
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("WaitReady = %v, want an *ExitError", err)
	}
	if ee.Err == nil || !strings.Contains(err.Error(), "no-such-flag") || !strings.Contains(err.Error(), "it ends with:") {
		t.Fatalf("exit error %q", err)
	}
	if _, ok := p.Ready(); ok {
		t.Fatal("a node that never printed a ready line is ready")
	}
	if p.RestartSpec().Listen != spec.Listen {
		t.Fatal("a node that never was ready restarts on other addresses than its spec's")
	}
}

// WaitReady ends with its context, with the context's cause.
func TestWaitReadyContext(t *testing.T) {
	// The wrapper replaces itself with a sleep that never prints a ready line.
	p, err := Start(Spec{Name: "sleeper", Exe: tandemBin, Wrap: []string{"/bin/sh", "-c", "exec sleep 60"},
		Log: filepath.Join(t.TempDir(), "log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopNow(p) })
	cause := errors.New("gave up")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if _, err := p.WaitReady(ctx); err != cause {
		t.Fatalf("WaitReady = %v, want the cause", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
