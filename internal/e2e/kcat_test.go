package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// kcat runs kcat with args and stdin, failing the test on error. CI installs kcat through
// scripts/test; elsewhere a missing kcat skips, saying how to install it.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed; scripts/test installs it with apt-get")
		}
		t.Skip("kcat is not installed; run scripts/test or apt-get install kcat")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func saslArgs(connString string) []string {
	return []string{"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=$ConnectionString", "-X", "sasl.password=" + connString}
}

// exercise runs metadata, keyed produce, consume and group consume with kcat.
func exercise(t *testing.T, n *node, extra []string) {
	base := append([]string{"-b", n.KafkaAddr}, extra...)
	meta := kcat(t, "", append(base, "-L", "-t", "orders")...)
	if !strings.Contains(meta, `topic "orders" with 3 partitions`) {
		t.Fatalf("kcat -L does not show orders with 3 partitions:\n%s", meta)
	}
	in := "k1:alpha\nk2:beta\nk1:gamma\nk3:delta\n"
	kcat(t, in, append(base, "-P", "-t", "orders", "-K:")...)
	lines := strings.Fields(kcat(t, "", append(base, "-C", "-t", "orders", "-o", "beginning", "-e", "-q", "-f", "%k=%s@%p\n")...))
	if len(lines) != 4 {
		t.Fatalf("consumed %d events, want 4: %v", len(lines), lines)
	}
	partOf := map[string]string{}
	for _, l := range lines {
		kv, p, _ := strings.Cut(l, "@")
		k, _, _ := strings.Cut(kv, "=")
		if q, ok := partOf[k]; ok && q != p {
			t.Errorf("key %s in partitions %s and %s", k, q, p)
		}
		partOf[k] = p
	}
	group := strings.Fields(kcat(t, "", append(base, "-G", "kcat-group", "-o", "beginning", "-e", "-q", "-f", "%s\n", "orders")...))
	sort.Strings(group)
	if strings.Join(group, ",") != "alpha,beta,delta,gamma" {
		t.Fatalf("group consume got %v", group)
	}
}

func TestKcatDevMode(t *testing.T) {
	n := startNode(t, t.TempDir(), "--dev")
	n.cli(t, "", "hub", "create", "default/orders", "--partitions", "3")
	exercise(t, n, nil)

	// The events kcat sent are counted per hub, and /healthz answers.
	resp, err := http.Get("http://" + n.HTTPAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tandem_incoming_events_total{eventhub="orders",namespace="default"} 4`,
		`tandem_log_size_bytes{eventhub="orders",namespace="default"}`, `tandem_outgoing_events_total{eventhub="orders",namespace="default"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if resp, err := http.Get("http://" + n.HTTPAddr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz: %v %v", resp, err)
	}
}

func TestKcatSASLConnectionString(t *testing.T) {
	n := startNode(t, t.TempDir())
	n.cli(t, "", "namespace", "create", "shop-eu1")
	n.cli(t, "", "hub", "create", "shop-eu1/orders", "--partitions", "3")
	cs := strings.TrimSpace(n.cli(t, "", "connection-string", "shop-eu1"))
	if !strings.HasPrefix(cs, "Endpoint=sb://shop-eu1") {
		t.Fatalf("connection string %q", cs)
	}
	exercise(t, n, saslArgs(cs))
}
