package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tandemBin is the binary built once for the package's tests.
var tandemBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tandem-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tandemBin = filepath.Join(dir, "tandem")
	// -tags lazyfs: the binary can lose unsynced writes at a kill when a test asks for it
	// (TANDEM_TEST_LAZY_WRITES=1, powerloss_test.go); otherwise it is the normal build.
	build := exec.Command("go", "build", "-tags", "lazyfs", "-o", tandemBin, "github.com/tandem-streaming/tandem/cmd/tandem")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tandem:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one `tandem serve` process.
type node struct {
	t         *testing.T
	data      string
	args      []string
	cmd       *exec.Cmd
	exited    chan struct{}
	KafkaAddr string
	HTTPAddr  string
	stderr    *os.File

	// With TLS (--tls-dev or --tls-cert): the TLS Kafka listener, "off" for none, and the
	// API's scheme, https.
	KafkaTLSAddr string
	Scheme       string
}

// readyLine is serve's ready line; " kafka-tls=… api=https" follows with TLS.
var readyLine = regexp.MustCompile(`^tandem ready region=\S+ kafka=(\S+) http=(\S+)(?: kafka-tls=(\S+) api=(https))?$`)

// startNode runs `tandem serve` on free ports with data in dir and waits for its ready line.
func startNode(t *testing.T, dir string, extra ...string) *node {
	t.Helper()
	n := &node{t: t, data: dir, args: extra}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *node) start() {
	n.t.Helper()
	kafkaAddr, httpAddr := "127.0.0.1:0", "127.0.0.1:0"
	if n.HTTPAddr != "" { // restart on the same ports so clients find it again
		kafkaAddr, httpAddr = n.KafkaAddr, n.HTTPAddr
		if kafkaAddr == "off" {
			kafkaAddr = ""
		}
	}
	args := append([]string{"serve", "--data", n.data, "--kafka-addr", kafkaAddr, "--http-addr", httpAddr}, n.args...)
	if n.KafkaTLSAddr != "" && n.KafkaTLSAddr != "off" {
		args = append(args, "--kafka-tls-addr", n.KafkaTLSAddr)
	}
	cmd := exec.Command(tandemBin, args...)
	stderr, err := os.CreateTemp(n.t.TempDir(), "stderr-")
	if err != nil {
		n.t.Fatal(err)
	}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.cmd, n.stderr, n.exited = cmd, stderr, make(chan struct{})
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(n.exited) }()
	select {
	case m := <-ready:
		n.KafkaAddr, n.HTTPAddr, n.KafkaTLSAddr, n.Scheme = m[1], m[2], m[3], m[4]
		if n.Scheme == "" {
			n.Scheme = "http"
		}
	case <-n.exited:
		n.t.Fatalf("tandem serve exited before it was ready:\n%s", n.logs())
	case <-time.After(60 * time.Second):
		n.t.Fatalf("tandem serve not ready after 60s:\n%s", n.logs())
	}
}

func (n *node) logs() string {
	b, _ := os.ReadFile(n.stderr.Name())
	return string(b)
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (n *node) kill9() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

func (n *node) restart() {
	n.t.Helper()
	n.start()
}

func (n *node) stop() {
	if n.cmd == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
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
