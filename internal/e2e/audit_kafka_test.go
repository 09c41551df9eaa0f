package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
)

// startUnderFdLimit runs `tandem serve` in a shell that lowers RLIMIT_NOFILE (soft and
// hard, so the Go runtime cannot raise it again) to nofile first.
func startUnderFdLimit(t *testing.T, nofile int, extra ...string) *node {
	t.Helper()
	n := startSpec(t, nodeproc.Spec{Wrap: []string{"/bin/sh", "-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(nofile)},
		DataDir: t.TempDir(), Listen: nodeproc.Loopback(), Args: extra})
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", n.proc.Pid()))
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
	case <-n.proc.Exited():
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
	n.proc.Terminate()
	select {
	case <-n.proc.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the node did not stop on SIGTERM")
	}
	if code := n.proc.ExitCode(); code != 0 {
		t.Errorf("the node exited with %d after SIGTERM, want 0:\n%s", code, n.logs())
	}
}
