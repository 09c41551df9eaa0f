package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startUnderFdLimit runs `tandem serve` in a shell that lowers RLIMIT_NOFILE (soft and
// hard, so the Go runtime cannot raise it again) to nofile first.
func startUnderFdLimit(t *testing.T, nofile int, extra ...string) *node {
	t.Helper()
	n := &node{t: t, data: t.TempDir()}
	args := []string{"-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(nofile), tandemBin, "serve",
		"--data", n.data, "--kafka-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	cmd := exec.Command("/bin/sh", append(args, extra...)...)
	stderr, err := os.CreateTemp(t.TempDir(), "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd, n.stderr, n.exited = cmd, stderr, make(chan struct{})
	t.Cleanup(n.stop)
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
		n.KafkaAddr, n.HTTPAddr = m[1], m[2]
	case <-n.exited:
		t.Fatalf("tandem serve exited before it was ready:\n%s", n.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("tandem serve not ready after 60s:\n%s", n.logs())
	}
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`Max open files\s+` + strconv.Itoa(nofile) + `\s+` + strconv.Itoa(nofile)).Match(limits) {
		t.Fatalf("the node does not run with RLIMIT_NOFILE %d:\n%s", nofile, limits)
	}
	return n
}

// metricValue reads one series from the node's /metrics, or 0 when absent.
func metricValue(t *testing.T, n *node, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr + "/metrics")
	if err != nil {
		return 0 // the HTTP listener may be out of descriptors too
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// TestAuditH2_FdExhaustionDoesNotStopTheNode is the audit's H2 attack at small scale: the
// node runs with 256 descriptors and a client opens 400 idle unauthenticated Kafka
// connections. Before the fix the first EMFILE from accept ended the process. Now the
// accept error is logged and retried, the authentication deadline closes the idle
// connections, and the node serves a franz-go client again, all without a restart.
func TestAuditH2_FdExhaustionDoesNotStopTheNode(t *testing.T) {
	n := startUnderFdLimit(t, 256, "--dev", "--kafka-auth-timeout", "2s")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.DefaultProduceTopic("fd"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "fd"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for i := 0; i < 400; i++ {
		c, err := net.DialTimeout("tcp", n.KafkaAddr, 10*time.Second)
		if err != nil {
			break // the listen backlog is full: enough
		}
		idle = append(idle, c)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(n.logs(), "accepting a Kafka connection failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no accept error logged with %d connections and 256 descriptors:\n%s", len(idle), n.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(n.logs(), "too many open files") {
		t.Errorf("the accept error does not say what failed:\n%s", n.logs())
	}

	// The deadline closes every idle connection, those accepted late included.
	for i, c := range idle {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("idle unauthenticated connection %d of %d still open after 60s", i, len(idle))
			}
		}
	}
	select {
	case <-n.exited:
		t.Fatalf("the node exited:\n%s", n.logs())
	default:
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("the node does not serve after the descriptors are free: %v\n%s", err, n.logs())
	}
	if v := metricValue(t, n, "tandem_kafka_accept_errors_total"); v < 1 {
		t.Errorf("tandem_kafka_accept_errors_total = %v, want at least 1", v)
	}
	if v := metricValue(t, n, `tandem_kafka_connections_closed_total{reason="auth_timeout"}`); v < float64(len(idle))/2 {
		t.Errorf(`auth_timeout closes = %v for %d idle connections`, v, len(idle))
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the node did not stop on SIGTERM")
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the node exited with %d after SIGTERM, want 0:\n%s", code, n.logs())
	}
}
