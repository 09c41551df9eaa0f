package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/nodeproc"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

// startTLSNode runs a node with --tls-dev: its Kafka TLS listener and HTTPS API on free ports,
// with the dev CA in <dir>/tls. The plaintext Kafka listener is on a free port too, or off
// with plaintextKafka "off".
func startTLSNode(t *testing.T, plaintextKafka string, extra ...string) (*node, string) {
	t.Helper()
	dir := t.TempDir()
	n := startSpec(t, nodeproc.Spec{DataDir: dir, Args: append([]string{"--tls-dev"}, extra...),
		Listen: nodeproc.Listen{Kafka: plaintextKafka, KafkaTLS: "127.0.0.1:0", HTTP: "127.0.0.1:0", AMQP: "127.0.0.1:0", AMQPS: "127.0.0.1:0"}})
	if n.Scheme != "https" || n.KafkaTLSAddr == "" || n.KafkaTLSAddr == "off" {
		t.Fatalf("a node with --tls-dev has API scheme %q and TLS Kafka listener %q", n.Scheme, n.KafkaTLSAddr)
	}
	return n, filepath.Join(dir, "tls", "ca.pem")
}

// shopOrders creates namespace shop-tls with hub orders (3 partitions) and returns the
// namespace's connection string.
func shopOrders(t *testing.T, n *node) string {
	t.Helper()
	n.cli(t, "", "namespace", "create", "shop-tls")
	n.cli(t, "", "hub", "create", "shop-tls/orders", "--partitions", "3")
	return strings.TrimSpace(n.cli(t, "", "connection-string", "shop-tls"))
}

// sslArgs are kcat's SASL_SSL settings with the CA file, as the node prints them.
func sslArgs(connString, caFile string) []string {
	return []string{"-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + caFile, "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=$ConnectionString", "-X", "sasl.password=" + connString}
}

// rootsFrom is a pool of the certificates in a PEM file, built as a franz-go user would.
func rootsFrom(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return pool
}

// tlsKafkaClient is a franz-go client over SASL_SSL that trusts roots.
func tlsKafkaClient(t *testing.T, bootstrap, connString string, roots *x509.CertPool, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap), devSASL(connString),
		kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceConsume produces n records to topic and reads them back from the start.
func produceConsume(ctx context.Context, t *testing.T, bootstrap, connString, topic string, roots *x509.CertPool, n int) {
	t.Helper()
	p := tlsKafkaClient(t, bootstrap, connString, roots, kgo.DefaultProduceTopic(topic), kgo.RecordDeliveryTimeout(60*time.Second))
	want := map[string]bool{}
	var recs []*kgo.Record
	for i := range n {
		v := fmt.Sprintf("tls-%03d", i)
		want[v] = true
		recs = append(recs, &kgo.Record{Key: []byte(v), Value: []byte(v)})
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing over SASL_SSL at %s: %v", bootstrap, err)
	}
	c := tlsKafkaClient(t, bootstrap, connString, roots, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for got := 0; got < n; {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records over SASL_SSL at %s before the deadline", got, n, bootstrap)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if !want[string(r.Value)] {
				t.Errorf("consumed %q: not produced, or twice", r.Value)
			}
			delete(want, string(r.Value))
			got++
		})
	}
}

// TestTLS_KcatSASLSSLWithDevCA: a node with --tls-dev and no plaintext Kafka listener
// (--kafka-addr "") serves kcat over SASL_SSL with ssl.ca.location the dev CA: metadata,
// keyed produce, consume and group consume.
func TestTLS_KcatSASLSSLWithDevCA(t *testing.T) {
	n, ca := startTLSNode(t, "off") // --kafka-addr ""
	if n.KafkaAddr != "off" {
		t.Fatalf(`with --kafka-addr "" the ready line says kafka=%s, want off`, n.KafkaAddr)
	}
	cs := shopOrders(t, n)
	tn := *n
	tn.KafkaAddr = n.KafkaTLSAddr
	exercise(t, &tn, sslArgs(cs, ca))
}

