package interop

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/client"
)

// tandemBin is the tandem executable under test: TANDEM_BIN, or built by TestMain.
var tandemBin string

// tmpRoot holds the binary and the shared node's data; removed after the run unless
// TANDEM_INTEROP_KEEP=1.
var tmpRoot string

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	var err error
	if tmpRoot, err = os.MkdirTemp("", "tandem-interop-"); err != nil {
		return 1, err
	}
	defer func() {
		if os.Getenv("TANDEM_INTEROP_KEEP") == "1" {
			fmt.Fprintln(os.Stderr, "interop: kept", tmpRoot)
			return
		}
		os.RemoveAll(tmpRoot)
	}()
	tandemBin = os.Getenv("TANDEM_BIN")
	if tandemBin == "" {
		tandemBin = filepath.Join(tmpRoot, "tandem")
		build := exec.Command("go", "build", "-o", tandemBin, "./cmd/tandem")
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			return 1, fmt.Errorf("building tandem from %s: %v\n%s", build.Dir, err, out)
		}
	}
	code := m.Run()
	if shared.n != nil {
		shared.n.stop()
	}
	return code, nil
}

// node is one `tandem serve --dev` process on free loopback ports.
type node struct {
	dir, log string
	args     []string // extra serve flags

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	ready  readyLine

	adminKey string
	api      *client.Client
}

// readyLine is what serve's ready line says; amqps and tls with TLS (the API is then HTTPS).
type readyLine struct {
	kafka, http, amqp, amqps string
	tls                      bool
}

var (
	readyRe = regexp.MustCompile(`^tandem ready region=\S+ kafka=(\S+) http=(\S+) amqp=(\S+)`)
	amqpsRe = regexp.MustCompile(` amqps=(\S+) .* api=https`)
)

// startNode starts `tandem serve --dev` with data in dir on free ports (or, restarting, on the
// ports of r) and waits for its ready line.
func startNode(dir string, r readyLine, args ...string) (*node, error) {
	n := &node{dir: dir, log: dir + ".log", args: args}
	if err := n.start(r); err != nil {
		return nil, err
	}
	key, err := os.ReadFile(filepath.Join(dir, "admin-key"))
	if err != nil {
		n.stop()
		return nil, fmt.Errorf("reading the admin key: %w", err)
	}
	n.adminKey = strings.TrimSpace(string(key))
	opts, scheme := []client.Option{client.WithAdminKey(n.adminKey)}, "http://"
	if n.ready.tls {
		tc, err := n.tlsConfig()
		if err != nil {
			n.stop()
			return nil, err
		}
		opts, scheme = append(opts, client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: tc}})), "https://"
	}
	if n.api, err = client.New(scheme+n.ready.http, opts...); err != nil {
		n.stop()
		return nil, err
	}
	return n, nil
}

// tlsConfig trusts the node's dev CA (--tls-dev: <data>/tls/ca.pem).
func (n *node) tlsConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(filepath.Join(n.dir, "tls", "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("reading the dev CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("the dev CA file holds no certificate")
	}
	return &tls.Config{RootCAs: pool}, nil
}

func (n *node) start(r readyLine) error {
	or := func(a string) string {
		if a == "" {
			return "127.0.0.1:0"
		}
		return a
	}
	argv := append([]string{"serve", "--dev", "--region", "interop", "--data", n.dir,
		"--kafka-addr", or(r.kafka), "--http-addr", or(r.http), "--amqp-addr", or(r.amqp), "--log-level", "warn"}, n.args...)
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(tandemBin, argv...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", tandemBin, err)
	}
	readyc := make(chan readyLine, 1)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := readyRe.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				r := readyLine{kafka: m[1], http: m[2], amqp: m[3]}
				if m := amqpsRe.FindStringSubmatch(sc.Text()); m != nil {
					r.amqps, r.tls = m[1], true
				}
				readyc <- r
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	select {
	case r := <-readyc:
		n.mu.Lock()
		n.cmd, n.exited, n.ready = cmd, exited, r
		n.mu.Unlock()
		return nil
	case <-exited:
		return fmt.Errorf("tandem serve exited before its ready line; log %s:\n%s", n.log, n.tail(30))
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("tandem serve printed no ready line within 90s; log %s:\n%s", n.log, n.tail(30))
	}
}

