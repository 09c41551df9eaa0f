package e2e

// Regression tests of the HTTP listener against a real `tandem serve` process, for the
// December 2026 security audit: H2 (an EMFILE on the listener must not stop the node), L1
// (/metrics behind the admin key or on its own listener) and M3 (the Host check of --dev).

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// get sends a GET to the node with an optional Authorization and Host, and returns the
// status and body.
func get(t *testing.T, url, authz, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func adminKey(t *testing.T, n *node) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(n.data, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	return "TandemKey " + strings.TrimSpace(string(key))
}

func TestAuditH2_HTTPListenerSurvivesEMFILE(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	// No connection limit, so the file descriptor limit is what the listener runs into.
	n := startNode(t, t.TempDir(), "--http-max-conns", "0")
	pid := n.proc.Pid()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot count the node's descriptors: %v", err)
	}
	limit := len(fds) + 16
	if out, err := exec.Command("prlimit", "--pid", strconv.Itoa(pid), fmt.Sprintf("--nofile=%d:%d", limit, limit)).CombinedOutput(); err != nil {
		t.Skipf("prlimit: %v %s", err, out)
	}
	// The audit's attack at a small scale: more idle connections than descriptors left.
	var conns []net.Conn
	for range 3 * 16 {
		c, err := net.Dial("tcp", n.HTTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(n.logs(), "too many open files") {
		select {
		case <-n.proc.Exited():
			t.Fatalf("the node exited when its HTTP listener ran out of descriptors:\n%s", n.logs())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the listener never ran into the descriptor limit %d:\n%s", limit, n.logs())
		}
	}
	for _, line := range strings.Split(n.logs(), "\n") {
		if strings.Contains(line, "too many open files") {
			t.Logf("the node logged: %s", line)
			break
		}
	}
	for _, c := range conns {
		c.Close()
	}
	for {
		select {
		case <-n.proc.Exited():
			t.Fatalf("the node exited after running out of descriptors:\n%s", n.logs())
		default:
		}
		if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + n.HTTPAddr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node does not serve /healthz after the connections closed:\n%s", n.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestAuditL1_MetricsNeedAdminKeyOrOwnListener(t *testing.T) {
	n := startNode(t, t.TempDir())
	metrics := "http://" + n.HTTPAddr + "/metrics"
	if status, body := get(t, metrics, "", ""); status != 401 || strings.Contains(body, "tandem_") {
		t.Fatalf("anonymous /metrics: HTTP %d %.200s", status, body)
	}
	if status, body := get(t, metrics, adminKey(t, n), ""); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics with the admin key: HTTP %d %.200s", status, body)
	}

	// --metrics-addr: metrics move to their own listener, open unless --metrics-auth=admin.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	m := startNode(t, t.TempDir(), "--metrics-addr", addr)
	if status, _ := get(t, "http://"+m.HTTPAddr+"/metrics", adminKey(t, m), ""); status != 404 {
		t.Fatalf("/metrics on the API listener with --metrics-addr: HTTP %d, want 404", status)
	}
	if status, body := get(t, "http://"+addr+"/metrics", "", ""); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics on --metrics-addr: HTTP %d %.200s", status, body)
	}
}

func TestAuditM3_DevNodeChecksHost(t *testing.T) {
	n := startNode(t, t.TempDir(), "--dev")
	_, port, _ := net.SplitHostPort(n.HTTPAddr)
	if status, body := get(t, "http://"+n.HTTPAddr+"/metrics", "", "evil.example:"+port); status != 403 || !strings.Contains(body, "not a name of this node") {
		t.Fatalf("dev node, Host evil.example: HTTP %d %.200s", status, body)
	}
	for _, host := range []string{"localhost:" + port, n.HTTPAddr} {
		if status, body := get(t, "http://"+n.HTTPAddr+"/metrics", "", host); status != 200 {
			t.Fatalf("dev node, Host %s: HTTP %d %.200s", host, status, body)
		}
	}
	// The CLI still works against the dev node.
	n.cli(t, "", "hub", "create", "default/orders", "--partitions", "1")
	n.cli(t, `{"body":"x"}`+"\n", "send", "default/orders")
	if out := n.cli(t, "", "receive", "default/orders", "--partition", "0", "--max", "1"); !strings.Contains(out, "x") {
		t.Fatalf("receive printed %q", out)
	}
}