// TestTLS_FranzGoSASLSSLWithDevCA: franz-go with kgo.DialTLSConfig trusting the dev CA
// produces and consumes over the TLS listener, beside a plaintext one.
func TestTLS_FranzGoSASLSSLWithDevCA(t *testing.T) {
	n, ca := startTLSNode(t, "127.0.0.1:0")
	cs := shopOrders(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	produceConsume(ctx, t, n.KafkaTLSAddr, cs, "orders", rootsFrom(t, ca), 50)
}

// TestTLS_FranzGoWrongCARefused: the same franz-go client trusting another CA is refused
// with x509's unknown authority, sends nothing, and the node keeps serving the right client.
func TestTLS_FranzGoWrongCARefused(t *testing.T) {
	n, ca := startTLSNode(t, "127.0.0.1:0")
	cs := shopOrders(t, n)
	other, err := tlsconf.EnsureDev(t.TempDir(), tlsconf.DevHosts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	wrong := tlsKafkaClient(t, n.KafkaTLSAddr, cs, rootsFrom(t, other.CAFile), kgo.DefaultProduceTopic("orders"),
		kgo.RecordDeliveryTimeout(5*time.Second))
	pingCtx, pingCancel := context.WithTimeout(ctx, 30*time.Second)
	err = wrong.Ping(pingCtx)
	pingCancel()
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("franz-go trusting another CA: %v, want x509.UnknownAuthorityError", err)
	}
	t.Logf("refused as it should be: %v", err)
	if err := wrong.ProduceSync(ctx, &kgo.Record{Value: []byte("must-not-land")}).FirstErr(); err == nil {
		t.Fatal("a produce trusting another CA succeeded")
	}
	// The node still serves a client that trusts its CA, and nothing of the refused one landed.
	produceConsume(ctx, t, n.KafkaTLSAddr, cs, "orders", rootsFrom(t, ca), 5)
	got := kcat(t, "", append([]string{"-b", n.KafkaTLSAddr, "-C", "-t", "orders", "-o", "beginning", "-e", "-q", "-f", "%s\n"},
		sslArgs(cs, ca)...)...)
	if strings.Contains(got, "must-not-land") || len(strings.Fields(got)) != 5 {
		t.Fatalf("orders holds %q, want the 5 records of the trusting client only", got)
	}
}

// runCLI runs the CLI with env added and returns its stdout, stderr and error.
func runCLI(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tandemBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// TestTLS_CLIOverHTTPSNeedsTheCA: the CLI reaches an HTTPS API with --ca, TANDEM_CA or the
// ca.pem of --data; without them, or with another CA, it fails saying what to do; plain
// http:// to the HTTPS listener is refused. After a restart the node presents the same CA.
func TestTLS_CLIOverHTTPSNeedsTheCA(t *testing.T) {
	n, ca := startTLSNode(t, "127.0.0.1:0")
	key, err := os.ReadFile(filepath.Join(n.data, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir() // a --data without tls/ca.pem
	base := []string{"--server", n.URL(), "--data", empty, "--admin-key", strings.TrimSpace(string(key))}
	other, err := tlsconf.EnsureDev(t.TempDir(), tlsconf.DevHosts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string // in stderr
	}{
		{"no CA", nil, nil, []string{"certificate signed by unknown authority", "--ca FILE", "TANDEM_CA"}},
		{"another CA", nil, []string{"--ca", other.CAFile}, []string{"unknown authority", "not signed by the CA in " + other.CAFile}},
		{"a missing CA file", nil, []string{"--ca", filepath.Join(empty, "nope.pem")}, []string{"--ca", "reading the CA file"}},
	} {
		_, stderr, err := runCLI(t, tc.env, append(append(base, tc.args...), "namespace", "create", "shop-tls")...)
		if err == nil {
			t.Fatalf("%s: the CLI reached the HTTPS API", tc.name)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: the CLI's error lacks %q:\n%s", tc.name, w, stderr)
			}
		}
	}
	plain := append([]string{"--server", "http://" + n.HTTPAddr}, base[2:]...)
	if _, stderr, err := runCLI(t, nil, append(plain, "namespace", "list")...); err == nil || !strings.Contains(stderr, "HTTPS server") {
		t.Errorf("http:// to the HTTPS listener: %v\n%s", err, stderr)
	}

	if _, stderr, err := runCLI(t, nil, append(base, "--ca", ca, "namespace", "create", "shop-tls")...); err != nil {
		t.Fatalf("the CLI with --ca: %v\n%s", err, stderr)
	}
	if _, stderr, err := runCLI(t, []string{"TANDEM_CA=" + ca}, append(base, "hub", "create", "shop-tls/orders")...); err != nil {
		t.Fatalf("the CLI with TANDEM_CA: %v\n%s", err, stderr)
	}
	if out := n.cli(t, "", "hub", "list", "shop-tls"); !strings.Contains(out, "orders") { // --data finds tls/ca.pem
		t.Fatalf("hub list through --data's CA:\n%s", out)
	}

	before, _ := os.ReadFile(ca)
	n.stop()
	n.restart()
	after, _ := os.ReadFile(ca)
	if !bytes.Equal(before, after) {
		t.Fatal("the dev CA changed on a restart; clients that trusted it are cut off")
	}
	if _, stderr, err := runCLI(t, nil, append(base, "--ca", ca, "hub", "show", "shop-tls/orders")...); err != nil {
		t.Fatalf("the CLI with --ca after a restart: %v\n%s", err, stderr)
	}
}

var devTLSReadyRe = regexp.MustCompile(`^tandem dev ready alias=tandem-dev bootstrap=(\S+),(\S+) east=(\S+) west=(\S+) ca=(\S+)$`)

// TestTLS_DevTwoRegionsOverTLS: `tandem dev --tls` runs both regions with one dev CA: the
// pairing and the sample hub's replication go over HTTPS between them (the setup waits for
// both), franz-go produces through the alias bootstrapped at the secondary over SASL_SSL, and
// kcat with the kcat.conf it wrote (SASL_SSL, ssl.ca.location) reads the records back.
func TestTLS_DevTwoRegionsOverTLS(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(tandemBin, "dev", "--tls", "--dir", dir, "--kafka-port", "0", "--http-port", "0", "--amqp-port", "0")
	errPath := filepath.Join(t.TempDir(), "dev-stderr")
	errf, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stderr = errf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // tandem dev stops both regions
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	var summary []string
	var m []string
	deadline := time.After(3 * time.Minute)
	for m == nil {
		select {
		case l, ok := <-lines:
			if !ok {
				b, _ := os.ReadFile(errPath)
				t.Fatalf("tandem dev --tls exited before it was ready:\n%s\n%s", strings.Join(summary, "\n"), b)
			}
			summary = append(summary, l)
			m = devTLSReadyRe.FindStringSubmatch(l)
		case <-deadline:
			b, _ := os.ReadFile(errPath)
			t.Fatalf("tandem dev --tls not ready after 3 minutes:\n%s\n%s", strings.Join(summary, "\n"), b)
		}
	}
	all := strings.Join(summary, "\n")
	east, west, ca := m[1], m[2], m[5]
	if ca != filepath.Join(dir, "tls", "ca.pem") {
		t.Errorf("ready line ca=%s, want %s", ca, filepath.Join(dir, "tls", "ca.pem"))
	}
	cs := devConnStrRe.FindString(all)
	for _, want := range []string{"security.protocol=SASL_SSL", "ssl.ca.location=" + ca, "https://" + m[3], "https://" + m[4], "--ca " + ca} {
		if !strings.Contains(all, want) {
			t.Errorf("the summary of tandem dev --tls lacks %q:\n%s", want, all)
		}
	}
	if cs == "" {
		t.Fatalf("no alias connection string in the summary:\n%s", all)
	}

	// The regions know each other at their https endpoints, and the CLI reaches them with --ca.
	show, stderr, err := runCLI(t, nil, "--server", "https://"+m[3], "--ca", ca, "--data", filepath.Join(dir, "east"),
		"alias", "show", "tandem-east/tandem-dev")
	if err != nil || !strings.Contains(show, "https://"+m[4]) || !strings.Contains(show, "Succeeded") {
		t.Errorf("alias show on east: %v\n%s%s", err, show, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	produceConsume(ctx, t, west, cs, "sample", rootsFrom(t, ca), 20) // the alias sends clients to east
	conf := filepath.Join(dir, "kcat.conf")
	got := kcat(t, "", "-F", conf, "-C", "-t", "sample", "-o", "beginning", "-e", "-q", "-f", "%s\n")
	n := 0
	for _, l := range strings.Split(got, "\n") { // kcat -F says on stderr which file it reads
		if strings.HasPrefix(l, "tls-") {
			n++
		}
	}
	if n != 20 {
		t.Fatalf("kcat -F %s read %d records of sample, want 20:\n%s", conf, n, got)
	}
	t.Logf("20 records through the alias over SASL_SSL (east %s, west %s)", east, west)
}

// TestTLS_GeoDRPeerVerifiesPartnerCertificate: a region's geo-DR client verifies the partner's
// https endpoint. Without --tls-ca it trusts the system roots only, so pairing with a region
// that presents a dev certificate fails; with --tls-ca naming that region's CA it succeeds.
func TestTLS_GeoDRPeerVerifiesPartnerCertificate(t *testing.T) {
	west, westCA := startTLSNode(t, "127.0.0.1:0", "--region", "west")
	westKey, err := os.ReadFile(filepath.Join(west.data, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	east := startNode(t, t.TempDir(), "--region", "east")
	pair := func(eastNS, westNS string) (string, error) {
		west.cli(t, "", "namespace", "create", westNS)
		east.cli(t, "", "namespace", "create", eastNS)
		out, stderr, err := runCLI(t, nil, "--server", east.URL(), "--data", east.data, "alias", "create", eastNS+"/geo-tls",
			"--partner-endpoint", west.URL(), "--partner-namespace", westNS, "--partner-admin-key", strings.TrimSpace(string(westKey)),
			"--wait", "--timeout", "90s")
		return out + stderr, err
	}
	out, err := pair("geo-east-a", "geo-west-a")
	if err == nil {
		t.Fatalf("east paired with west's https endpoint without trusting west's CA:\n%s", out)
	}
	t.Logf("refused as it should be: %s", out)

	east.args = append(east.args, "--tls-ca", westCA)
	east.stop()
	east.restart()
	if out, err := pair("geo-east-b", "geo-west-b"); err != nil || !strings.Contains(out, "Succeeded") {
		t.Fatalf("pairing with --tls-ca naming west's CA: %v\n%s", err, out)
	}
}
