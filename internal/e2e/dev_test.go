package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/client"
)

// devProcess is one `tandem dev` process and what it printed.
type devProcess struct {
	t       *testing.T
	cmd     *exec.Cmd
	exited  chan struct{}
	ready   chan string
	stderr  string // file
	mu      sync.Mutex
	lines   []string
	pids    map[string]int // region → child pid, from the summary table
	Kafka   []string       // bootstrap list: east, west
	EastURL string
	WestURL string
	ConnStr string
}

var (
	devReadyRe   = regexp.MustCompile(`^tandem dev ready alias=tandem-dev bootstrap=(\S+),(\S+) east=(\S+) west=(\S+)$`)
	devRegionRe  = regexp.MustCompile(`^(east|west)\s+\S+\s+\S+\s+http://\S+\s+\S+\s+(\d+)\s+\S+$`) // … HTTP AMQP PID LOG
	devConnStrRe = regexp.MustCompile(`Endpoint=sb://tandem-dev/;SharedAccessKeyName=[^;\s]+;SharedAccessKey=[^;\s']+`)
)

// startDev runs `tandem dev` on free ports in dir and waits for its ready line.
func startDev(t *testing.T, dir string) *devProcess {
	t.Helper()
	d := &devProcess{t: t, exited: make(chan struct{}), ready: make(chan string, 1), pids: map[string]int{},
		stderr: filepath.Join(t.TempDir(), "dev-stderr")}
	d.cmd = exec.Command(tandemBin, "dev", "--dir", dir, "--kafka-port", "0", "--http-port", "0", "--amqp-port", "0")
	errf, err := os.Create(d.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	d.cmd.Stderr = errf
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			d.mu.Unlock()
			if devReadyRe.MatchString(sc.Text()) {
				d.ready <- sc.Text()
			}
		}
	}()
	go func() { <-scanned; d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(d.kill)

	select {
	case line := <-d.ready:
		d.parse(line)
	case <-d.exited:
		t.Fatalf("tandem dev exited before it was ready (%v):\n%s", d.cmd.ProcessState, d.output())
	case <-time.After(3 * time.Minute):
		t.Fatalf("tandem dev not ready after 3 minutes:\n%s", d.output())
	}
	return d
}

// parse reads the addresses from the ready line, the children's pids and the alias
// connection string from the summary before it.
func (d *devProcess) parse(ready string) {
	m := devReadyRe.FindStringSubmatch(ready)
	d.Kafka = []string{m[1], m[2]}
	d.EastURL, d.WestURL = "http://"+m[3], "http://"+m[4]
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.lines {
		if m := devRegionRe.FindStringSubmatch(l); m != nil {
			d.pids[m[1]], _ = strconv.Atoi(m[2])
		}
		if d.ConnStr == "" {
			d.ConnStr = devConnStrRe.FindString(l)
		}
	}
	if len(d.pids) != 2 || d.ConnStr == "" {
		d.t.Fatalf("tandem dev's summary lacks the regions' pids or the alias connection string:\n%s", strings.Join(d.lines, "\n"))
	}
}

func (d *devProcess) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	errb, _ := os.ReadFile(d.stderr)
	return "stdout:\n" + strings.Join(d.lines, "\n") + "\nstderr:\n" + string(errb)
}

// kill is the cleanup of a test that failed half-way: SIGKILL to tandem dev and to the
// children it reported, by pid.
func (d *devProcess) kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	d.t.Logf("tandem dev still running at the end of the test; killing it:\n%s", d.output())
	d.cmd.Process.Kill()
	for _, pid := range d.pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	<-d.exited
}

// TestDev runs `tandem dev`, produces through the alias connection string bootstrapped only
// at the secondary (west) region's Kafka address, consumes the records back the same way,
// checks that they were written on the primary (east), and stops it with SIGINT. What must
// hold: the alias sends clients of either region to the active one, no acknowledged record
// is missing or duplicated, and Ctrl-C stops both regions and exits 0.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	for _, f := range []string{"kcat.conf", "east.log", "west.log", "east/admin-key", "west/admin-key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("tandem dev did not leave %s: %v", f, err)
		}
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "kcat.conf"))
	for _, want := range []string{"bootstrap.servers=" + d.Kafka[0] + "," + d.Kafka[1], "security.protocol=SASL_PLAINTEXT",
		"sasl.mechanisms=PLAIN", "sasl.username=$ConnectionString", "sasl.password=" + d.ConnStr} {
		if !strings.Contains(string(conf), want+"\n") {
			t.Errorf("kcat.conf lacks %q:\n%s", want, conf)
		}
	}

	const n = 100
	sent := devProduce(ctx, t, d.Kafka[1], d.ConnStr, n)
	got := devConsume(ctx, t, d.Kafka[1], d.ConnStr, n)
	for v, at := range sent {
		if got[v] != at {
			t.Errorf("record %s was acknowledged at %+v but consumed at %+v", v, at, got[v])
		}
	}
	onEast := devReceiveAll(ctx, t, d.EastURL, filepath.Join(dir, "east", "admin-key"), "tandem-east", "sample", 4)
	if len(onEast) != n {
		t.Errorf("the primary (east) holds %d records of sample, want %d", len(onEast), n)
	}
	for v, at := range sent {
		if onEast[v] != at {
			t.Errorf("record %s was acknowledged at %+v but the primary has it at %+v", v, at, onEast[v])
		}
	}

	t.Logf("%d records produced and consumed through the alias at west's %s; east (%s) holds them", n, d.Kafka[1], d.EastURL)
	d.interrupt()
}

