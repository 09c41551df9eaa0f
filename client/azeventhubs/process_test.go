package tandemcheckpoints_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// tandemBin is the tandem executable built from this tree by buildTandem.
var tandemBin string

// binDir holds tandemBin; TestMain removes it.
var (
	binDir   string
	buildErr error
	building sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildTandem builds the tandem executable of this tree (../..) once per test run.
func buildTandem(t *testing.T) string {
	t.Helper()
	building.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "tandemcheckpoints-bin-"); buildErr != nil {
			return
		}
		tandemBin = filepath.Join(binDir, "tandem")
		build := exec.Command("go", "build", "-o", tandemBin, "./cmd/tandem")
		build.Dir = filepath.Join("..", "..") // the main module of this tree
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building tandem in ../..: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return tandemBin
}

// node is one `tandem serve --dev` process.
type node struct {
	t       *testing.T
	cmd     *exec.Cmd
	logPath string
	httpURL string
	amqp    string // host:port of the AMQP listener, "" when this tandem has none
	dir     string
	done    chan error // the result of cmd.Wait, once
	drained chan struct{}
	once    sync.Once
}

// startNode starts `tandem serve --dev` on data directory dir with free ports and waits for
// its ready line.
func startNode(t *testing.T, dir string) *node {
	t.Helper()
	buildTandem(t)
	args := []string{"serve", "--dev", "--data", dir, "--http-addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0"}
	if supportsFlag(t, "--amqp-addr") { // a free port rather than the fixed default 5672
		args = append(args, "--amqp-addr", "127.0.0.1:0")
	}
	logPath := filepath.Join(t.TempDir(), "tandem.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(tandemBin, args...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, cmd: cmd, logPath: logPath, dir: dir, done: make(chan error, 1), drained: make(chan struct{})}
	ready := make(chan string, 1)
	go func() { // owned by n: ends when the process closes its stdout; stop waits for it
		defer close(n.drained)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "tandem ready ") {
				select {
				case ready <- line:
				default:
				}
			}
		}
	}()
	go func() { <-n.drained; n.done <- cmd.Wait() }()
	t.Cleanup(n.stop)
	select {
	case line := <-ready:
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "http="); ok {
				n.httpURL = "http://" + v
			}
			if v, ok := strings.CutPrefix(f, "amqp="); ok {
				n.amqp = v
			}
		}
		if n.httpURL == "" {
			t.Fatalf("the ready line has no http= address: %q", line)
		}
	case err := <-n.done:
		n.done <- err
		t.Fatalf("tandem serve exited before it was ready (%v); its log:\n%s", err, n.log())
	case <-time.After(2 * time.Minute):
		t.Fatalf("tandem serve printed no ready line within 2 minutes; its log:\n%s", n.log())
	}
	return n
}

func (n *node) log() string {
	b, _ := os.ReadFile(n.logPath)
	return string(b)
}

// stop interrupts the process (a clean shutdown) and waits for it; it kills it after a
// minute. It is idempotent.
func (n *node) stop() { n.once.Do(n.stopOnce) }

func (n *node) stopOnce() {
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Logf("tandem serve exited with %v", err)
		}
	case <-time.After(time.Minute):
		_ = n.cmd.Process.Kill()
		<-n.done
		n.t.Errorf("tandem serve did not stop within a minute of SIGINT; killed. Its log:\n%s", n.log())
	}
}

// supportsFlag reports whether `tandem serve` has flag.
func supportsFlag(t *testing.T, flag string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, tandemBin, "serve", "--help").CombinedOutput()
	return strings.Contains(string(out), flag+" ")
}
