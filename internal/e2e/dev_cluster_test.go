package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/client"
)

var (
	devClusterReadyRe = regexp.MustCompile(`^tandem dev ready alias=tandem-dev bootstrap=(\S+) east=(\S+) west=(\S+) nodes=3$`)
	// A row of the summary: REGION NAMESPACE NODE ZONE KAFKA HTTP PID LOG.
	devNodeRe = regexp.MustCompile(`^(east|west)\s+\S+\s+([123])\s+([abc])\s+\S+\s+http://\S+\s+\S+\s+(\d+)\s+\S+$`) // … HTTP AMQP PID LOG
)

// startDevCluster runs `tandem dev --nodes 3` on free ports in dir and waits for its ready
// line; the returned devProcess knows all six nodes' pids (pids["east-1"] …).
func startDevCluster(t *testing.T, dir string) *devProcess {
	t.Helper()
	return startDevClusterAttempt(t, dir, 1)
}

// startDevClusterAttempt is one start of tandem dev --nodes 3. A port it picked as free can be
// taken by another test's process before its node binds it ("address already in use"): then it
// starts again in an emptied dir, up to 3 times.
func startDevClusterAttempt(t *testing.T, dir string, attempt int) *devProcess {
	t.Helper()
	d := &devProcess{t: t, exited: make(chan struct{}), ready: make(chan string, 1), pids: map[string]int{},
		stderr: filepath.Join(t.TempDir(), "dev-stderr")}
	d.cmd = exec.Command(tandemBin, "dev", "--dir", dir, "--nodes", "3", "--kafka-port", "0", "--http-port", "0", "--raft-port", "0", "--amqp-port", "0")
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
			if devClusterReadyRe.MatchString(sc.Text()) {
				d.ready <- sc.Text()
			}
		}
	}()
	go func() { <-scanned; d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(d.kill)

	select {
	case line := <-d.ready:
		m := devClusterReadyRe.FindStringSubmatch(line)
		d.Kafka = strings.Split(m[1], ",")
		d.EastURL, d.WestURL = "http://"+m[2], "http://"+m[3]
	case <-d.exited:
		if out := d.output(); attempt < 3 && strings.Contains(out, "address already in use") {
			t.Logf("tandem dev --nodes 3 found a port taken (attempt %d); starting it again:\n%s", attempt, out)
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			return startDevClusterAttempt(t, dir, attempt+1)
		}
		t.Fatalf("tandem dev --nodes 3 exited before it was ready (%v):\n%s", d.cmd.ProcessState, d.output())
	case <-time.After(4 * time.Minute):
		t.Fatalf("tandem dev --nodes 3 not ready after 4 minutes:\n%s", d.output())
	}
	d.mu.Lock()
	for _, l := range d.lines {
		if m := devNodeRe.FindStringSubmatch(l); m != nil {
			d.pids[m[1]+"-"+m[2]], _ = strconv.Atoi(m[4])
		}
		if d.ConnStr == "" {
			d.ConnStr = devConnStrRe.FindString(l)
		}
	}
	d.mu.Unlock()
	if len(d.pids) != 6 || len(d.Kafka) != 6 || d.ConnStr == "" {
		t.Fatalf("tandem dev --nodes 3's summary lacks six nodes' pids, six brokers or the alias connection string:\n%s", d.output())
	}
	return d
}

// clusterStatus runs `tandem cluster status -o json` against url with the region's admin key
// (read from the region's directory) and returns the status and whether it exited 0.
func clusterStatus(t *testing.T, url, regionDir string) (client.ClusterStatus, bool, string) {
	t.Helper()
	out, err := exec.Command(tandemBin, "--server", url, "--data", regionDir, "-o", "json", "cluster", "status").Output()
	var st client.ClusterStatus
	if jerr := json.Unmarshal(out, &st); jerr != nil {
		t.Fatalf("tandem cluster status -o json printed what is not a status (%v, exit %v):\n%s", jerr, err, out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return st, err == nil, string(out)
}

// TestDevCluster runs `tandem dev --nodes 3`: two regions of three processes each (zones a, b,
// c). What must hold: tandem cluster status reports each region HEALTHY (every node reachable
// and answering, a metadata leader, no under-replicated or leaderless partition) and exits 0
// then; records produced with franz-go through the alias at one node of the primary region are
// consumed back, at another, where they were acknowledged; the regions file lists every node;
// Ctrl-C stops all six nodes.
func TestDevCluster(t *testing.T) {
	dir := t.TempDir()
	d := startDevCluster(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	for _, f := range []string{"kcat.conf", "east/admin-key", "east/cluster-secret", "west/admin-key", "west/cluster-secret",
		"east/node-1.log", "west/node-3.log", "east/node-2"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("tandem dev --nodes 3 did not leave %s: %v", f, err)
		} else if strings.HasSuffix(f, "-key") || strings.HasSuffix(f, "-secret") {
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", f, st.Mode().Perm())
			}
		}
	}

	for _, r := range []struct{ name, url string }{{"east", d.EastURL}, {"west", d.WestURL}} {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			st, healthy, out := clusterStatus(t, r.url, filepath.Join(dir, r.name))
			if healthy {
				if probs := st.Problems(); len(probs) > 0 || st.Region != r.name || len(st.Nodes) != 3 || st.Partitions.Total != 4 {
					t.Fatalf("region %s: cluster status exited 0 but reports %v:\n%s", r.name, probs, out)
				}
				zones := ""
				for _, n := range st.Nodes {
					zones += n.Zone
				}
				if zones != "abc" {
					t.Errorf("region %s: zones %q, want abc", r.name, zones)
				}
				t.Logf("region %s healthy: metadata leader %d, term %d", r.name, st.MetadataLeader, st.Metadata.Term)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("region %s not HEALTHY within 2 minutes; last status:\n%s\n%s", r.name, out, d.output())
			}
			time.Sleep(time.Second)
		}
	}

	// Through the alias, bootstrapped at one node of the primary (east) and consumed at
	// another: Metadata lists all three and sends each partition to its leader. (Bootstrapping
	// at the secondary's nodes does not reach the primary's leaders yet in a cluster.)
	const n = 100
	sent := devProduce(ctx, t, d.Kafka[0], d.ConnStr, n)
	got := devConsume(ctx, t, d.Kafka[2], d.ConnStr, n)
	for v, at := range sent {
		if got[v] != at {
			t.Errorf("record %s was acknowledged at %+v but consumed at %+v", v, at, got[v])
		}
	}

	var rf struct {
		Regions []struct {
			Name  string `json:"name"`
			Nodes []struct {
				Zone   string `json:"zone"`
				Server string `json:"server"`
			} `json:"nodes"`
		} `json:"regions"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "regions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rf); err != nil || len(rf.Regions) != 2 || len(rf.Regions[0].Nodes) != 3 || len(rf.Regions[1].Nodes) != 3 {
		t.Errorf("regions.json does not list three nodes per region (%v):\n%s", err, data)
	}
	t.Logf("%d records produced through the alias at %s and consumed at %s", n, d.Kafka[0], d.Kafka[2])
	d.interrupt()
}