// interrupt sends SIGINT to tandem dev and checks it exits 0 with both children gone.
func (d *devProcess) interrupt() {
	t := d.t
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("tandem dev still running 60s after SIGINT:\n%s", d.output())
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("tandem dev exited with %d after SIGINT, want 0:\n%s", code, d.output())
	}
	d.checkGone()
}

// checkGone checks that both regions' processes are gone once tandem dev has exited.
func (d *devProcess) checkGone() {
	t := d.t
	deadline := time.Now().Add(30 * time.Second)
	for region, pid := range d.pids {
		for {
			err := syscall.Kill(pid, 0)
			if errors.Is(err, syscall.ESRCH) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("region %s (pid %d) still exists after tandem dev exited (kill -0: %v)", region, pid, err)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// devPlacement is where a record is: partition and offset.
type devPlacement struct {
	Partition int32
	Offset    int64
}

// devSASL is franz-go's SASL PLAIN with an Event Hubs connection string.
func devSASL(cs string) kgo.Opt {
	return kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: cs}.AsMechanism())
}

// devProduce produces n records to sample, bootstrapped at one address only, and returns
// where each was acknowledged, by value.
func devProduce(ctx context.Context, t *testing.T, bootstrap, connStr string, n int) map[string]devPlacement {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), devSASL(connStr), kgo.DefaultProduceTopic("sample"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(strconv.Itoa(i % 10)), Value: []byte(fmt.Sprintf("dev-%03d", i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing through the alias at %s: %v", bootstrap, err)
	}
	sent := map[string]devPlacement{}
	for _, r := range recs {
		sent[string(r.Value)] = devPlacement{r.Partition, r.Offset}
	}
	return sent
}

// devConsume reads sample from the start until it has want records, bootstrapped at one
// address only.
func devConsume(ctx context.Context, t *testing.T, bootstrap, connStr string, want int) map[string]devPlacement {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), devSASL(connStr), kgo.ConsumeTopics("sample"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]devPlacement{}
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records through the alias at %s before the deadline", len(got), want, bootstrap)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if _, dup := got[string(r.Value)]; dup {
				t.Errorf("record %s consumed twice", r.Value)
			}
			got[string(r.Value)] = devPlacement{r.Partition, r.Offset}
		})
	}
	return got
}

// devReceiveAll reads every event of ns/hub over HTTP with the node's admin key.
func devReceiveAll(ctx context.Context, t *testing.T, url, keyFile, ns, hub string, partitions int32) map[string]devPlacement {
	t.Helper()
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(url, client.WithAdminKey(string(key)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]devPlacement{}
	for p := range partitions {
		pos := client.Start
		for {
			res, err := c.Receive(ctx, ns, hub, p, client.ReceiveOptions{From: pos, Max: 1000})
			if err != nil {
				t.Fatalf("receiving %s/%s partition %d from %s: %v", ns, hub, p, url, err)
			}
			if len(res.Events) == 0 {
				break
			}
			for _, ev := range res.Events {
				out[string(ev.Body)] = devPlacement{ev.PartitionID, ev.Offset}
			}
			pos = client.AtOffset(res.NextOffset)
		}
	}
	return out
}

// TestDevKeepsTheOtherRegionWhenOneDies kills one region of `tandem dev` with SIGKILL after the
// setup: tandem dev must say which region died, print how to start it again, keep the other
// region running (a failover rehearsal needs it), and still stop cleanly on Ctrl-C.
func TestDevKeepsTheOtherRegionWhenOneDies(t *testing.T) {
	d := startDev(t, t.TempDir())
	if err := syscall.Kill(d.pids["west"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("region west (pid %d) exited (signal: killed)", d.pids["west"])
	deadline := time.Now().Add(60 * time.Second)
	for {
		errb, _ := os.ReadFile(d.stderr)
		if strings.Contains(string(errb), want) && strings.Contains(string(errb), "serve --region west") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tandem dev did not report west's death with a restart command:\n%s", d.output())
		}
		select {
		case <-d.exited:
			t.Fatalf("tandem dev ended when one region died:\n%s", d.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	// East still serves: a region's death is part of a failover rehearsal.
	if err := syscall.Kill(d.pids["east"], 0); err != nil {
		t.Fatalf("region east is gone after west died: %v", err)
	}
	d.interrupt()
}
