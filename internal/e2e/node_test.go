package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// tandemBin is the binary built once for the package's tests.
var tandemBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tandem-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// -tags lazyfs: the binary can lose unsynced writes at a kill when a test asks for it
	// (TANDEM_TEST_LAZY_WRITES=1, powerloss_test.go); otherwise it is the normal build.
	if tandemBin, err = nodeproc.BuildTandem(context.Background(), dir, "lazyfs"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one `tandem serve` process, supervised by nodeproc; restart replaces the process.
type node struct {
	t         *testing.T
	data      string
	args      []string // serve's flags; a test may change them before a restart
	spec      nodeproc.Spec
	proc      *nodeproc.Process
	KafkaAddr string
	HTTPAddr  string

	// With TLS (--tls-dev or --tls-cert): the TLS Kafka listener, "off" for none, and the
	// API's scheme, https.
	KafkaTLSAddr string
	Scheme       string
}

// startNode runs `tandem serve` on free ports with data in dir and waits for its ready line.
func startNode(t *testing.T, dir string, extra ...string) *node {
	t.Helper()
	return startSpec(t, nodeproc.Spec{DataDir: dir, Listen: nodeproc.Loopback(), Args: extra})
}

// startSpec runs the node spec describes (with the test's binary, and a log in a test
// directory) and waits for its ready line.
func startSpec(t *testing.T, spec nodeproc.Spec) *node {
	t.Helper()
	spec.Name, spec.Exe = "tandem serve", tandemBin
	n := &node{t: t, data: spec.DataDir, args: spec.Args, spec: spec}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *node) start() {
	n.t.Helper()
	if err := n.tryStart(); err != nil {
		n.t.Fatal(err)
	}
}

// tryStart is start that returns its failure instead of ending the test.
func (n *node) tryStart() error {
	n.t.Helper()
	spec := n.spec
	if n.proc != nil { // restart on the same ports so clients find it again
		spec = n.proc.RestartSpec()
	}
	spec.Args = n.args
	spec.Log = filepath.Join(n.t.TempDir(), "serve.log")
	p, err := nodeproc.Start(spec)
	if err != nil {
		return err
	}
	n.proc = p
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := p.WaitReady(ctx)
	if err != nil {
		return fmt.Errorf("tandem serve was not ready: %w\n%s", err, n.logs())
	}
	n.KafkaAddr, n.HTTPAddr, n.KafkaTLSAddr, n.Scheme = r.Kafka, r.HTTP, r.KafkaTLS, r.Scheme()
	return nil
}

// logs is the node's stdout and stderr.
func (n *node) logs() string { return n.proc.Logs() }

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (n *node) kill9() {
	if err := n.proc.Kill(context.Background()); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) restart() {
	n.t.Helper()
	n.start()
}

// stop stops the process gracefully, killing it after 20s.
func (n *node) stop() {
	if n.proc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n.proc.Stop(ctx)
}

// URL is the node's API, http://… or https://….
func (n *node) URL() string { return n.Scheme + "://" + n.HTTPAddr }

// cli runs a tandem CLI command against the node and returns its stdout.
func (n *node) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tandemBin, append([]string{"--server", n.URL(), "--data", n.data}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("tandem %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return string(out)
}