// stop ends the node with SIGTERM (SIGKILL after 30 s) and waits for it.
func (n *node) stop() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// restart stops the node and starts it again on its data directory and ports.
func (n *node) restart() error {
	n.stop()
	return n.start(n.addrs())
}

func (n *node) addrs() readyLine {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ready
}

// tail is the last lines of the node's log.
func (n *node) tail(lines int) string {
	b, _ := os.ReadFile(n.log)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// logOnFailure prints the node's log tail when t fails.
func (n *node) logOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", n.log, n.tail(40))
		}
	})
}

// shared is the node most tests use, with namespace sharedNS; started by the first test
// that needs it and stopped by TestMain.
var shared struct {
	once sync.Once
	n    *node
	keys client.Keys
	err  error
}

const (
	sharedNS = "interop"
	rootRule = "RootManageSharedAccessKey"
)

// env is a test's view of a node: its namespace, key and the SDK connection string.
type env struct {
	n       *node
	ns      string
	keyName string
	key     string
}

// sharedEnv is the shared node and its namespace.
func sharedEnv(t testing.TB) env {
	t.Helper()
	shared.once.Do(func() {
		dir := filepath.Join(tmpRoot, "shared")
		if shared.n, shared.err = startNode(dir, readyLine{}, strings.Fields(os.Getenv("TANDEM_INTEROP_SERVE_ARGS"))...); shared.err != nil {
			return
		}
		shared.keys, shared.err = setupNamespace(shared.n, sharedNS)
	})
	if shared.err != nil {
		t.Fatalf("shared node: %v", shared.err)
	}
	shared.n.logOnFailure(t)
	return env{n: shared.n, ns: sharedNS, keyName: shared.keys.KeyName, key: shared.keys.PrimaryKey}
}

// ownEnv is a node of the test's own (for restarts), with namespace sharedNS.
func ownEnv(t testing.TB) env {
	t.Helper()
	dir := filepath.Join(tmpRoot, "own-"+hubName(t))
	n, err := startNode(dir, readyLine{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	n.logOnFailure(t)
	keys, err := setupNamespace(n, sharedNS)
	if err != nil {
		t.Fatal(err)
	}
	return env{n: n, ns: sharedNS, keyName: keys.KeyName, key: keys.PrimaryKey}
}

// setupNamespace creates namespace ns and returns its root rule's keys.
func setupNamespace(n *node, ns string) (client.Keys, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := n.api.CreateNamespace(ctx, ns, client.NamespaceOptions{}); err != nil {
		return client.Keys{}, fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return n.api.ListKeys(ctx, ns, "", rootRule)
}

// connString is the SDKs' connection string for the node's AMQP listener in the emulator's
// form, with the namespace's root key.
func (e env) connString() string {
	return emulatorString(e.n.addrs().amqp, e.keyName, e.key)
}

func emulatorString(addr, keyName, key string) string {
	return fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=%s;SharedAccessKey=%s;UseDevelopmentEmulator=true", addr, keyName, key)
}

var hubSeq atomic.Int64

// hubName is a hub name made from the test's name, unique in the run.
func hubName(t testing.TB) string {
	name := strings.ToLower(t.Name())
	name = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(name, "-")
	name = strings.Trim(name, "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("%s-%d", strings.Trim(name, "-"), hubSeq.Add(1))
}

// newHub creates an event hub with parts partitions in the env's namespace.
func (e env) newHub(t testing.TB, parts int32) string {
	t.Helper()
	name := hubName(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.n.api.CreateHub(ctx, e.ns, name, client.HubOptions{Partitions: parts}); err != nil {
		t.Fatalf("creating hub %s: %v", name, err)
	}
	return name
}

// within is a context for one step of a test, generous for a loaded 2-core machine.
func within(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// isDeadline reports whether err is a context deadline (a receive that found nothing).
func isDeadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded)
}

// metrics reads the node's /metrics (open with --dev): sample name with labels → value.
func (n *node) metrics(t testing.TB) map[string]float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(within(t, time.Minute), http.MethodGet, "http://"+n.addrs().http+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("reading /metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out[line[:i]] = v
			}
		}
	}
	return out
}
